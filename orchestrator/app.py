"""A live run (`summit run`): the composition root (`orchestrator.system`) on the system clock, with
the journal on disk and the real platforms with real credentials.

Before anything starts, `preflight` checks the configuration (the secrets file readable, every
destination's credential present, the state and recordings folders writable, the dashboard port
free, no other run of the same event) and refuses with one list of every problem.

Restart-safe: the journal lives at `<state dir>/<event id>.sqlite`; a second start with the same
schedule skips what was done, retries what failed, catches up on what was missed, and the adapters
find the broadcasts they created before (they are keyed by the plan's action ids).

Live edits: a running `summit run` listens on loopback for `summit reload` (`ControlEndpoint`). The
port and a random token are in `<state dir>/<event id>.control` (mode 0600: whoever may read the
state folder may reload), so no port is fixed and no other local user can drive the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.clock import Clock, SystemClock
from orchestrator.engine.runner import ReloadResult, Runner
from orchestrator.engine.view import RunSnapshot
from orchestrator.linksecret import live_participant_settings
from orchestrator.media import process_writer
from orchestrator.outputs import PlatformOutputs
from orchestrator.platforms.credentials import CredentialsMissing, CredentialStore, SecretsFileError
from orchestrator.schedule.loader import ScheduleError, parse_schedule_text
from orchestrator.schedule.model import (
    FacebookDestination,
    RtmpDestination,
    Schedule,
    YouTubeDestination,
)
from orchestrator.system import SystemSettings, build_system, make_plan
from orchestrator.web.auth import AccessOptions

log = structlog.get_logger(__name__)

CONTROL_TOKEN_HEADER = "X-Summit-Control-Token"
MAX_SCHEDULE_BYTES = 64 * 1024 * 1024


class AppSettings(BaseSettings):
    """Where a live run keeps its state (env prefix `SUMMIT_`)."""

    model_config = SettingsConfigDict(env_prefix="SUMMIT_", extra="ignore")

    state_dir: Path = Field(Path("state"), description="the journal of each event")
    recordings_dir: Path = Field(Path("recordings"), description="file destinations")
    media_dir: Path = Field(Path("media"), description="clips named by the schedules")
    secrets_file: Path | None = Field(None, description="credentials file (see config/secrets.example.yaml)")


class StartupError(Exception):
    """`summit run` refuses to start; `problems` lists every reason, each naming its thing."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("summit run cannot start:\n" + "\n".join(f"  - {p}" for p in problems))


def credential_store(settings: AppSettings) -> CredentialStore:
    return CredentialStore(settings.secrets_file) if settings.secrets_file else CredentialStore.from_env()


def control_file(settings: AppSettings, event_id: str) -> Path:
    return settings.state_dir / f"{event_id}.control"


def preflight(
    schedule: Schedule,
    settings: AppSettings,
    *,
    credentials: CredentialStore,
    only: set[str] | None = None,
    dashboard_port: int | None = None,
) -> list[str]:
    """Every reason the run would fail later, found now (nothing is started or written)."""
    problems: list[str] = []
    secrets_file = credentials.secrets_file
    if secrets_file is not None:
        if not secrets_file.is_file():
            problems.append(f"secrets file {secrets_file}: not found (or not a file)")
        elif not os.access(secrets_file, os.R_OK):
            problems.append(f"secrets file {secrets_file}: not readable by this user")
    used = {d for s in schedule.sessions if not only or s.id in only for d in s.outputs}
    for d in schedule.destinations:
        if d.id not in used:
            continue
        try:
            if isinstance(d, YouTubeDestination):
                credentials.youtube(d.credentials)
            elif isinstance(d, FacebookDestination):
                credentials.facebook(d.credentials)
            elif isinstance(d, RtmpDestination) and d.key:
                credentials.stream_key(d.key)
        except CredentialsMissing as err:
            problems.append(f"destination '{d.id}': {err}")
        except SecretsFileError as err:
            problems.append(f"destination '{d.id}': {err}")
            break  # the same unreadable file for every destination after this one
        except (OSError, UnicodeDecodeError, ValueError):
            problems.append(f"destination '{d.id}': secrets file {secrets_file} cannot be read as YAML or JSON")
            break
    for what, folder in (("state folder", settings.state_dir), ("recordings folder", settings.recordings_dir)):
        problem = _writable(folder)
        if problem:
            problems.append(f"{what} {folder}: {problem}")
    if dashboard_port is not None:
        problem = port_problem(dashboard_port)
        if problem:
            problems.append(f"dashboard port {dashboard_port}: {problem}")
    if _control_answers(control_file(settings, schedule.event.id)):
        problems.append(f"event '{schedule.event.id}' is already being run with state folder {settings.state_dir}")
    return problems


def _writable(folder: Path) -> str | None:
    probe = folder
    while not probe.exists():  # the nearest existing parent must let us create the folder
        if probe.parent == probe:
            return "cannot be created"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return "not writable by this user"
    return None


def port_problem(port: int | None, host: str = "127.0.0.1") -> str | None:
    """Why `port` cannot be served on `host`, checked before anything starts (None: it can)."""
    if port is None or port == 0:
        return None
    if not 0 < port <= 65535:
        return "not a port number (0–65535)"
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # what aiohttp does: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            return "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or "cannot be bound")
    return None


