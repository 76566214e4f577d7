"""`summit rehearse`: the real system run on a compressed clock, fully local, ending with a report.

The event is moved to "now": busy windows (a session's preparation to its end) run `speed`× faster,
idle gaps shrink to a few seconds. Everything else is the live code path: the same plan, runner,
programme and platform adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog
from pydantic import SecretStr

from orchestrator.clock import CompressedClock, Window
from orchestrator.links import Link, Person
from orchestrator.outputs import FileOutputs, Outputs, RtmpRedirectOutputs
from orchestrator.participants.settings import ParticipantSettings
from orchestrator.planning.plan import Plan
from orchestrator.schedule.model import Schedule
from orchestrator.system import SystemSettings, build_system, make_plan
from orchestrator.web.auth import AccessOptions

log = structlog.get_logger(__name__)

T = TypeVar("T")

# How a run may be told to stop: Ctrl-C, `kill`, the terminal closing. Each unwinds the whole system
# (publishers closed, nginx stopped, journal closed); a SIGKILL is the children's parent-death signal's.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """The run was stopped by a signal; everything it started has been stopped."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process ended by that signal


def run_until_signal(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, where SIGINT, SIGTERM and SIGHUP cancel `main` — so every `finally`
    and `async with` of the system runs — and then raise `Interrupted`. A second signal while it
    unwinds is only logged: stopping nginx and closing recordings takes a few seconds."""

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []

        def on_signal(signum: int) -> None:
            if received:
                log.warning("stop_signal_again", signal=signal.Signals(signum).name, stopping_since=received[0])
                return
            received.append(signum)
            log.warning("stop_signal", signal=signal.Signals(signum).name)
            task.cancel()

        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await main
        except (asyncio.CancelledError, Exception):
            if received:
                # Whatever unwinding ran into is a consequence of the stop (after a hang-up the
                # terminal is gone: the live table's last write fails with EIO).
                log.debug("stopped_while_unwinding", exc_info=True)
                raise Interrupted(received[0]) from None
            raise
        finally:
            for sig in STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    return asyncio.run(guarded())


@dataclass
class RehearsalOptions:
    speed: float = 240.0
    only: set[str] = field(default_factory=set)
    report_path: Path | None = None
    run_dir: Path | None = None
    media_dir: Path = Path("media")
    gap_s: float = 3.0
    start_in_s: float = 2.0
    make_demo_media: bool = True
    progress: bool = True
    # Where the destinations go: "platforms" = the real adapters against local YouTube and Facebook
    # emulators and a local nginx-rtmp (what arrives there is recorded and read back); "files" =
    # every destination recorded to a file by the programme itself; "rtmp" = every destination
    # pushed to `rtmp_url/<destination id>` on a server the user runs. "auto": platforms when
    # nginx-rtmp is installed, else files.
    outputs: str = "auto"
    rtmp_url: str | None = None
    dashboard_port: int | None = None  # serve the operators' dashboard on 127.0.0.1:PORT (0: any free port)
    access: AccessOptions | None = None  # who may reach it (default: no users, loopback only)
    # Who joins by link: "bots" (aiortc peers as every live speaker and interpreter, one dropping
    # mid-segment), "external" (people or a browser, by <run-dir>/links.json), "none" (nobody).
    participants: str = "bots"


class DashboardPortError(Exception):
    def __init__(self, port: int, exc: OSError) -> None:
        super().__init__(f"--dashboard {port}: cannot serve on 127.0.0.1:{port} ({exc.strerror or exc})")


def rehearsal_participants() -> ParticipantSettings:
    """A fresh link secret per rehearsal, and ICE kept on loopback (bots and a local browser)."""
    return ParticipantSettings(link_secret=SecretStr(secrets.token_urlsafe(32)), host_addresses=("127.0.0.1",))


def write_links(links: list[tuple[Person, Link]], base_url: str, path: Path) -> list[tuple[Person, Link]]:
    """`<run-dir>/links.json`, readable by its owner only: a list of {person, role, name, url}."""
    rows = [{"person": p.id, "role": p.role, "name": p.name, "url": link.url(base_url)} for p, link in links]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=2)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
    return links


def default_run_dir(event_id: str) -> Path:
    return Path("runs") / f"{event_id}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def busy_windows(p: Plan, tail: timedelta = timedelta(minutes=5)) -> list[Window]:
    """From each session's first action to its last, plus a tail: the stretches that run at
    `speed`. The tail keeps the event time of actions that finish a little late (a session's end
    waits for its outputs to close) on the fast-but-linear scale, not in a squeezed idle gap."""
    spans: dict[str, list[datetime]] = {}
    for a in p.actions:
        spans.setdefault(a.session, []).append(a.at)
    return [Window(min(ts), max(ts) + tail) for ts in spans.values()]


def rehearsal_clock(p: Plan, speed: float, start_in_s: float = 2.0, gap_s: float = 3.0) -> CompressedClock:
    return CompressedClock(busy_windows(p), speed=speed, wall_start=time.time() + start_in_s, gap_s=gap_s)


def resolve_outputs(options: RehearsalOptions) -> str:
    if options.rtmp_url:
        return "rtmp"
    if options.outputs != "auto":
        return options.outputs
    from orchestrator.standins.nginx import RtmpServer

    return "platforms" if RtmpServer.available() else "files"


def outputs_for(mode: str, options: RehearsalOptions, run_dir: Path) -> Outputs:
    """The outputs strategy of a rehearsal: emulated platforms (default), files, or an RTMP redirect."""
    if mode == "files":
        return FileOutputs()
    if mode == "rtmp":
        if not options.rtmp_url:
            raise ValueError("the rtmp output mode needs a URL (--rtmp rtmp://host/app)")
        return RtmpRedirectOutputs(options.rtmp_url)
    if mode == "platforms":
        from orchestrator.standins.outputs import EmulatedOutputs

        return EmulatedOutputs(run_dir / "ingest")
    raise ValueError(f"unknown output mode '{mode}' (use platforms, files or rtmp)")


async def rehearse(schedule: Schedule, options: RehearsalOptions, *, outputs: Outputs | None = None) -> dict[str, Any]:
    """Rehearse `schedule`; `outputs` replaces the strategy `options.outputs` names (a test keeps
    a handle on the stand-ins it serves, to ask what they handed out)."""
    from orchestrator.report import build_report
    from orchestrator.standins.demo_media import ensure_demo_clips

    run_dir = options.run_dir or default_run_dir(schedule.event.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    if options.make_demo_media:
        loop = asyncio.get_running_loop()
        created = await loop.run_in_executor(None, ensure_demo_clips, schedule, options.media_dir)
        if created:
            log.info("demo_media_ready", created=len(created), media_dir=str(options.media_dir))

    if options.participants not in ("bots", "external", "none"):
        raise ValueError(f"unknown participants mode '{options.participants}' (use bots, external or none)")
    settings = SystemSettings(
        journal_path=run_dir / "journal.sqlite",
        recordings_dir=run_dir / "recordings",
        media_dir=options.media_dir,
        only=frozenset(options.only),
        participants=rehearsal_participants() if options.participants != "none" else None,
    )
    the_plan = make_plan(schedule, settings)
    clock = rehearsal_clock(the_plan, options.speed, options.start_in_s, options.gap_s)
    mode = outputs.name if outputs is not None else resolve_outputs(options)
    started = time.time()
    async with build_system(
        schedule, clock, outputs or outputs_for(mode, options, run_dir), settings, the_plan=the_plan
    ) as system:
        tally = None
        if system.participants is not None:
            from orchestrator.report import ParticipantTally

            tally = ParticipantTally()
            system.subscribe(tally)
        if options.dashboard_port is not None or system.participants is not None:
            # people join on the dashboard's server: it runs whenever anyone may join
            try:
                url = await system.serve_dashboard(options.dashboard_port or 0, access=options.access)
            except OSError as exc:  # busy or not ours to bind
                raise DashboardPortError(options.dashboard_port or 0, exc) from None
            if options.dashboard_port is not None:
                print(f"dashboard: {url}", flush=True)
        if system.participants is not None and system.dashboard_url:
            links = write_links(system.participants.book.links(), system.dashboard_url, run_dir / "links.json")
            if options.participants == "external":
                print(f"join links: {run_dir / 'links.json'}", flush=True)
            else:
                from orchestrator.standins.bots import BotCrew, plan_parts

                crew = BotCrew(plan_parts(schedule, the_plan, clock, links, system.dashboard_url), clock)
                await system.stack.enter_async_context(crew)
        log.info(
            "rehearsal_started",
            event_id=schedule.event.id,
            sessions=len(the_plan.cue_sheets),
            actions=len(the_plan.actions),
            speed=options.speed,
            outputs=mode,
            expected_wall_s=round(clock.wall_end - time.time(), 1),
            run_dir=str(run_dir),
        )
        if options.progress:
            from orchestrator.progress import RehearsalProgress

            progress = RehearsalProgress(schedule, the_plan, clock)
            system.subscribe(progress)
            async with progress:
                snapshot = await system.run()
        else:
            snapshot = await system.run()
        recordings = await system.recordings(snapshot)
        wall_s = time.time() - started
        report = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: build_report(
                schedule,
                snapshot,
                system.journal,
                recordings,
                speed=options.speed,
                mode=mode,
                wall_s=wall_s,
                run_dir=run_dir,
                participants=tally,
            ),
        )
    report_path = options.report_path or run_dir / "report.json"
    report.write(report_path)
    data = report.to_json()
    data["report_path"] = str(report_path)
    return data
