"""Whole-document checks a broadcast producer expects, beyond what each field can say alone.

Pure: takes a parsed `Schedule`, returns every problem with its document path. Errors make the file
unusable; warnings are printed but do not stop an event (e.g. a live speaker without a backup).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

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
MIN_RUNDOWN_FILL = 0.5  # a rundown shorter than this share of its session is warned about


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
        for field in ("start", "end"):
            problems += _check_time(schedule.event.timezone, tz, getattr(session, field), (*base, field))
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
    problems += _check_people(schedule)
    return problems


def _offset(d: timedelta | None) -> str:
    minutes = int((d or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}"


def _check_time(zone: str, tz: ZoneInfo, value: datetime, path: tuple[PathPart, ...]) -> list[Problem]:
    """A time written with an offset must agree with the event's zone on that date: a Berlin session
    on the day clocks go forward written `+01:00` would go live an hour off without a word. Times
    written in UTC (`Z`, `+00:00`) are taken as meant; a wall-clock time the zone skips is an error."""
    offset = value.utcoffset()
    if offset == timedelta(0) or offset == value.astimezone(tz).utcoffset():
        return []
    written = value.replace(tzinfo=None)
    local = written.replace(tzinfo=tz)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != written:
        return [
            Problem(
                path,
                f"{written:%H:%M} does not exist in {zone} on {written:%Y-%m-%d}: the clocks skip it "
                "(daylight saving time begins); pick a time before or after the change",
            )
        ]
    expected = local.utcoffset()
    seasons = {datetime(written.year, month, 1, tzinfo=tz).utcoffset() for month in (1, 7)}
    message = (
        f"{written.isoformat(timespec='minutes')}{_offset(offset)} is {value.astimezone(tz):%H:%M} in {zone}, "
        f"whose offset on {written:%Y-%m-%d} is {_offset(expected)}: write "
        f"{written.isoformat(timespec='minutes')}{_offset(expected)} if {written:%H:%M} local time is meant"
    )
    if offset in seasons:  # the zone's other season: the daylight-saving slip
        return [Problem(path, message)]
    return [Problem(path, message + f" (the offset is not {zone}'s at all: is this another place's time?)", "warning")]


@dataclass(frozen=True)
class _Busy:
    start: datetime
    end: datetime
    session: int
    path: tuple[PathPart, ...]
    via: str | None = None  # the booth that puts an interpreter on duty


def _segment_windows(schedule: Schedule, session: Session) -> list[tuple[int, datetime, datetime]]:
    """(segment index, start, end) of each segment as planned, one after the other from the start."""
    out = []
    at = session.start
    for gi, seg in enumerate(session.rundown):
        length = segment_duration(schedule, seg)
        if length is None:
            break
        out.append((gi, at, at + length))
        at += length
    return out


def _check_people(schedule: Schedule) -> list[Problem]:
    """Nobody can be in two places at once: a speaker in the studio or live in segments of two
    sessions at overlapping times, or an interpreter in booths on duty in two overlapping sessions."""
    busy: dict[tuple[str, str], list[_Busy]] = {}
    booths = {b.id: b for b in schedule.booths}
    interpreters = {i.id for i in schedule.interpreters}
    for si, session in enumerate(schedule.sessions):
        if session.end <= session.start:
            continue
        for gi, start, end in _segment_windows(schedule, session):
            seg = session.rundown[gi]
            who: list[tuple[str, tuple[PathPart, ...]]] = []
            if isinstance(seg, StudioSegment):
                who += [(seg.speaker, ("speaker",))] if seg.speaker else []
                who += [(sp, ("speakers", k)) for k, sp in enumerate(seg.speakers)]
            elif isinstance(seg, RemoteSegment):
                who.append((seg.speaker, ("speaker",)))
            for sid, field in who:
                busy.setdefault(("speaker", sid), []).append(
                    _Busy(start, end, si, ("sessions", si, "rundown", gi, *field))
                )
        for bi, bid in enumerate(session.booths):
            booth = booths.get(bid)
            if booth is None:
                continue
            where = ("sessions", si, "booths", bi)
            busy.setdefault(("booth", bid), []).append(_Busy(session.start, session.end, si, where))
            for iid in booth.interpreters:
                if iid in interpreters:
                    busy.setdefault(("interpreter", iid), []).append(
                        _Busy(session.start, session.end, si, where, via=bid)
                    )
    problems: list[Problem] = []
    for (what, who_id), spans in busy.items():
        spans.sort(key=lambda b: b.start)
        latest: _Busy | None = None  # of the spans seen so far, the one that ends last
        for span in spans:
            same_booth = span.via is not None and latest is not None and latest.via == span.via
            if latest is not None and latest.session != span.session and span.start < latest.end and not same_booth:
                other = schedule.sessions[latest.session].id
                problems.append(
                    Problem(
                        span.path,
                        f"{what} '{who_id}' is needed in session '{schedule.sessions[span.session].id}' from "
                        f"{span.start.astimezone(schedule.event.tz):%H:%M} while still in session '{other}' until "
                        f"{latest.end.astimezone(schedule.event.tz):%H:%M} on {span.start.astimezone(schedule.event.tz):%Y-%m-%d}",
                    )
                )
            if latest is None or span.end > latest.end:
                latest = span
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
    elif total < session.duration * MIN_RUNDOWN_FILL:
        problems.append(
            Problem(
                ("sessions", si, "rundown"),
                f"the rundown of session '{session.id}' lasts {_fmt(total)}, {total / session.duration:.0%} of "
                f"the session ({_fmt(session.duration)}): the rest would be the stand-by slate",
                "warning",
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
