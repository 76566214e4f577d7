"""The schedule: one event, its sessions and rundowns, speakers, interpreters, clips and destinations.

Pure pydantic v2 models. Field-level checks live on the fields; checks that need the whole document
(references, overlaps, language coverage) live in `orchestrator.schedule.checks` so that every
problem is reported at once with its path, not only the first.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

# ---------------------------------------------------------------------------------------------
# Small types


_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def _parse_duration(value: object) -> object:
    """Accept "1h30m", "90m", "45s", "1h", a number of seconds, or an ISO 8601 duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and not value.strip().upper().startswith("P"):
        m = _DURATION.match(value)
        if not m or not any(m.groups()):
            raise ValueError(f"'{value}' is not a duration (write e.g. 90m, 1h30m, 45s)")
        h, mi, s = m.groups()
        return timedelta(hours=int(h or 0), minutes=int(mi or 0), seconds=float(s or 0))
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration), AfterValidator(_positive)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no time zone: write it with an offset, e.g. {value.isoformat()}+09:00"
        )
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

Identifier = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64, description="lower-case letters, digits, - and _"),
]

LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", description="ISO 639-1 code, e.g. ko, en")]


class Strict(BaseModel):
    """Every schedule model refuses unknown keys: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Strict):
    """A text in several languages; at least one."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def get(self, language: str, fallback: str | None = None) -> str:
        data: dict[str, str] = self.model_dump()
        if language in data:
            return data[language]
        if fallback and fallback in data:
            return data[fallback]
        return next(iter(data.values()))

    @property
    def languages(self) -> list[str]:
        return list(self.model_dump())


def _check_localized(value: Localized) -> Localized:
    data = value.model_dump()
    if not data:
        raise ValueError("give the text in at least one language, e.g. {en: ..., ko: ...}")
    for lang, text in data.items():
        if not re.fullmatch(r"[a-z]{2,3}", lang):
            raise ValueError(f"'{lang}' is not a language code (use ko, en, …)")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"the {lang} text is empty")
    return value


def _str_to_localized(value: object) -> object:
    return {"en": value} if isinstance(value, str) else value


Text = Annotated[Localized, BeforeValidator(_str_to_localized), AfterValidator(_check_localized)]


# ---------------------------------------------------------------------------------------------
# People


class Appearance(StrEnum):
    STUDIO = "studio"  # in the studio / on site
    LIVE = "live"  # joins live from elsewhere (WebRTC)
    PRERECORDED = "prerecorded"  # sends a recorded video


class Speaker(Strict):
    id: Identifier
    name: str = Field(min_length=1)
    name_local: str | None = None  # the name in the host's language, e.g. Korean
    city: str | None = None
    country: str | None = None
    role: str | None = None
    languages: list[LanguageCode] = Field(min_length=1, description="first is the one they speak on air")
    appearance: Appearance
    clip: Identifier | None = Field(None, description="their recording (prerecorded speakers)")
    backup_clip: Identifier | None = Field(None, description="recording played if the live link fails")
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            _zone(v)
        return v


class Interpreter(Strict):
    id: Identifier
    name: str = Field(min_length=1)
    languages: list[LanguageCode] = Field(min_length=2)


class InterpretationFeedSpec(Strict):
    """What a booth's channel carries in a rehearsal, before interpreters join live."""

    kind: Literal["tone", "clip", "silence"] = "tone"
    tone_hz: float = Field(660.0, gt=20, lt=20000)
    clip: Identifier | None = None


class Booth(Strict):
    """An interpretation booth: interprets between two languages, staffed by a team taking turns."""

    id: Identifier
    languages: tuple[LanguageCode, LanguageCode]
    interpreters: list[Identifier] = Field(min_length=1)
    handover_every: Duration = Field(default=timedelta(minutes=30), description="turn length in the booth")
    rehearsal_feed: InterpretationFeedSpec = Field(default_factory=InterpretationFeedSpec)
    on_silence: Literal["floor", "floor_ducked", "keep"] = Field(
        "floor_ducked", description="what the language programme carries while the booth on duty is silent"
    )

    @field_validator("languages")
    @classmethod
    def _two_languages(cls, v: tuple[str, str]) -> tuple[str, str]:
        if v[0] == v[1]:
            raise ValueError(f"a booth interprets between two different languages, not {v[0]} and {v[1]}")
        return v


# ---------------------------------------------------------------------------------------------
# Media


class Clip(Strict):
    id: Identifier
    path: str = Field(min_length=1, description="relative to the schedule's media folder")
    duration: Duration
    language: LanguageCode | None = None
    title: str | None = None


# ---------------------------------------------------------------------------------------------
# Destinations


