"""`summit rehearse`: the real system run on a compressed clock, fully local, ending with a report.

The event is moved to "now": busy windows (a session's preparation to its end) run `speed`× faster,
idle gaps shrink to a few seconds. Everything else is the live code path: the same plan, runner,
programme and platform adapters.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from orchestrator.clock import CompressedClock, Window
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.runner import LogNotifier, Runner, RunnerSettings
from orchestrator.planning.plan import Plan, PlanSettings, plan
from orchestrator.schedule.model import FileDestination, Schedule

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


def busy_windows(p: Plan) -> list[Window]:
    """From each session's first action to its last: the stretches that must run at `speed`."""
    spans: dict[str, list[datetime]] = {}
    for a in p.actions:
        spans.setdefault(a.session, []).append(a.at)
    return [Window(min(ts), max(ts)) for ts in spans.values()]


def rehearsal_clock(p: Plan, speed: float, start_in_s: float = 2.0, gap_s: float = 3.0) -> CompressedClock:
    return CompressedClock(busy_windows(p), speed=speed, wall_start=time.time() + start_in_s, gap_s=gap_s)


def recording_destinations(schedule: Schedule) -> dict[str, FileDestination]:
    """Every destination recorded to a file of its own, in its own language."""
    return {
        d.id: FileDestination(id=d.id, name=d.name or d.id, kind="file", language=d.language)
        for d in schedule.destinations
    }


async def rehearse(schedule: Schedule, options: RehearsalOptions) -> dict[str, Any]:
    from orchestrator.media.demo_clips import ensure_demo_clips
    from orchestrator.media.programme import MediaProgramme
    from orchestrator.media.settings import MediaSettings
    from orchestrator.platforms.file import FilePlatform

    run_dir = options.run_dir or Path("runs") / f"{schedule.event.id}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    run_dir.mkdir(parents=True, exist_ok=True)
    if options.make_demo_media:
        created = await asyncio.get_running_loop().run_in_executor(None, ensure_demo_clips, schedule, options.media_dir)
        if created:
            log.info("demo_media_ready", created=len(created), media_dir=str(options.media_dir))

    the_plan = plan(schedule, PlanSettings(media_root=str(options.media_dir)), only=options.only or None)
    clock = rehearsal_clock(the_plan, options.speed, options.start_in_s, options.gap_s)
    journal = SqliteJournal(run_dir / "journal.sqlite")
    notifier = LogNotifier()
    programme = MediaProgramme(clock, MediaSettings())
    destinations = recording_destinations(schedule)
    file_platform = FilePlatform(run_dir / "recordings", schedule.event.id)
    platforms = {did: file_platform for did in destinations}
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
    log.info(
        "rehearsal_started",
        event=schedule.event.id,
        sessions=len(the_plan.programmes),
        actions=len(the_plan.actions),
        speed=options.speed,
        expected_wall_s=round(clock.wall_end - time.time(), 1),
        run_dir=str(run_dir),
    )
    progress = None
    if options.progress:
        from orchestrator.progress import RehearsalProgress

        progress = RehearsalProgress(schedule, the_plan, runner, clock)
    started = time.time()
    try:
        if progress is not None:
            async with progress:
                await runner.run()
        else:
            await runner.run()
    finally:
        await programme.close()
    wall_s = time.time() - started
    report = await asyncio.get_running_loop().run_in_executor(
        None, build_report, schedule, the_plan, journal, runner, options, wall_s, run_dir, notifier.alerts
    )
    journal.close()
    report_path = options.report_path or run_dir / "report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    report["report_path"] = str(report_path)
    return report


def build_report(
    schedule: Schedule,
    the_plan: Plan,
    journal: SqliteJournal,
    runner: Runner,
    options: RehearsalOptions,
    wall_s: float,
    run_dir: Path,
    alerts: list[dict[str, Any]],
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
    for sid in the_plan.programmes:
        history = dict(states.get(sid, []))
        sessions.append(
            {
                "id": sid,
                "title": the_plan.programmes[sid].title,
                "scheduled_start": the_plan.programmes[sid].start.isoformat(),
                "scheduled_end": the_plan.programmes[sid].end.isoformat(),
                "on_air": history.get("live"),
                "off_air": history.get("ended"),
                "state": runner.machines[sid].state.value,
            }
        )
    outputs = []
    for (sid, did), prepared in sorted(runner.prepared.items()):
        path = prepared.primary.url
        entry: dict[str, Any] = {"destination": did, "session": sid, "path": path}
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
        except Exception as exc:  # noqa: BLE001 - a missing recording is a finding, not a crash
            entry.update(duration_s=None, video_codec=None, audio_codec=None, error=str(exc))
        outputs.append(entry)

    errors = [a["error_ms"] for a in actions if a["error_ms"] is not None]
    ok = sum(a["outcome"] == "ok" for a in actions)
    return {
        "event": schedule.event.id,
        "speed": options.speed,
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
