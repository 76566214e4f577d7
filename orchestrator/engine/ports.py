"""The ports: what the engine asks of the outside world. Adapters implement them; the engine and
the core never import an adapter.

Every call that changes something outside carries the plan's action id, so that an adapter can be
idempotent: the same id twice (a retry, a restart) must not create a second broadcast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from orchestrator.planning.cues import Cue, CueSheet
from orchestrator.schedule.model import Destination, Session


@dataclass(frozen=True)
class IngestTarget:
    """Where one output publishes. `url` is the RTMP application or SRT address (or a file path for
    a recording); the key is kept apart as a secret and joined only at the moment of publishing."""

    url: str
    key: SecretStr | None = None
    passphrase: SecretStr | None = None  # SRT encryption; joined like the key, only when publishing

    def publish_url(self) -> SecretStr:
        url = self.url
        if self.passphrase is not None and url.startswith("srt://"):
            url = f"{url}{'&' if '?' in url else '?'}passphrase={self.passphrase.get_secret_value()}"
        if self.key is None or not self.key.get_secret_value():
            return SecretStr(url)
        key = self.key.get_secret_value()
        if url.startswith("srt://"):  # SRT carries the key as the stream id, not in the path
            return SecretStr(f"{url}{'&' if '?' in url else '?'}streamid={key}")
        return SecretStr(url.rstrip("/") + "/" + key)


@dataclass(frozen=True)
class OutputSpec:
    """One destination's feed of one session: the language programme it takes and where it goes."""

    destination_id: str
    session_id: str
    language: str
    kind: str  # "file" | "rtmp"
    primary: IngestTarget
    backup: IngestTarget | None = None
    redundancy: str = "both"  # "both": push primary and backup; "failover": backup only when primary fails


@dataclass
class OutputReport:
    destination_id: str
    session_id: str
    target: str  # masked URL or file path
    frames: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CueApplied:
    """The programme's receipt for a cue: on which frame, at what event time, it took effect."""

    cue_id: str
    session_id: str
    scheduled: datetime
    applied: datetime  # event time of the first frame that showed it
    applied_wall: float
    frame_index: int
    fallback: str | None = None  # set when the wanted source could not be shown and what was shown instead


class MediaPlane(Protocol):
    """The media plane: builds each session's programme and feeds its outputs."""

    async def prepare(self, cue_sheet: CueSheet) -> list[str]:
        """Check and pre-open what the session needs (clips exist and decode). Returns problems
        found (each naming the clip and the segment); never raises for a missing clip."""

    async def start(self, session_id: str) -> None:
        """Start producing frames for the session (the stand-by slate until the first cue)."""

    async def attach_output(self, output: OutputSpec) -> None:
        """Start feeding one destination from the session's programme in its language."""

    async def detach_output(self, session_id: str, destination_id: str) -> OutputReport: ...

    def arm(self, session_id: str, cue: Cue) -> None:
        """Hand a cue over ahead of its time; it is applied on the first frame at or after `cue.at`."""

    async def stop(self, session_id: str) -> list[OutputReport]:
        """Stop the session's programme, close its outputs cleanly, return what went out."""

    def applied_cues(self) -> list[CueApplied]: ...

    def on_cue(self, listener: Callable[[CueApplied], None]) -> None:
        """Call `listener` with each cue's receipt as it takes effect (from the media's own thread)."""

    async def close(self) -> None: ...


@dataclass
class PreparedDestination:
    """What a platform adapter hands back when a session is prepared on a destination."""

    destination_id: str
    session_id: str
    primary: IngestTarget
    backup: IngestTarget | None = None
    platform_ids: dict[str, str] = field(default_factory=dict)  # e.g. {"broadcast": "...", "stream": "..."}
    watch_url: str | None = None


@dataclass
class DestinationHealth:
    destination_id: str
    ok: bool
    status: str  # the platform's own word: "active", "LIVE", "noData", …
    detail: str = ""


@runtime_checkable
class Platform(Protocol):
    """One destination kind (YouTube, Facebook, generic RTMP, file)."""

    kind: str

    async def prepare(self, action_id: str, session: Session, destination: Destination) -> PreparedDestination:
        """Create or find the session's broadcast on the destination and return its ingest."""

    async def go_live(self, action_id: str, session: Session, destination: Destination) -> None: ...

    async def end(self, action_id: str, session: Session, destination: Destination) -> None: ...

    async def health(self, session: Session, destination: Destination) -> DestinationHealth: ...


