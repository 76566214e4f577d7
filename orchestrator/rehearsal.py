"""`summit rehearse`: the real system run on a compressed clock, fully local, ending with a report.

The event is moved to "now": busy windows (a session's preparation to its end) run `speed`× faster,
idle gaps shrink to a few seconds. Everything else is the live code path: the same plan, runner,
programme and platform adapters.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from orchestrator.clock import CompressedClock, Window
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.runner import LogNotifier, Runner, RunnerSettings
from orchestrator.planning.actions import ActionKind, action_id
from orchestrator.planning.plan import Plan, PlanSettings, plan
from orchestrator.schedule.model import FileDestination, RtmpDestination, Schedule

log = structlog.get_logger(__name__)


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


def recording_destinations(schedule: Schedule) -> dict[str, FileDestination]:
    """Every destination recorded to a file of its own, in its own language."""
    return {
        d.id: FileDestination(id=d.id, name=d.name or d.id, kind="file", language=d.language)
        for d in schedule.destinations
    }


async def rehearse(schedule: Schedule, options: RehearsalOptions) -> dict[str, Any]:
    from orchestrator.media.live import RemoteSourceRegistry
    from orchestrator.media.plane import AvMediaPlane
    from orchestrator.media.settings import MediaSettings
    from orchestrator.standins.demo_media import ensure_demo_clips

    run_dir = options.run_dir or default_run_dir(schedule.event.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    if options.make_demo_media:
        created = await asyncio.get_running_loop().run_in_executor(None, ensure_demo_clips, schedule, options.media_dir)
        if created:
            log.info("demo_media_ready", created=len(created), media_dir=str(options.media_dir))

    the_plan = plan(schedule, PlanSettings(media_root=str(options.media_dir)), only=options.only or None)
    clock = rehearsal_clock(the_plan, options.speed, options.start_in_s, options.gap_s)
    journal = SqliteJournal(run_dir / "journal.sqlite")
    log_notifier = LogNotifier()  # keeps the alerts for the report
    notifier: Any = log_notifier
    if options.dashboard_port is not None:
        from orchestrator.web.hub import DashboardHub

        notifier = DashboardHub(schedule, clock, forward=log_notifier)
    media_settings = MediaSettings()
    live = RemoteSourceRegistry(media_settings)  # studio feeds (hybrid events) and, later, remote speakers
    programme = AvMediaPlane(clock, media_settings, live=live)
    mode = resolve_outputs(options)
    started = time.time()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(live.close)
        stack.push_async_callback(programme.close)
        destinations, platforms, server = await _wire_outputs(
            stack, mode, schedule, options, run_dir, clock, journal, notifier
        )
        runner = Runner(
            schedule,
            the_plan,
            clock=clock,
            programme=programme,
            platforms=platforms,
            destinations=destinations,
            journal=journal,
            notifier=notifier,
            settings=RunnerSettings(),
        )
        if options.dashboard_port is not None:
            from orchestrator.web.app import serve_dashboard

            notifier.attach(runner)
            web_runner, url = await serve_dashboard(notifier, port=options.dashboard_port)
            stack.push_async_callback(web_runner.cleanup)
            print(f"dashboard: {url}", flush=True)
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

            async with RehearsalProgress(schedule, the_plan, runner, clock):
                await runner.run()
        else:
            await runner.run()
        if server is not None:
            await programme.close()  # every publisher gone before nginx is stopped and its files read
            await asyncio.sleep(0.5)
            recordings = {k: p.primary.url for k, p in runner.prepared.items() if destinations[k[1]].kind == "file"}
            recordings |= collect_ingest_recordings(server, runner, run_dir / "recordings", clock)
        elif mode == "files":
            recordings = {k: p.primary.url for k, p in runner.prepared.items()}
        else:  # pushed as <rtmp_url>/<destination id>: the stream name is no secret
            assert options.rtmp_url
            recordings = {k: f"{options.rtmp_url.rstrip('/')}/{k[1]}" for k in runner.prepared}
    wall_s = time.time() - started
    report = await asyncio.get_running_loop().run_in_executor(
        None,
        build_report,
        schedule,
        the_plan,
        journal,
        runner,
        options,
        wall_s,
        run_dir,
        log_notifier.alerts,
        recordings,
        mode,
    )
    journal.close()
    report_path = options.report_path or run_dir / "report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    report["report_path"] = str(report_path)
    return report


async def _wire_outputs(
    stack: AsyncExitStack,
    mode: str,
    schedule: Schedule,
    options: RehearsalOptions,
    run_dir: Path,
    clock: CompressedClock,
    journal: SqliteJournal,
    notifier: Any,
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Destinations and the platform serving each, for the chosen output mode; and the local
    RTMP server whose recordings are read back (platforms mode)."""
    from orchestrator.platforms.credentials import CredentialStore
    from orchestrator.platforms.factory import close_platforms, for_destinations
    from orchestrator.platforms.file import FilePlatform
    from orchestrator.platforms.rtmp import RtmpPlatform

    if mode == "files":
        destinations: dict[str, Any] = recording_destinations(schedule)
        file_platform = FilePlatform(run_dir / "recordings", schedule.event.id)
        return destinations, {did: file_platform for did in destinations}, None
    if mode == "rtmp":
        assert options.rtmp_url
        destinations = {
            d.id: RtmpDestination(id=d.id, name=d.name, kind="rtmp", language=d.language, url=options.rtmp_url)
            for d in schedule.destinations
        }
        rtmp = RtmpPlatform(CredentialStore(values={}), redirect_to=options.rtmp_url)
        return destinations, {did: rtmp for did in destinations}, None
    if mode != "platforms":
        raise ValueError(f"unknown output mode '{mode}' (use platforms, files or rtmp)")
    from orchestrator.standins.local_platforms import start_local_platforms
    from orchestrator.standins.nginx import RtmpServer

    server = RtmpServer(record_dir=run_dir / "ingest")
    await server.start()
    stack.push_async_callback(server.stop)
    # Polls and platform-side delays short enough for a compressed clock.
    local = await start_local_platforms(
        schedule.destinations,
        server=server,
        clock=clock,
        transition_delay_s=0.2,
        youtube={
            "poll_interval_s": 0.2,
            "stream_active_timeout_s": 20.0,
            "healthy_timeout_s": 2.0,
            "backoff_initial_s": 0.2,
        },
        facebook={"poll_interval_s": 0.2, "media_timeout_s": 20.0, "backoff_initial_s": 0.2},
    )
    stack.push_async_callback(local.close)
    by_kind = local.platforms(
        journal, recordings_dir=run_dir / "recordings", event_id=schedule.event.id, clock=clock, notifier=notifier
    )
    stack.push_async_callback(close_platforms, by_kind)
    return {d.id: d for d in schedule.destinations}, for_destinations(by_kind, schedule.destinations), server


