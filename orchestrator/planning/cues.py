"""What the programme must show and say, as plain values (pure core).

The planner turns every session's rundown into a `CueSheet`: an ordered list of `Cue`s, each
with the event time it takes effect, the picture source, and for every output language the audio
source. The media adapter executes these; it never reads the schedule itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class VideoKind(StrEnum):
    SLATE = "slate"  # a rendered card: title, speaker, city, countdown or "please stand by"
    CLIP = "clip"  # a pre-recorded file
    STUDIO = "studio"  # the studio mixer's feed (URL); a slate naming the speaker until one is given
    REMOTE = "remote"  # a live remote speaker (WebRTC); falls back to `backup` or the stand-by slate


@dataclass(frozen=True)
class Slate:
    title: str
    subtitle: str = ""  # speaker and city, or the session's other-language title
    note: str = ""  # "Please stand by", "Break", …
    countdown_to: datetime | None = None  # show a countdown to this event time


@dataclass(frozen=True)
class VideoSource:
    kind: VideoKind
    slate: Slate | None = None  # for SLATE, and what STUDIO/REMOTE show when their feed is absent
    clip_path: str | None = None  # for CLIP
    clip_offset_s: float = 0.0  # start the clip this far in
    url: str | None = None  # STUDIO feed URL
    speaker_id: str | None = None  # REMOTE / STUDIO / CLIP: who is seen
    backup: VideoSource | None = None  # REMOTE/STUDIO: pre-recorded backup played at the matching offset
    return_to_live: bool = True  # REMOTE/STUDIO: cut back to the live source once it is stable again


class AudioKind(StrEnum):
    FLOOR = "floor"  # the sound of the picture source (studio mic, clip soundtrack, remote speaker)
    INTERPRETATION = "interpretation"  # the booth that interprets into this language
    SILENCE = "silence"


@dataclass(frozen=True)
class InterpretationFeed:
    """Where an interpretation channel's audio comes from until interpreters join live."""

    kind: str  # "tone" (a test tone at `tone_hz`), "clip" (a file), "silence"
    tone_hz: float = 0.0
    clip_path: str | None = None


@dataclass(frozen=True)
class AudioSource:
    kind: AudioKind
    booth_id: str | None = None  # INTERPRETATION: which booth
    from_language: str | None = None
    feed: InterpretationFeed | None = None
    on_silence: str = "floor_ducked"  # INTERPRETATION: floor | floor_ducked | keep, when the booth goes silent


@dataclass(frozen=True)
class Cue:
    """From `at` (event time) until the next cue, show `video` and play `audio[language]`."""

    id: str  # the plan's action id of this cue
    at: datetime
    segment_id: str
    label: str
    video: VideoSource
    audio: dict[str, AudioSource]  # output language → its audio
    spoken_language: str | None = None
    fade_s: float = 0.0  # 0: a cut; else the picture dissolves from the previous source over this long


@dataclass(frozen=True)
class CueSheet:
    session_id: str
    title: str
    start: datetime  # on air
    end: datetime  # off air
    languages: tuple[str, ...]  # the output languages this session needs
    standby: Slate  # shown from stand-by until the first cue
    cues: tuple[Cue, ...] = field(default_factory=tuple)
