"""Actions: the plan's unit of work, plain data with a stable id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from orchestrator.planning.programme import Cue


class ActionKind(StrEnum):
    PREPARE = "prepare"  # session: check media; destination: create/find the broadcast, fetch ingest
    STANDBY = "standby"  # session: programme starts on the stand-by slate; destination: output attached
    GO_LIVE = "go_live"  # session: on air; destination: the platform goes live
    CUE = "cue"  # a rundown segment takes the programme
    END = "end"  # destination: output detached, broadcast completed; session: programme stopped


# Order of actions due at the same instant: a destination is handed over (the previous session's
# output ends) before the next session takes it, and a session is on air before its first cue.
_RANK = {
    (ActionKind.END, True): 0,
    (ActionKind.END, False): 1,
    (ActionKind.PREPARE, False): 2,
    (ActionKind.PREPARE, True): 3,
    (ActionKind.STANDBY, False): 4,
    (ActionKind.STANDBY, True): 5,
    (ActionKind.GO_LIVE, False): 6,
    (ActionKind.GO_LIVE, True): 7,
    (ActionKind.CUE, False): 8,
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
        return _RANK[(self.kind, self.destination is not None)]

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