def collect_ingest_recordings(
    server: Any, runner: Runner, recordings_dir: Path, clock: CompressedClock
) -> dict[tuple[str, str], str]:
    """Move what nginx recorded for each session's output to recordings/<session>/<destination>.flv.

    nginx names a recording `<stream key>-<unix time>.flv`; a persistent stream key serves many
    sessions, so the file is matched to the session whose output was attached when it began. The
    move also takes the key out of the file name."""
    found: dict[tuple[str, str], str] = {}
    folder = server.recordings_of()
    if folder is None:
        return found
    unused = set(folder.glob("*.flv"))

    # Sessions in the order they took their destinations: a file goes to the first that claims it.
    def attached_at(item: tuple[tuple[str, str], Any]) -> float:
        (sid, did), _ = item
        r = runner.results.get(action_id(ActionKind.ATTACH_OUTPUT, sid, did))
        return clock.to_wall(r.executed) if r is not None and r.executed is not None else float("inf")

    for (sid, did), prepared in sorted(runner.prepared.items(), key=attached_at):
        if not prepared.primary.url.startswith("rtmp"):
            continue
        # nginx names the stream without the query string (Facebook keys carry one).
        key = prepared.primary.key.get_secret_value().split("?", 1)[0] if prepared.primary.key else ""
        attached = runner.results.get(action_id(ActionKind.ATTACH_OUTPUT, sid, did))
        ended = runner.results.get(action_id(ActionKind.END_BROADCAST, sid, did))
        if not key or attached is None or attached.executed is None:
            continue
        # nginx stamps whole seconds: a file of this session starts no earlier than a second before.
        t0 = clock.to_wall(attached.executed) - 1
        t1 = clock.to_wall(ended.executed) + 1 if ended and ended.executed else float("inf")
        mine = [f for f in unused if f.stem.rsplit("-", 1)[0] == key and t0 <= _started(f) <= t1]
        if not mine:
            continue
        # The session's own publish is the first in its window; the next session on the same
        # stream key starts at this one's end.
        first = min(mine, key=_started)
        unused.discard(first)
        target = recordings_dir / sid / f"{did}.flv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(first), target)
        found[(sid, did)] = str(target)
    return found