@dataclass(frozen=True)
class ControlAddress:
    url: str
    token: str


def read_control(path: Path) -> ControlAddress | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ControlAddress(str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _control_answers(path: Path) -> bool:
    address = read_control(path)
    if address is None:
        return False
    host_port = address.url.removeprefix("http://").split("/")[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False  # a file left by a killed run


class ControlEndpoint:
    """`POST /reload` on loopback for `summit reload`: the edited schedule's text, checked here
    again, diffed against the running plan and applied by `Runner.reload` only if valid."""

    def __init__(self, runner: Runner, system_settings: SystemSettings, path: Path) -> None:
        self._runner = runner
        self._system_settings = system_settings
        self._path = path
        self._token = secrets.token_urlsafe(24)
        self._web: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_SCHEDULE_BYTES)
        app.router.add_post("/reload", self._reload)
        self._web = web.AppRunner(app, access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, "127.0.0.1", 0)
        await site.start()
        port = self._web.addresses[0][1]
        _write_private(self._path, json.dumps({"url": f"http://127.0.0.1:{port}", "token": self._token}))
        log.info("control_endpoint_listening", port=port, control_file=str(self._path))

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self._path.unlink()
        if self._web is not None:
            await self._web.cleanup()

    async def _reload(self, request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.headers.get(CONTROL_TOKEN_HEADER, ""), self._token):
            return web.json_response({"error": "wrong or missing control token"}, status=403)
        try:
            body = await request.json()
            text, name, dry_run = str(body["schedule"]), str(body.get("file", "<schedule>")), bool(body.get("dry_run"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return web.json_response({"error": "the body must be JSON with a 'schedule' text"}, status=400)
        loop = asyncio.get_running_loop()
        try:
            schedule = await loop.run_in_executor(None, parse_schedule_text, text, name)
            new_plan = make_plan(schedule, self._system_settings)
        except ScheduleError as err:
            return web.json_response({"error": str(err)}, status=422)
        except KeyError as err:
            return web.json_response({"error": f"{name}: {err.args[0]}"}, status=422)
        result: ReloadResult
        if dry_run:
            result = self._runner.check_reload(new_plan, schedule)
        else:
            result = await self._runner.reload(new_plan, schedule)
        body_out: dict[str, Any] = {**result.to_json(), "lines": result.diff.lines(), "dry_run": dry_run}
        return web.json_response(body_out, status=200 if not result.refused else 409)


def _write_private(path: Path, text: str) -> None:
    """Written whole (a reader never sees half a file) and readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


async def run_live(
    schedule: Schedule,
    settings: AppSettings,
    *,
    clock: Clock | None = None,
    only: set[str] | None = None,
    dashboard_port: int | None = None,
    access: AccessOptions | None = None,
) -> RunSnapshot:
    """Run the event on the real clock until its last action; returns the run's final snapshot.
    Raises `StartupError` (nothing started) when the configuration would make it fail."""
    # The media fork server imports the media stack (about a second) in a process of its own: start
    # it first, alongside our own start-up, so a restarted run's outputs are back on the air sooner.
    # (A failure here is met again, and reported, by the first network output.)
    warming = asyncio.get_running_loop().run_in_executor(None, process_writer.warm_up)
    warming.add_done_callback(lambda f: f.exception())
    credentials = credential_store(settings)
    problems = preflight(schedule, settings, credentials=credentials, only=only, dashboard_port=dashboard_port)
    if problems:
        log.error("run_refused", problems=len(problems))
        raise StartupError(problems)
    system_settings = SystemSettings(
        journal_path=settings.state_dir / f"{schedule.event.id}.sqlite",
        recordings_dir=settings.recordings_dir,
        media_dir=settings.media_dir,
        only=frozenset(only or ()),
        # People join by link when a link secret is configured (SUMMIT_LINK_SECRET or the secrets
        # file's link_secret), on the dashboard's server.
        participants=live_participant_settings(settings.secrets_file),
    )
    async with build_system(schedule, clock or SystemClock(), PlatformOutputs(credentials), system_settings) as system:
        control = ControlEndpoint(system.runner, system_settings, control_file(settings, schedule.event.id))
        await control.start()
        system.stack.push_async_callback(control.close)
        if dashboard_port is not None:
            print(f"dashboard: {await system.serve_dashboard(dashboard_port, access=access)}", flush=True)
        elif system.participants is not None:
            log.warning("participants_need_dashboard", hint="serve --dashboard PORT so speakers can join by link")
        if system.participants is None:
            log.info(
                "participants_off", hint="no link secret: set SUMMIT_LINK_SECRET or link_secret in the secrets file"
            )
        return await system.run()


def summary(snapshot: RunSnapshot) -> dict[str, Any]:
    return {
        "actions": len(snapshot.plan.actions),
        "ok": snapshot.count("ok"),
        "failed": snapshot.count("failed"),
        "skipped": snapshot.count("skipped"),
        "sessions": {sid: view.state.value for sid, view in snapshot.sessions.items()},
    }
