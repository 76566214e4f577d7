"""Actions: the plan's unit of work, plain data with a stable id.

Each kind means one thing and belongs either to a session or to one destination of a session.
Ids are made here and nowhere else (`action_id`): they key the journal and the platforms'
idempotency, so a restart finds what it did before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from orchestrator.planning.cues import Cue


class ActionKind(StrEnum):
    # a session's programme
    PREPARE_MEDIA = "prepare_media"  # check the session's clips, start opening its live feeds
    START_PROGRAMME = "start_programme"  # the programme starts, on the stand-by slate
    ON_AIR = "on_air"  # the session is on air
    CUE = "cue"  # a rundown segment takes the programme
    STOP_PROGRAMME = "stop_programme"  # the programme stops (its outputs are closed)
    # one destination of a session
    PREPARE_BROADCAST = "prepare_broadcast"  # create or find the broadcast, fetch its ingest
    ATTACH_OUTPUT = "attach_output"  # the destination takes the programme in its language
    GO_LIVE = "go_live"  # the platform's broadcast goes live
    END_BROADCAST = "end_broadcast"  # the output is detached, the broadcast completed

    @property
    def for_destination(self) -> bool:
        return self in _DESTINATION_KINDS


_DESTINATION_KINDS = frozenset(
    {ActionKind.PREPARE_BROADCAST, ActionKind.ATTACH_OUTPUT, ActionKind.GO_LIVE, ActionKind.END_BROADCAST}
)

# The last part of an action's id. Kept from the first journals (`S/D/standby`), so a journal
# written before the kinds got their own names still resumes.
_ID_VERB = {
    ActionKind.PREPARE_MEDIA: "prepare",
    ActionKind.START_PROGRAMME: "standby",
    ActionKind.ON_AIR: "go_live",
    ActionKind.STOP_PROGRAMME: "end",
    ActionKind.PREPARE_BROADCAST: "prepare",
    ActionKind.ATTACH_OUTPUT: "standby",
    ActionKind.GO_LIVE: "go_live",
    ActionKind.END_BROADCAST: "end",
}


def action_id(kind: ActionKind, session: str, destination: str | None = None, *, cue: str | None = None) -> str:
    """The stable id of an action: `S/prepare`, `S/D/standby`, `S/cue/03-clip`, …"""
    if kind == ActionKind.CUE:
        if cue is None or destination is not None:
            raise ValueError("a cue's id needs the cue's name and no destination")
        return f"{session}/cue/{cue}"
    if kind.for_destination != (destination is not None):
        where = "a destination" if kind.for_destination else "no destination"
        raise ValueError(f"an action of kind {kind.value} needs {where}")
    base = f"{session}/{destination}" if destination is not None else session
    return f"{base}/{_ID_VERB[kind]}"


# Order of actions due at the same instant: a destination is handed over (the previous session's
# output ends) before the next session takes it, and a session is on air before its first cue.
_RANK = {
    ActionKind.END_BROADCAST: 0,
    ActionKind.STOP_PROGRAMME: 1,
    ActionKind.PREPARE_MEDIA: 2,
    ActionKind.PREPARE_BROADCAST: 3,
    ActionKind.START_PROGRAMME: 4,
    ActionKind.ATTACH_OUTPUT: 5,
    ActionKind.ON_AIR: 6,
    ActionKind.GO_LIVE: 7,
    ActionKind.CUE: 8,
}


@dataclass(frozen=True)
class Action:
    id: str
    kind: ActionKind
    session: str
    at: datetime  # event time (UTC) it is due
    destination: str | None = None
    after: tuple[str, ...] = field(default=())  # ids that must have run first
    cue: Cue | None = None
    label: str = ""

    @property
    def rank(self) -> int:
        return _RANK[self.kind]

    def sort_key(self) -> tuple[datetime, int, str]:
        return (self.at, self.rank, self.id)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "session": self.session,
            "destination": self.destination,
            "at": self.at.isoformat(),
            "after": list(self.after),
            "label": self.label,
        }
