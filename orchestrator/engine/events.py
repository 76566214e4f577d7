"""What happens during a run, as typed events, and the one port observers subscribe through.

The runner publishes every event to an `EventBus`; the dashboard, the live table, the report and
the run summary subscribe to it (or read the runner's `RunView` snapshot, which is built from the
same events). No observer reads the runner's attributes.

Events carry no secret: ingests travel masked. Adapters raise alerts through the same bus (it is
their `Notifier`), from any thread: events published off the event loop are handed to it, so
observers are always called on the loop, in order.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from orchestrator.clock import Clock
from orchestrator.planning.actions import Action
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionState
from orchestrator.redaction import Secrets
from orchestrator.schedule.model import Destination

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: str  # ok | failed | skipped
    executed: datetime | None = None  # event time it ran (for a cue: the frame it took effect on)
    error_ms: float | None = None  # how late, in wall milliseconds
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def from_journal(self) -> bool:
        """Done before a restart: the journal says so, this process did not run it."""
        return bool(self.detail.get("from_journal"))


@dataclass(frozen=True)
class RunStarted:
    event_id: str
    plan: Plan
    destinations: Mapping[str, Destination]  # what each destination id really is in this run
    at: datetime


@dataclass(frozen=True)
class RunFinished:
    at: datetime


@dataclass(frozen=True)
class ActionStarted:
    action: Action
    at: datetime
    late_ms: float


@dataclass(frozen=True)
class ActionFinished:
    result: ActionResult


@dataclass(frozen=True)
class SessionStateChanged:
    session: str
    state: SessionState
    at: datetime


@dataclass(frozen=True)
class OutputPrepared:
    """A platform handed out a session's ingest on a destination (shown masked)."""

    session: str
    destination: str
    ingest: str
    backup_ingest: str | None
    platform_ids: Mapping[str, str]
    watch_url: str | None
    at: datetime


@dataclass(frozen=True)
class OutputAttached:
    session: str
    destination: str
    at: datetime


@dataclass(frozen=True)
class OutputDetached:
    session: str
    destination: str
    at: datetime
    frames: int = 0
    bytes: int = 0
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CueTaken:
    """A cue took the programme: on which frame, at what event time, how late."""

    cue_id: str
    session: str
    scheduled: datetime
    applied: datetime
    error_ms: float
    frame_index: int
    fallback: str | None = None


@dataclass(frozen=True)
class AlertRaised:
    level: str  # error | warning | info
    message: str  # masked
    session: str | None
    destination: str | None
    at: datetime
    restored: bool = False  # raised by an earlier process of this run, read back from the journal


@dataclass(frozen=True)
class ParticipantChanged:
    """A speaker's or interpreter's connection: joined the green room, on air, dropped, left.
    `state` is one of not_joined | checking | green_room | on_air | dropped | left; the figures are
    the latest the peer connection reported (None when unknown)."""

    person: str
    role: str  # speaker | interpreter
    state: str
    at: datetime
    session: str | None = None
    device: str | None = None  # the browser or encoder's own description (user agent, "OBS WHIP")
    resolution: str | None = None  # e.g. "640x360"
    rtt_ms: float | None = None
    loss_pct: float | None = None
    fps: float | None = None
    kbps: float | None = None
    detail: str | None = None  # masked


@dataclass(frozen=True)
class BoothChanged:
    """A booth's duty (published by the participants adapter): who is on, since when, whether a
    handover is due, whether the interpreter on duty has their microphone open."""

    booth: str
    session: str | None
    on_duty: str | None  # interpreter id
    partner: str | None
    on_duty_since: datetime | None
    at: datetime
    handover_due: bool = False
    mic_open: bool = False


@dataclass(frozen=True)
class RouteChanged:
    """What a language programme carries now (published by the media plane): the floor, a booth, or
    the floor ducked because the booth went silent. `reason`: schedule | operator | silence | recovered."""

    session: str
    language: str
    source: str  # "floor" or a booth id
    at: datetime
    reason: str = "schedule"
    silent: bool = False  # the booth's channel is silent while the floor speaks


@dataclass(frozen=True)
class FallbackChanged:
    """A live source lost (active) or regained (not active) mid-programme (published by the media
    plane). `shown` is what replaced it: backup (the pre-recorded backup at its offset) or slate."""

    session: str
    person: str
    active: bool
    at: datetime
    shown: str | None = None
    frames: int = 0  # frames the fallback lasted (on the return)
    reason: str | None = None


@dataclass(frozen=True)
class OverrideApplied:
    """An operator's command took effect (journalled before this is published): who, what, on which
    session, with which arguments, and what it did (`detail`, masked). `seq` is the journal's."""

    seq: int
    who: str
    command: str  # take | hold | resume | extend | skip | fallback | route | restart_output | cancel | acknowledge
    session: str | None
    args: Mapping[str, Any]
    at: datetime
    detail: str = ""
    restored: bool = False  # given to an earlier process of this run, read back from the journal


@dataclass(frozen=True)
class PlanChanged:
    """The plan was changed under the runner (an operator extended, shortened or cancelled a
    session): observers replace theirs, results so far stay."""

    plan: Plan
    at: datetime
    reason: str


RunEvent = (
    RunStarted
    | RunFinished
    | ActionStarted
    | ActionFinished
    | SessionStateChanged
    | OutputPrepared
    | OutputAttached
    | OutputDetached
    | CueTaken
    | AlertRaised
    | ParticipantChanged
    | BoothChanged
    | RouteChanged
    | FallbackChanged
    | OverrideApplied
    | PlanChanged
)


class Observer(Protocol):
    def __call__(self, event: RunEvent) -> None: ...


class EventBus:
    """Fans every event out to its observers, on the event loop. Also the adapters' `Notifier`."""

    def __init__(self, clock: Clock, secrets: Secrets | None = None) -> None:
        self.clock = clock
        self.secrets = secrets if secrets is not None else Secrets()
        self._observers: list[Observer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Add an observer; returns the call that removes it. Subscribing twice has no effect."""
        if observer not in self._observers:
            self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Events published from other threads go to this loop (the runner binds its own)."""
        self._loop, self._loop_thread = loop, threading.get_ident()

    def publish(self, event: RunEvent) -> None:
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, event)
        else:
            self._dispatch(event)

    def _dispatch(self, event: RunEvent) -> None:
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception:  # an observer's bug must not stop the run or the other observers
                log.exception("observer_failed", observer=repr(observer), event=type(event).__name__)

    # -- Notifier (what adapters call) --------------------------------------------------------

    def alert(self, level: str, message: str, *, session: str | None = None, destination: str | None = None) -> None:
        self.publish(AlertRaised(level.lower(), self.secrets.redact(message), session, destination, self.clock.now()))


class LogObserver:
    """Alerts and session states as log lines (what a run without a dashboard shows)."""

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, AlertRaised) and not event.restored:  # a restored one was logged when raised
            fields = {"message": event.message, "session": event.session, "destination": event.destination}
            (log.error if event.level == "error" else log.warning)("alert", level=event.level, **fields)
        elif isinstance(event, SessionStateChanged):
            log.info("session_state", session=event.session, state=event.state.value, at=event.at.isoformat())