class Journal(Protocol):
    """Append-only record of what was executed (and of platform ids created), surviving a crash."""

    def done(self, action_id: str) -> bool:
        """Finished for good (ok, or skipped by policy); a failed action is not done: it is retried."""

    def outcome(self, action_id: str) -> str | None: ...

    def detail(self, action_id: str) -> Mapping[str, Any] | None:
        """What the action's latest outcome recorded (e.g. a cue's frame), None if never finished."""

    def begin(self, action_id: str, at: str) -> None:
        """An attempt starts (written before the ports are called)."""

    def record(
        self,
        action_id: str,
        *,
        kind: str,
        session: str,
        destination: str | None,
        scheduled: str,
        executed: str | None,
        error_ms: float | None,
        outcome: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None: ...

    def record_state(self, session: str, state: str, at: str) -> None: ...

    def remember(self, key: str, value: str) -> None: ...

    def recall(self, key: str) -> str | None: ...

    def forget(self, key: str) -> None: ...


class Notifier(Protocol):
    """Where adapters raise alerts for the operators (the engine's event bus implements it)."""

    def alert(
        self, level: str, message: str, *, session: str | None = None, destination: str | None = None
    ) -> None: ...


class LiveIngest(Protocol):
    """Where the participants adapter hands over what people send (the media plane's
    `RemoteSourceRegistry` implements it; an SFU adapter would too). Tracks are aiortc
    `MediaStreamTrack`s, typed loosely here because the engine does not import aiortc. Register on
    the event loop's thread."""

    def register(self, speaker_id: str, video: Any | None, audio: Any | None = None) -> Any: ...

    def register_booth(self, booth_id: str, audio: Any) -> Any: ...

    async def unregister(self, speaker_id: str) -> None: ...

    async def unregister_booth(self, booth_id: str) -> None: ...


class ReturnFeeds(Protocol):
    """What people hear and see back (the media plane implements it): a speaker's green-room feed
    (the programme's picture at a low rate, its sound minus the speaker's own voice) and an
    interpreter's floor (the session's original sound, low delay). Each call returns new aiortc
    tracks for one peer connection; None when the session has no programme running yet."""

    def return_feed(self, session_id: str, minus: str | None) -> tuple[Any, Any] | None: ...

    def floor_feed(self, session_id: str) -> Any | None: ...


@dataclass(frozen=True)
class Meter:
    """One language programme's sound as it goes out: EBU R128 loudness (LUFS; None while too
    little has been heard, -inf-like silence as None too) and the sample peak (dBFS)."""

    language: str
    momentary_lufs: float | None  # the last 400 ms
    short_term_lufs: float | None  # the last 3 s
    peak_dbfs: float | None


@dataclass(frozen=True)
class OutputStats:
    destination_id: str
    reconnects: int  # publisher restarts after a lost connection
    bytes: int | None  # written so far (a network output: what its publisher process acknowledged)


class OperatorMedia(Protocol):
    """What the control room asks of the media plane beyond the runner's port (the media plane's
    "operator overrides" block implements it)."""

    def arm(self, session_id: str, cue: Cue) -> None: ...

    def withdraw(self, session_id: str, cue_id: str) -> bool:
        """Take an armed cue back before it is applied; False when it was not armed (or taken)."""

    def current_cue(self, session_id: str) -> Cue | None:
        """The cue on the programme now (None before the first, or with no programme)."""

    def fallback_cue(self, session_id: str, cue_id: str, at: datetime) -> Cue | None:
        """A cue that puts the live source's fallback on at `at` (its backup at the matching
        offset, else its slate); None when what is on air is not a live source."""

    def thumbnail(self, session_id: str) -> bytes | None:
        """The programme's latest picture as a small JPEG (about one a second), None without one."""

    def preview(self, cue: Cue) -> bytes | None:
        """What a cue will show, as a small JPEG (blocking: off the event loop)."""

    def meters(self, session_id: str) -> list[Meter]: ...

    def output_stats(self, session_id: str) -> list[OutputStats]:
        """The session's attached outputs as they run: reconnects, bytes out where known."""


@runtime_checkable
class LanguageRouter(Protocol):
    """A language programme's sound: "auto" (what the schedule says), "floor", or a booth id."""

    def route(self, session_id: str, language: str, mode: str) -> None: ...
