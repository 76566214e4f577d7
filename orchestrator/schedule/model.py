"""The schedule: one event, its sessions and rundowns, speakers, interpreters, clips and destinations.

Pure pydantic v2 models. Field-level checks live on the fields; checks that need the whole document
(references, overlaps, language coverage) live in `orchestrator.schedule.checks` so that every
problem is reported at once with its path, not only the first.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# ---------------------------------------------------------------------------------------------
# Small types


_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")
MAX_DURATION = timedelta(days=31)  # longer than any event: beyond it a number is a typo


def _parse_duration(value: object) -> object:
    """Accept "1h30m", "90m", "45s", "1h", a number of seconds, or an ISO 8601 duration.

    `true` is refused (pydantic would read it as one second), and so is a length beyond
    MAX_DURATION or not finite (timedelta would overflow with a traceback)."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a duration (write e.g. 90m, 1h30m, 45s)")
    try:
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or abs(value) > MAX_DURATION.total_seconds():
                raise ValueError(f"{value} seconds is not a usable duration (at most {MAX_DURATION.days} days)")
            return timedelta(seconds=value)
        if isinstance(value, str) and not value.strip().upper().startswith("P"):
            m = _DURATION.match(value)
            if not m or not any(m.groups()):
                raise ValueError(f"'{value[:40]}' is not a duration (write e.g. 90m, 1h30m, 45s)")
            h, mi, s = m.groups()
            length = timedelta(hours=int(h or 0), minutes=int(mi or 0), seconds=float(s or 0))
            if length > MAX_DURATION:
                raise ValueError(f"'{value}' is longer than {MAX_DURATION.days} days")
            return length
    except OverflowError:
        raise ValueError(f"'{str(value)[:40]}' is too long to be a duration") from None
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    if value > MAX_DURATION:
        raise ValueError(f"is longer than {MAX_DURATION.days} days")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration), AfterValidator(_positive)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no time zone: write it with an offset, e.g. {value.isoformat()}+09:00"
        )
    return value


def _not_a_number(what: str, example: str) -> object:
    def check(value: object) -> object:
        # pydantic would read 1774771200 (or "1774771200") as seconds since 1970: in a schedule that
        # is a slip, not a way to write a date.
        if isinstance(value, (bool, int, float)) or (
            isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d*)?\s*", value)
        ):
            raise ValueError(f"{value!r} is a number, not a {what}: write it as {example}")
        return value

    return check


def _plausible_year(value: datetime) -> datetime:
    if not 1970 <= value.year <= 2999:
        raise ValueError(f"the year {value.year} is not a plausible one for an event")
    return value


AwareDatetime = Annotated[
    datetime,
    BeforeValidator(_not_a_number("date and time", "2026-03-29T10:00:00+02:00")),
    AfterValidator(_aware),
    AfterValidator(_plausible_year),
]
EventDay = Annotated[date, BeforeValidator(_not_a_number("date", "2026-03-29"))]


def _not_a_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number")
    return value


StrictInt = Annotated[int, BeforeValidator(_not_a_bool)]
StrictFloat = Annotated[float, BeforeValidator(_not_a_bool)]

# A credential NAME (the value lives in the secrets file or the environment): short words joined by
# - _ or . — refused when it looks like a pasted token or key, and never echoed back in that case.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_YOUTUBE_KEY = re.compile(r"[a-z0-9]{4}(-[a-z0-9]{4}){3,}")


def looks_like_secret(text: str) -> bool:
    """True for what reads like a token, key or passphrase rather than a name a person chose."""
    if _YOUTUBE_KEY.fullmatch(text.lower()):
        return True
    for word in re.split(r"[-_.]", text):
        if len(word) >= 20:
            return True
        has_digit, has_alpha = any(c.isdigit() for c in word), any(c.isalpha() for c in word)
        mixed_case = any(c.isupper() for c in word) and any(c.islower() for c in word)
        if len(word) >= 10 and has_digit and has_alpha and (mixed_case or sum(c.isdigit() for c in word) >= 4):
            return True
        if len(word) >= 12 and mixed_case and sum(c.isupper() for c in word) >= 3:
            return True
    return False


def _credential_name(value: str) -> str:
    if not _NAME.fullmatch(value) or looks_like_secret(value):
        raise ValueError(
            "this is not a credential name (it looks like a pasted token or key, which a schedule must not "
            "hold): put the secret in the secrets file or the environment under a name such as "
            "seoul-youtube, and write that name here"
        )
    return value


