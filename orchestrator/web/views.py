"""Rows of the dashboard snapshot, built from engine and schedule values (pure, JSON-ready).

Times go out as ISO 8601 in the event's time zone, so the page shows what the schedule says;
countdowns go out in wall seconds, which is what an operator waits (in a rehearsal the two differ).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from orchestrator.engine.events import ActionResult
from orchestrator.engine.view import OutputView
from orchestrator.planning.actions import Action, ActionKind
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
