"""A live run (`summit run`): the composition root (`orchestrator.system`) on the system clock, with
the journal on disk and the real platforms with real credentials.

Restart-safe: the journal lives at `<state dir>/<event id>.sqlite`; a second start with the same
schedule skips what was done, catches up on what was missed, and the adapters find the broadcasts
they created before (they are keyed by the plan's action ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.clock import Clock, SystemClock
from orchestrator.engine.view import RunSnapshot
from orchestrator.outputs import PlatformOutputs
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.schedule.model import Schedule
from orchestrator.system import SystemSettings, build_system
from orchestrator.web.auth import AccessOptions


class AppSettings(BaseSettings):
    """Where a live run keeps its state (env prefix `SUMMIT_`)."""

    model_config = SettingsConfigDict(env_prefix="SUMMIT_", extra="ignore")

    state_dir: Path = Field(Path("state"), description="the journal of each event")
    recordings_dir: Path = Field(Path("recordings"), description="file destinations")
    media_dir: Path = Field(Path("media"), description="clips named by the schedules")
    secrets_file: Path | None = Field(None, description="credentials file (see config/secrets.example.yaml)")


async def run_live(
    schedule: Schedule,
    settings: AppSettings,
    *,
    clock: Clock | None = None,
    only: set[str] | None = None,
    dashboard_port: int | None = None,
    access: AccessOptions | None = None,
) -> RunSnapshot:
    """Run the event on the real clock until its last action; returns the run's final snapshot."""
    credentials = CredentialStore(settings.secrets_file) if settings.secrets_file else CredentialStore.from_env()
    system_settings = SystemSettings(
        journal_path=settings.state_dir / f"{schedule.event.id}.sqlite",
        recordings_dir=settings.recordings_dir,
        media_dir=settings.media_dir,
        only=frozenset(only or ()),
    )
    async with build_system(schedule, clock or SystemClock(), PlatformOutputs(credentials), system_settings) as system:
        if dashboard_port is not None:
            print(f"dashboard: {await system.serve_dashboard(dashboard_port, access=access)}", flush=True)
        return await system.run()


def summary(snapshot: RunSnapshot) -> dict[str, Any]:
    return {
        "actions": len(snapshot.plan.actions),
        "ok": snapshot.count("ok"),
        "failed": snapshot.count("failed"),
        "skipped": snapshot.count("skipped"),
        "sessions": {sid: view.state.value for sid, view in snapshot.sessions.items()},
    }
