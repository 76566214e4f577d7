"""Composition of a live run (`summit run`): the system clock, the journal on disk, the media plane,
the platform adapters with real credentials, and the runner.

Restart-safe: the journal lives at `<state dir>/<event id>.sqlite`; a second start with the same
schedule skips what was done, catches up on what was missed, and the adapters find the broadcasts
they created before (they are keyed by the plan's action ids).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.clock import Clock, SystemClock
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.ports import Notifier
from orchestrator.engine.runner import LogNotifier, Runner, RunnerSettings
from orchestrator.planning.plan import PlanSettings, plan
from orchestrator.schedule.model import Schedule

log = structlog.get_logger(__name__)


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
    notifier: Notifier | None = None,
    only: set[str] | None = None,
    dashboard_port: int | None = None,
) -> Runner:
    """Run the event on the real clock until its last action; returns the finished runner."""
    from orchestrator.media.live import RemoteSourceRegistry
    from orchestrator.media.plane import AvMediaPlane
    from orchestrator.media.settings import MediaSettings
    from orchestrator.platforms.credentials import CredentialStore
    from orchestrator.platforms.factory import close_platforms, for_destinations, make_platforms
    from orchestrator.platforms.settings import FacebookSettings, YouTubeSettings

    clock = clock or SystemClock()
    notifier = notifier or LogNotifier()
    hub = None
    if dashboard_port is not None:
        from orchestrator.web.hub import DashboardHub

        hub = DashboardHub(schedule, clock, forward=notifier)
        notifier = hub
    the_plan = plan(schedule, PlanSettings(media_root=str(settings.media_dir)), only=only)
    journal = SqliteJournal(settings.state_dir / f"{schedule.event.id}.sqlite")
    credentials = CredentialStore(settings.secrets_file) if settings.secrets_file else CredentialStore.from_env()
    media_settings = MediaSettings()
    live = RemoteSourceRegistry(media_settings)  # the studio feed, remote speakers, live booths
    programme = AvMediaPlane(clock, media_settings, live=live)
    async with AsyncExitStack() as stack:
        stack.callback(journal.close)
        stack.push_async_callback(live.close)
        stack.push_async_callback(programme.close)
        by_kind = make_platforms(
            credentials=credentials,
            journal=journal,
            recordings_dir=settings.recordings_dir,
            event_id=schedule.event.id,
            youtube=YouTubeSettings(),
            facebook=FacebookSettings(),
            clock=clock,
            notifier=notifier,
        )
        stack.push_async_callback(close_platforms, by_kind)
        runner = Runner(
            schedule,
            the_plan,
            clock=clock,
            programme=programme,
            platforms=for_destinations(by_kind, schedule.destinations),
            journal=journal,
            notifier=notifier,
            settings=RunnerSettings(),
        )
        if hub is not None:
            from orchestrator.web.app import serve_dashboard

            hub.attach(runner)
            web_runner, url = await serve_dashboard(hub, port=dashboard_port)
            stack.push_async_callback(web_runner.cleanup)
            print(f"dashboard: {url}", flush=True)
        log.info("live_run_started", event_id=schedule.event.id, actions=len(the_plan.actions), journal=journal.path)
        await runner.run()
    return runner


def summary(runner: Runner) -> dict[str, Any]:
    outcomes = [r.outcome for r in runner.results.values()]
    return {
        "actions": len(runner.plan.actions),
        "ok": outcomes.count("ok"),
        "failed": outcomes.count("failed"),
        "skipped": outcomes.count("skipped"),
        "sessions": {sid: m.state.value for sid, m in runner.machines.items()},
    }