class DestinationBase(Strict):
    id: Identifier
    name: str | None = None
    language: LanguageCode
    loudness_lufs: float | None = Field(
        None, ge=-40, le=-5, description="integrated loudness target; default −14 (YouTube, Facebook), −23 (others)"
    )

    def loudness_target(self) -> float:
        if self.loudness_lufs is not None:
            return self.loudness_lufs
        return -14.0 if getattr(self, "kind", None) in ("youtube", "facebook") else -23.0


class YouTubeDestination(DestinationBase):
    kind: Literal["youtube"]
    channel: str = Field(min_length=1, description="the channel's name in config/credentials")
    credentials: str = Field(min_length=1, description="name of the credential set (config or environment)")
    privacy: Literal["public", "unlisted", "private"] = "public"
    stream_per_session: bool = False


class FacebookDestination(DestinationBase):
    kind: Literal["facebook"]
    page: str = Field(min_length=1)
    credentials: str = Field(min_length=1)


class RtmpDestination(DestinationBase):
    kind: Literal["rtmp"]
    url: str = Field(pattern=r"^(rtmps?|srt)://", description="ingest URL without the key")
    key: str | None = Field(None, description="name of the credential that holds the stream key")
    backup_url: str | None = Field(None, pattern=r"^(rtmps?|srt)://")


class FileDestination(DestinationBase):
    kind: Literal["file"]
    path: str = Field("{event}/{session}/{destination}.flv", description="recording path template")


Destination = Annotated[
    YouTubeDestination | FacebookDestination | RtmpDestination | FileDestination,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------------------------
# Rundown segments


class SegmentBase(Strict):
    id: Identifier | None = None
    title: str | None = None
    duration: Duration | None = None
    language: LanguageCode | None = Field(None, description="language spoken; defaults from the speaker")
    transition: Literal["cut", "fade"] = Field("cut", description="how this segment takes the programme")
    fade_ms: int = Field(500, ge=40, le=5000, description="length of a fade")


class StudioSegment(SegmentBase):
    kind: Literal["studio"]
    speaker: Identifier | None = None
    speakers: list[Identifier] = Field(default_factory=list)
    duration: Duration


class RemoteSegment(SegmentBase):
    kind: Literal["remote"]
    speaker: Identifier
    duration: Duration
    return_to_live: bool = Field(True, description="after a drop, cut back to the speaker once they are stable")


class ClipSegment(SegmentBase):
    kind: Literal["clip"]
    clip: Identifier
    speaker: Identifier | None = None
    offset: Duration | None = Field(None, description="start this far into the clip")


class SlateSegment(SegmentBase):
    kind: Literal["slate"]
    text: str | None = None
    duration: Duration


class BreakSegment(SegmentBase):
    kind: Literal["break"]
    duration: Duration


Segment = Annotated[
    StudioSegment | RemoteSegment | ClipSegment | SlateSegment | BreakSegment,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------------------------
# Sessions and the event


class Session(Strict):
    id: Identifier
    title: Text
    description: Text | None = None
    start: AwareDatetime
    end: AwareDatetime
    floor_language: LanguageCode
    outputs: list[Identifier] = Field(min_length=1, description="destination ids that carry this session")
    booths: list[Identifier] = Field(default_factory=list, description="interpretation booths on duty")
    rundown: list[Segment] = Field(min_length=1)
    venue: str | None = None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


class EventInfo(Strict):
    id: Identifier
    name: Text
    timezone: str
    days: list[date] = Field(default_factory=list)
    max_session: Duration | None = Field(None, description="the longest a session may run")
    venue: str | None = None
    hybrid: bool = False
    studio_feed: str | None = Field(
        None, description="URL the studio mixer pushes (rtmp://, srt://, or a file); studio segments show it"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        _zone(v)
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Schedule(Strict):
    """One schedule file: the whole event."""

    event: EventInfo
    speakers: list[Speaker] = Field(default_factory=list)
    interpreters: list[Interpreter] = Field(default_factory=list)
    booths: list[Booth] = Field(default_factory=list)
    clips: list[Clip] = Field(default_factory=list)
    destinations: list[Destination] = Field(min_length=1)
    sessions: list[Session] = Field(min_length=1)

    # Lookups by id (the checks guarantee ids are unique before anyone relies on these).
    def speaker(self, sid: str) -> Speaker:
        return next(s for s in self.speakers if s.id == sid)

    def clip(self, cid: str) -> Clip:
        return next(c for c in self.clips if c.id == cid)

    def booth(self, bid: str) -> Booth:
        return next(b for b in self.booths if b.id == bid)

    def destination(self, did: str) -> YouTubeDestination | FacebookDestination | RtmpDestination | FileDestination:
        return next(d for d in self.destinations if d.id == did)

    def session(self, sid: str) -> Session:
        return next(s for s in self.sessions if s.id == sid)

    def output_languages(self, session: Session) -> list[str]:
        langs: list[str] = []
        for did in session.outputs:
            lang = self.destination(did).language
            if lang not in langs:
                langs.append(lang)
        return langs


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not a known time zone (write e.g. Asia/Seoul)") from None