def _started(path: Path) -> float:
    try:
        return float(path.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return path.stat().st_mtime


def build_report(
    schedule: Schedule,
    the_plan: Plan,
    journal: SqliteJournal,
    runner: Runner,
    options: RehearsalOptions,
    wall_s: float,
    run_dir: Path,
    alerts: list[dict[str, Any]],
    recordings: dict[tuple[str, str], str],
    mode: str,
) -> dict[str, Any]:
    from orchestrator.media.probe import probe

    records = {r.id: r for r in journal.actions()}
    actions = []
    for a in the_plan.actions:
        r = records.get(a.id)
        actions.append(
            {
                "id": a.id,
                "kind": a.kind.value,
                "session": a.session,
                "destination": a.destination,
                "scheduled": a.at.isoformat(),
                "executed": r.executed if r else None,
                "error_ms": r.error_ms if r else None,
                "outcome": r.outcome if r else "not_run",
                **({"detail": r.detail} if r and r.detail else {}),
            }
        )
    states = journal.states()
    sessions = []
    for sid in the_plan.cue_sheets:
        history = dict(states.get(sid, []))
        sessions.append(
            {
                "id": sid,
                "title": the_plan.cue_sheets[sid].title,
                "scheduled_start": the_plan.cue_sheets[sid].start.isoformat(),
                "scheduled_end": the_plan.cue_sheets[sid].end.isoformat(),
                "on_air": history.get("live"),
                "off_air": history.get("ended"),
                "state": runner.machines[sid].state.value,
            }
        )
    outputs = []
    for sid, did in sorted(runner.prepared):
        path = recordings.get((sid, did))
        entry: dict[str, Any] = {"destination": did, "session": sid, "path": path}
        if path is None or mode == "rtmp":  # nothing arrived, or it went to the user's server
            entry.update(duration_s=None, video_codec=None, audio_codec=None)
            if path is None:
                entry["error"] = "nothing was recorded for this output"
            outputs.append(entry)
            continue
        try:
            info = probe(path)
            entry.update(
                duration_s=info.get("duration_s"),
                video_codec=info.get("video_codec"),
                audio_codec=info.get("audio_codec"),
                width=info.get("width"),
                height=info.get("height"),
                keyframe_interval_s=info.get("keyframe_interval_s"),
            )
        except Exception as exc:
            entry.update(duration_s=None, video_codec=None, audio_codec=None, error=str(exc))
        outputs.append(entry)

    errors = [a["error_ms"] for a in actions if a["error_ms"] is not None]
    ok = sum(a["outcome"] == "ok" for a in actions)
    return {
        "event": schedule.event.id,
        "speed": options.speed,
        "outputs_mode": mode,
        "wall_seconds": round(wall_s, 1),
        "run_dir": str(run_dir),
        "summary": {
            "actions": len(actions),
            "ok": ok,
            "failed": sum(a["outcome"] == "failed" for a in actions),
            "skipped": sum(a["outcome"] == "skipped" for a in actions),
            "not_run": sum(a["outcome"] == "not_run" for a in actions),
            "max_error_ms": round(max(errors), 1) if errors else None,
            "mean_error_ms": round(sum(errors) / len(errors), 1) if errors else None,
            "sessions": len(sessions),
            "outputs": len(outputs),
            "alerts": len(alerts),
        },
        "actions": actions,
        "sessions": sessions,
        "outputs": outputs,
        "alerts": alerts,
    }
