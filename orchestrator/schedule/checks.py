"""Whole-document checks a broadcast producer expects, beyond what each field can say alone.

Pure: takes a parsed `Schedule`, returns every problem with its document path. Errors make the file
unusable; warnings are printed but do not stop an event (e.g. a live speaker without a backup).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from orchestrator.schedule.model import (
    Appearance,
    BreakSegment,
    ClipSegment,
    RemoteSegment,
    Schedule,
    Segment,
    Session,
    SlateSegment,
    Speaker,
    StudioSegment,
)

PathPart = str | int


@dataclass(frozen=True)
class Problem:
    path: tuple[PathPart, ...]
    message: str
    severity: Literal["error", "warning"] = "error"


def _fmt(d: timedelta) -> str:
    total = int(d.total_seconds())
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}h" if h else "") + (f"{m:02d}m" if h else f"{m}m") + (f"{s:02d}s" if s else "")


def segment_duration(schedule: Schedule, seg: Segment) -> timedelta | None:
    """A segment's planned length: its own, or for a clip the clip's length after the offset."""
    if seg.duration is not None:
        return seg.duration
    if isinstance(seg, ClipSegment):
        clip = next((c for c in schedule.clips if c.id == seg.clip), None)
        if clip is not None:
            return max(clip.duration - (seg.offset or timedelta(0)), timedelta(0))
    return None


def segment_language(schedule: Schedule, session: Session, seg: Segment) -> str | None:
    """The language spoken during a segment; None where nobody speaks (slates, breaks)."""
    if seg.language:
        return seg.language
    if isinstance(seg, (SlateSegment, BreakSegment)):
        return None
    if isinstance(seg, ClipSegment):
        # A recording's soundtrack is what goes on air (a dubbed or voiced-over address included).
        clip = next((c for c in schedule.clips if c.id == seg.clip), None)
        if clip is not None and clip.language:
            return clip.language
    speaker_id = seg.speaker if not isinstance(seg, StudioSegment) else (seg.speaker or next(iter(seg.speakers), None))
    speaker = next((s for s in schedule.speakers if s.id == speaker_id), None) if speaker_id else None
    if speaker is not None:
        return speaker.languages[0]
    return session.floor_language


def _duplicates(ids: Iterable[str | None], where: tuple[PathPart, ...], what: str = "id") -> list[Problem]:
    """One problem on each repeat of an id, at the repeated item's `id`."""
    ids = list(ids)
    counts = Counter(i for i in ids if i is not None)
    first: dict[str, int] = {}
    problems = []
    for k, i in enumerate(ids):
        if i is None:
            continue
        if i in first:
            problems.append(
                Problem(
                    (*where, k, "id"),
                    f"{what} '{i}' is used {counts[i]} times; ids must be unique (first at #{first[i] + 1})",
                )
            )
        else:
            first[i] = k
    return problems


def check_schedule(schedule: Schedule) -> list[Problem]:
    problems: list[Problem] = []
    for where, items in (
        ("speakers", schedule.speakers),
        ("interpreters", schedule.interpreters),
        ("booths", schedule.booths),
        ("clips", schedule.clips),
        ("destinations", schedule.destinations),
        ("sessions", schedule.sessions),
    ):
        problems += _duplicates((x.id for x in items), (where,))

    speakers = {s.id: s for s in schedule.speakers}
    clips = {c.id for c in schedule.clips}
    interpreters = {i.id: i for i in schedule.interpreters}
    booths = {b.id: b for b in schedule.booths}
    destinations = {d.id: d for d in schedule.destinations}

    for i, sp in enumerate(schedule.speakers):
        for field in ("clip", "backup_clip"):
            ref = getattr(sp, field)
            if ref is not None and ref not in clips:
                problems.append(Problem(("speakers", i, field), f"unknown clip '{ref}' for speaker '{sp.id}'"))
        if sp.appearance == Appearance.PRERECORDED and sp.clip is None:
            problems.append(Problem(("speakers", i, "clip"), f"speaker '{sp.id}' is pre-recorded but names no clip"))

    for i, booth in enumerate(schedule.booths):
        for j, iid in enumerate(booth.interpreters):
            interp = interpreters.get(iid)
            if interp is None:
                problems.append(Problem(("booths", i, "interpreters", j), f"unknown interpreter '{iid}'"))
            elif not set(booth.languages) <= set(interp.languages):
                problems.append(
                    Problem(
                        ("booths", i, "interpreters", j),
                        f"interpreter '{iid}' works in {'/'.join(interp.languages)}, "
                        f"not in both languages of booth '{booth.id}' ({'/'.join(booth.languages)})",
                    )
                )
        feed = booth.rehearsal_feed
        if feed.kind == "clip" and (feed.clip is None or feed.clip not in clips):
            problems.append(Problem(("booths", i, "rehearsal_feed", "clip"), f"unknown clip '{feed.clip}'"))

    max_len = schedule.event.max_session
    days = set(schedule.event.days)
    tz = schedule.event.tz
    for si, session in enumerate(schedule.sessions):
        base = ("sessions", si)
        if session.end <= session.start:
            problems.append(Problem((*base, "end"), f"session '{session.id}' ends before it starts"))
            continue
        if max_len is not None and session.duration > max_len:
            problems.append(
                Problem(
                    (*base, "end"),
                    f"session '{session.id}' runs {_fmt(session.duration)}, longer than the event's limit of {_fmt(max_len)}",
                )
            )
        if days and session.start.astimezone(tz).date() not in days:
            problems.append(
                Problem(
                    (*base, "start"),
                    f"session '{session.id}' starts on {session.start.astimezone(tz).date()}, not one of the event's days",
                )
            )
        for oi, did in enumerate(session.outputs):
            if did not in destinations:
                problems.append(Problem((*base, "outputs", oi), f"unknown destination '{did}'"))
        if len(set(session.outputs)) != len(session.outputs):
            problems.append(Problem((*base, "outputs"), "a destination is listed twice"))
        for bi, bid in enumerate(session.booths):
            if bid not in booths:
                problems.append(Problem((*base, "booths", bi), f"unknown booth '{bid}'"))
        problems += _check_rundown(schedule, si, session, speakers, clips)
        problems += _check_languages(schedule, si, session)

    problems += _check_overlaps(schedule)
    return problems


