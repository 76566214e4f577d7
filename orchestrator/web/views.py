"""Rows of the dashboard snapshot, built from engine and schedule values (pure, JSON-ready).

Times go out as ISO 8601 in the event's time zone, so the page shows what the schedule says;
countdowns go out in wall seconds, which is what an operator waits (in a rehearsal the two differ).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from pathlib import PurePath
from typing import Any

from orchestrator.engine.events import (
    ActionResult,
    BoothChanged,
    FallbackChanged,
    OverrideApplied,
    ParticipantChanged,
    RouteChanged,
)
from orchestrator.engine.view import OutputView, RunSnapshot
from orchestrator.planning.actions import Action, ActionKind
from orchestrator.planning.cues import VideoKind, VideoSource
from orchestrator.redaction import mask_text
from orchestrator.schedule.model import Session

ON_AIR_STATES = ("live", "overrun")
READYING_STATES = ("preparing", "standby")

# What a destination is doing once its latest action went through.
_PHASE = {
    ActionKind.PREPARE_BROADCAST: "prepared",
    ActionKind.ATTACH_OUTPUT: "feeding",
    ActionKind.GO_LIVE: "live",
    ActionKind.END_BROADCAST: "ended",
}


def iso(t: datetime | None, tz: tzinfo) -> str | None:
    return t.astimezone(tz).isoformat(timespec="seconds") if t is not None else None


def titles(session: Session) -> dict[str, str]:
    return {lang: str(text) for lang, text in session.title.model_dump().items()}


def session_row(
    session: Session, state: str, on_air: datetime | None, off_air: datetime | None, tz: tzinfo
) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": titles(session),
        "start": iso(session.start, tz),
        "end": iso(session.end, tz),
        "state": state,
        "on_air": iso(on_air, tz),
        "off_air": iso(off_air, tz),
    }


def action_row(result: ActionResult, tz: tzinfo) -> dict[str, Any]:
    a = result.action
    row: dict[str, Any] = {
        "id": a.id,
        "kind": a.kind.value,
        "session": a.session,
        "destination": a.destination,
        "label": a.label,
        "scheduled": iso(a.at, tz),
        "executed": iso(result.executed, tz),
        "outcome": result.outcome,
        "error_ms": round(result.error_ms, 1) if result.error_ms is not None else None,
    }
    # The runner masks these already; masking again costs nothing and holds if an adapter did not.
    if "error" in result.detail:
        row["error"] = mask_text(str(result.detail["error"]))
    if "why" in result.detail:
        row["why"] = mask_text(str(result.detail["why"]))
    return row


def next_pending(
    actions: Iterable[Action], done: Mapping[str, object], wanted: Callable[[Action], bool]
) -> Action | None:
    pending = [a for a in actions if a.id not in done and wanted(a)]
    return min(pending, key=Action.sort_key) if pending else None


def is_changeover(action: Action) -> bool:
    """A moment the audience sees: a session goes on or off air."""
    return action.kind in (ActionKind.ON_AIR, ActionKind.STOP_PROGRAMME)


def pending_row(action: Action, tz: tzinfo, countdown_s: float) -> dict[str, Any]:
    return {
        "id": action.id,
        "kind": action.kind.value,
        "session": action.session,
        "destination": action.destination,
        "label": action.label,
        "at": iso(action.at, tz),
        "countdown_s": round(countdown_s, 2),
    }


def destination_row(
    destination: Any,
    prepared: OutputView | None,
    last: ActionResult | None,
) -> dict[str, Any]:
    """One destination of a session; the ingest only ever in its masked form."""
    if last is None:
        status = "waiting"
    elif last.outcome == "ok":
        status = _PHASE[last.action.kind]
    else:
        status = last.outcome  # failed | skipped
    return {
        "id": destination.id,
        "name": destination.name or destination.id,
        "kind": destination.kind,
        "language": destination.language,
        "platform_ids": dict(prepared.platform_ids) if prepared else {},
        "watch_url": prepared.watch_url if prepared else None,
        "ingest": prepared.ingest if prepared else None,
        "backup_ingest": prepared.backup_ingest if prepared else None,
        "status": status,
        "last_action": (
            {
                "id": last.action.id,
                "kind": last.action.kind.value,
                "outcome": last.outcome,
                "error_ms": round(last.error_ms, 1) if last.error_ms is not None else None,
                "error": mask_text(str(last.detail["error"])) if "error" in last.detail else None,
            }
            if last
            else None
        ),
    }


# ---------------------------------------------------------------------- the control room


def _taken(result: ActionResult | None) -> bool:
    return result is not None and result.detail.get("applied") == "on_frame"


def segment_status(result: ActionResult | None) -> str:
    """taken (on a frame) | armed (handed to the programme) | skipped | failed | pending"""
    if result is None:
        return "pending"
    if result.outcome != "ok":
        return result.outcome
    return "taken" if _taken(result) else "armed"


def segments(run: RunSnapshot, session_id: str, tz: tzinfo) -> list[dict[str, Any]]:
    """The session's rundown as the run has it now: each cue's time (moved if extended) and fate."""
    rows = []
    for a in run.plan.for_session(session_id):
        if a.kind != ActionKind.CUE or a.cue is None:
            continue
        r = run.results.get(a.id)
        rows.append(
            {
                "id": a.id,
                "segment": a.cue.segment_id,
                "label": a.label,
                "kind": a.cue.video.kind.value,
                "at": iso(a.at, tz),
                "status": segment_status(r),
                "late_ms": round(r.error_ms, 1) if _taken(r) and r is not None and r.error_ms is not None else None,
            }
        )
    return rows


def cue_row(action: Action, tz: tzinfo, countdown_s: float) -> dict[str, Any]:
    cue = action.cue
    return {
        "id": action.id,
        "label": action.label,
        "kind": cue.video.kind.value if cue else None,
        "source": source_name(cue.video) if cue else None,
        "at": iso(action.at, tz),
        "countdown_s": round(countdown_s, 2),
    }


def source_name(video: VideoSource) -> str:
    if video.speaker_id:
        return video.speaker_id
    if video.kind == VideoKind.CLIP and video.clip_path:
        return PurePath(video.clip_path).name
    if video.slate is not None:
        return video.slate.title
    return video.kind.value


def showing(run: RunSnapshot, session_id: str, tz: tzinfo) -> dict[str, Any] | None:
    """What the programme shows now: the latest cue a frame took, or an operator's take since."""
    taken = [
        r
        for r in run.results.values()
        if r.action.session == session_id and _taken(r) and r.executed is not None and r.action.cue is not None
    ]
    latest = max(taken, key=lambda r: r.executed or datetime.min) if taken else None
    override = next(
        (o for o in reversed(run.overrides) if o.session == session_id and o.command in ("take", "fallback")), None
    )
    if override is not None and (latest is None or latest.executed is None or override.at >= latest.executed):
        return {"label": override.detail, "kind": "override", "since": iso(override.at, tz), "by": override.who}
    if latest is None or latest.action.cue is None:
        return None
    cue = latest.action.cue
    return {
        "label": latest.action.label,
        "kind": cue.video.kind.value,
        "source": source_name(cue.video),
        "segment": cue.segment_id,
        "since": iso(latest.executed, tz),
        "by": "schedule",
        "fallback": mask_text(str(latest.detail["fallback"])) if latest.detail.get("fallback") else None,
    }


