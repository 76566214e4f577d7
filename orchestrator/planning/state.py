"""The session state machine (pure core).

scheduled → preparing → standby → live → ended, plus `overrun` (still on air past the planned end,
e.g. the operator holds it) and `cancelled` (before it goes on air). Any other move is refused with
an error naming the session, where it is and where it was asked to go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class SessionState(StrEnum):
    SCHEDULED = "scheduled"
    PREPARING = "preparing"
    STANDBY = "standby"
    LIVE = "live"
    OVERRUN = "overrun"
    ENDED = "ended"
    CANCELLED = "cancelled"


ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.SCHEDULED: frozenset({SessionState.PREPARING, SessionState.CANCELLED}),
    SessionState.PREPARING: frozenset({SessionState.STANDBY, SessionState.CANCELLED}),
    SessionState.STANDBY: frozenset({SessionState.LIVE, SessionState.CANCELLED}),
    SessionState.LIVE: frozenset({SessionState.ENDED, SessionState.OVERRUN}),
    SessionState.OVERRUN: frozenset({SessionState.ENDED}),
    SessionState.ENDED: frozenset(),
    SessionState.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, session_id: str, current: SessionState, wanted: SessionState) -> None:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "nothing (it is final)"
        super().__init__(
            f"session '{session_id}' is {current.value} and cannot become {wanted.value}; from {current.value} it may go to: {allowed}"
        )
        self.session_id = session_id
        self.current = current
        self.wanted = wanted


@dataclass
class SessionMachine:
    session_id: str
    state: SessionState = SessionState.SCHEDULED
    history: list[tuple[SessionState, datetime]] = field(default_factory=list)

    def can(self, wanted: SessionState) -> bool:
        return wanted in ALLOWED[self.state]

    def move(self, wanted: SessionState, at: datetime) -> SessionState:
        if wanted == self.state:
            return self.state  # a repeated command (retry, restart) is not an error
        if not self.can(wanted):
            raise IllegalTransition(self.session_id, self.state, wanted)
        self.state = wanted
        self.history.append((wanted, at))
        return wanted

    def entered(self, state: SessionState) -> datetime | None:
        return next((t for s, t in self.history if s == state), None)