def _check_rundown(
    schedule: Schedule, si: int, session: Session, speakers: dict[str, Speaker], clips: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    total = timedelta(0)
    problems += _duplicates((seg.id for seg in session.rundown), ("sessions", si, "rundown"), "segment id")
    for gi, seg in enumerate(session.rundown):
        path = ("sessions", si, "rundown", gi)
        refs: list[tuple[tuple[PathPart, ...], str]] = []
        if isinstance(seg, (RemoteSegment, ClipSegment)) and seg.speaker:
            refs.append((("speaker",), seg.speaker))
        if isinstance(seg, StudioSegment):
            if seg.speaker:
                refs.append((("speaker",), seg.speaker))
            refs += [(("speakers", k), s) for k, s in enumerate(seg.speakers)]
        for field, ref in refs:
            if ref not in speakers:
                problems.append(Problem((*path, *field), f"unknown speaker '{ref}'"))
        if isinstance(seg, ClipSegment) and seg.clip not in clips:
            problems.append(Problem((*path, "clip"), f"unknown clip '{seg.clip}'"))
        if isinstance(seg, RemoteSegment) and seg.speaker in speakers:
            sp = speakers[seg.speaker]
            if sp.appearance != Appearance.LIVE:
                problems.append(
                    Problem(
                        (*path, "speaker"),
                        f"speaker '{sp.id}' appears {sp.appearance.value}, not live: use a clip or studio segment",
                    )
                )
            elif sp.backup_clip is None:
                problems.append(
                    Problem(
                        (*path, "speaker"),
                        f"live speaker '{sp.id}' has no backup_clip: a dropped link falls back to the stand-by slate",
                        "warning",
                    )
                )
        length = segment_duration(schedule, seg)
        if length is None:
            continue  # the unknown clip is already reported
        if isinstance(seg, ClipSegment) and seg.clip in clips:
            clip = schedule.clip(seg.clip)
            offset = seg.offset or timedelta(0)
            if offset >= clip.duration:
                problems.append(
                    Problem(
                        (*path, "offset"),
                        f"offset {_fmt(offset)} is past the end of clip '{clip.id}', which lasts {_fmt(clip.duration)}",
                    )
                )
            elif offset + length > clip.duration:
                problems.append(
                    Problem(
                        (*path, "duration"),
                        f"segment plays {_fmt(offset + length)} of clip '{clip.id}', which lasts {_fmt(clip.duration)}",
                    )
                )
        total += length
    if total > session.duration:
        problems.append(
            Problem(
                ("sessions", si, "rundown"),
                f"the rundown of session '{session.id}' lasts {_fmt(total)}, longer than the session ({_fmt(session.duration)})",
            )
        )
    return problems


def _check_languages(schedule: Schedule, si: int, session: Session) -> list[Problem]:
    """Every output language needs a source in every segment: the floor when the speaker speaks
    it, otherwise a booth on duty that interprets between the two languages."""
    problems: list[Problem] = []
    out_langs = [d.language for d in schedule.destinations if d.id in session.outputs]
    on_duty = [b for b in schedule.booths if b.id in session.booths]
    for gi, seg in enumerate(session.rundown):
        spoken = segment_language(schedule, session, seg)
        if spoken is None:
            continue
        for lang in dict.fromkeys(out_langs):
            if lang == spoken:
                continue
            if not any({spoken, lang} == set(b.languages) for b in on_duty):
                problems.append(
                    Problem(
                        ("sessions", si, "rundown", gi),
                        f"spoken in {spoken} but session '{session.id}' has an output in {lang} "
                        f"and no booth on duty interprets {spoken}→{lang}",
                    )
                )
    return problems


def _check_overlaps(schedule: Schedule) -> list[Problem]:
    """Sessions sharing a destination must not overlap. Each session is compared with the one that
    ends last among those that started before it (not only its neighbour), so a session nested in a
    long one is caught even when a short one sits between them."""
    problems: list[Problem] = []
    by_dest: dict[str, list[tuple[int, Session]]] = {}
    for i, s in enumerate(schedule.sessions):
        if s.end <= s.start:
            continue
        for did in dict.fromkeys(s.outputs):
            by_dest.setdefault(did, []).append((i, s))
    for did, sessions in by_dest.items():
        sessions.sort(key=lambda item: item[1].start)
        latest: Session | None = None
        for i, s in sessions:
            if latest is not None and s.start < latest.end:
                problems.append(
                    Problem(
                        ("sessions", i, "start"),
                        f"session '{s.id}' starts before '{latest.id}' ends on destination '{did}'",
                    )
                )
            if latest is None or s.end > latest.end:
                latest = s
    return problems