CredentialName = Annotated[str, AfterValidator(_credential_name)]

# Query parameters that carry a secret, with the field that holds it instead.
_SECRET_PARAMS = {
    "passphrase": "passphrase",
    "key": "key",
    "streamkey": "key",
    "stream_key": "key",
    "token": "key",
    "access_token": "key",
    "auth": "key",
    "password": "key",
    "pass": "key",
    "secret": "key",
    "sig": "key",
    "signature": "key",
}


def _secret_free_url(value: str) -> str:
    """Refuse a URL that carries a secret: userinfo, a secret query parameter, or a key in the path.
    The message names the field for the secret and never repeats the URL."""
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise ValueError(
            "the URL carries a user name or password (user:password@host): ingest URLs hold no secrets; "
            "name a credential in `key` instead"
        )
    for name, param_value in parse_qsl(parts.query, keep_blank_values=True):
        field = _SECRET_PARAMS.get(name.lower())
        if field == "passphrase":
            raise ValueError(
                "the URL carries an SRT passphrase: write the URL without it and name the credential "
                "that holds it in `passphrase`"
            )
        if field or (name.lower() == "streamid" and looks_like_secret(param_value)):
            raise ValueError(
                f"the URL carries a secret in its '{name}' parameter: write the URL without it and name "
                "the credential that holds the stream key in `key`"
            )
    if any(looks_like_secret(segment) for segment in parts.path.split("/") if segment):
        raise ValueError(
            "the URL's path ends in what looks like a stream key: write the ingest URL without it "
            "(e.g. rtmp://host/live2) and name the credential that holds the key in `key`"
        )
    return value


def _ingest_url(value: str) -> str:
    if not re.match(r"^(rtmps?|srt)://[^/\s?#]+", value):
        raise ValueError("must be an rtmp://, rtmps:// or srt:// URL with a host")
    return _secret_free_url(value)


IngestUrl = Annotated[str, AfterValidator(_ingest_url)]

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
    tone_hz: StrictFloat = Field(660.0, gt=20, lt=20000)
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


def _media_relative(value: str) -> str:
    """A clip's path must name a file inside the media folder: relative, no `..` out of it, not a
    URL, a device or a home-relative path. (Whether the file is there is the loader's check.)"""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        raise ValueError(f"'{value}' is a URL: a clip is a file in the media folder")
    p = PurePosixPath(value.replace("\\", "/"))
    if p.is_absolute() or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"'{value}' is an absolute path: write it relative to the media folder")
    if value.startswith("~"):
        raise ValueError(f"'{value}' is relative to a home folder: write it relative to the media folder")
    depth = 0
    for part in p.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            raise ValueError(f"'{value}' leads outside the media folder")
    return value


class Clip(Strict):
    id: Identifier
    path: Annotated[str, AfterValidator(_media_relative)] = Field(
        min_length=1, description="relative to the schedule's media folder"
    )
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
    credentials: CredentialName = Field(description="name of the credential set (config or environment)")
    privacy: Literal["public", "unlisted", "private"] = "public"
    stream_per_session: bool = False


class FacebookDestination(DestinationBase):
    kind: Literal["facebook"]
    page: str = Field(min_length=1)
    credentials: CredentialName


class RtmpDestination(DestinationBase):
    kind: Literal["rtmp"]
    url: IngestUrl = Field(description="ingest URL without the key")
    key: CredentialName | None = Field(None, description="name of the credential that holds the stream key")
    backup_url: IngestUrl | None = None
    passphrase: CredentialName | None = Field(
        None, description="SRT only: name of the credential whose `passphrase` field encrypts the stream"
    )

    @model_validator(mode="after")
    def _passphrase_needs_srt(self) -> RtmpDestination:
        if self.passphrase is not None and not self.url.startswith("srt://"):
            raise ValueError("a passphrase encrypts SRT only: this destination's url is not srt://")
        return self


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
    fade_ms: StrictInt = Field(500, ge=40, le=5000, description="length of a fade")


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
    days: list[EventDay] = Field(default_factory=list)
    max_session: Duration | None = Field(None, description="the longest a session may run")
    venue: str | None = None
    hybrid: bool = False
    studio_feed: Annotated[str, AfterValidator(_secret_free_url)] | None = Field(
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