def sources(run: RunSnapshot, session_id: str, tz: tzinfo) -> list[dict[str, Any]]:
    """Every picture source of the session's rundown, with what it is doing."""
    sheet = run.plan.cue_sheets.get(session_id)
    if sheet is None:
        return []
    now_on = showing(run, session_id, tz)
    falling: dict[str, bool] = {}
    for f in run.fallbacks:
        if f.session == session_id:
            falling[f.person] = f.active
    rows: dict[str, dict[str, Any]] = {}
    for cue in sheet.cues:
        name = source_name(cue.video)
        if name in rows:
            continue
        state = "ready"
        person = cue.video.speaker_id
        if person is not None and person in run.participants:
            state = run.participants[person].state
        elif cue.video.kind in (VideoKind.REMOTE,):
            state = "not_joined"
        if person is not None and falling.get(person):
            state = "fallback"
        if now_on is not None and now_on.get("source") == name:
            state = f"on programme ({state})" if state not in ("ready",) else "on programme"
        rows[name] = {"name": name, "kind": cue.video.kind.value, "state": state}
    return list(rows.values())


def participant_row(p: ParticipantChanged, tz: tzinfo) -> dict[str, Any]:
    return {
        "person": p.person,
        "role": p.role,
        "state": p.state,
        "session": p.session,
        "since": iso(p.at, tz),
        "device": p.device,
        "resolution": p.resolution,
        "rtt_ms": p.rtt_ms,
        "loss_pct": p.loss_pct,
        "fps": p.fps,
        "kbps": p.kbps,
        "detail": mask_text(p.detail) if p.detail else None,
    }


def booth_row(b: BoothChanged, tz: tzinfo) -> dict[str, Any]:
    return {
        "booth": b.booth,
        "session": b.session,
        "on_duty": b.on_duty,
        "partner": b.partner,
        "on_duty_since": iso(b.on_duty_since, tz),
        "handover_due": b.handover_due,
        "mic_open": b.mic_open,
    }


def route_row(r: RouteChanged, tz: tzinfo) -> dict[str, Any]:
    return {
        "session": r.session,
        "language": r.language,
        "source": r.source,
        "reason": r.reason,
        "silent": r.silent,
        "at": iso(r.at, tz),
    }


def fallback_row(f: FallbackChanged, tz: tzinfo) -> dict[str, Any]:
    return {
        "session": f.session,
        "person": f.person,
        "active": f.active,
        "shown": f.shown,
        "frames": f.frames,
        "reason": mask_text(f.reason) if f.reason else None,
        "at": iso(f.at, tz),
    }


def override_row(o: OverrideApplied, tz: tzinfo) -> dict[str, Any]:
    return {
        "seq": o.seq,
        "who": o.who,
        "command": o.command,
        "session": o.session,
        "detail": mask_text(o.detail),
        "at": iso(o.at, tz),
    }
