"""Invitations: per speaker and interpreter, a calendar and a message, in their own time zone.

For everyone who takes part (a speaker with a segment, an interpreter of a booth on duty):
- `<id>.ics` (RFC 5545, with the `icalendar` library): each of their sessions, and before each one
  where they join live or come to the studio a technical check, with times in their zone (the
  speaker's `timezone`, the event's otherwise) and a VTIMEZONE for it; their join link in URL and
  DESCRIPTION;
- `<id>.txt` and `<id>.html`: a short message in Korean and English a producer can send as it is.

Join links come from `orchestrator.links.links_for` (people who join live: remote speakers and
interpreters); studio and pre-recorded speakers get their times without one. A file holds one
person's link and nobody else's; files are written readable by their owner only.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

from orchestrator.interchange import ids
from orchestrator.interchange.export import add_timezones
from orchestrator.links import Link, LinkSigner, links_for
from orchestrator.schedule.checks import segment_duration
from orchestrator.schedule.model import (
    Appearance,
    ClipSegment,
    RemoteSegment,
    Schedule,
    Session,
    StudioSegment,
)

PRODID = "-//summit-orchestrator//invitation//EN"
DEFAULT_CHECK_LEAD = timedelta(minutes=45)
DEFAULT_CHECK_LENGTH = timedelta(minutes=15)

_EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")  # fmt: skip
_KO_DAYS = ("월", "화", "수", "목", "금", "토", "일")


@dataclass(frozen=True)
class Slot:
    """One session of a person: the session, when they are on (None: the whole session, e.g. a
    booth), and their technical check before it (None: nothing to check, e.g. a recording)."""

    session: Session
    on_air: tuple[datetime, datetime] | None
    check: tuple[datetime, datetime] | None


@dataclass(frozen=True)
class Invitation:
    person: str
    role: str
    name: str
    zone: ZoneInfo
    appearance: str  # studio | live | prerecorded | interpreter
    slots: tuple[Slot, ...]
    link: str | None = None
    own_zone: bool = False  # False: the event's zone, for want of theirs
    files: dict[str, bytes] = field(default_factory=dict)


def _segment_windows(schedule: Schedule, session: Session) -> dict[str, tuple[datetime, datetime]]:
    """Each speaker's time on air in a session: from their first segment's start to their last's end."""
    at = session.start
    out: dict[str, tuple[datetime, datetime]] = {}
    for seg in session.rundown:
        length = segment_duration(schedule, seg) or timedelta(0)
        who: list[str] = []
        if isinstance(seg, StudioSegment):
            who = ([seg.speaker] if seg.speaker else []) + list(seg.speakers)
        elif isinstance(seg, (RemoteSegment, ClipSegment)) and seg.speaker:
            who = [seg.speaker]
        for pid in who:
            start = out[pid][0] if pid in out else at
            out[pid] = (start, at + length)
        at += length
    return out


def invitations(
    schedule: Schedule,
    signer: LinkSigner,
    base_url: str,
    *,
    check_lead: timedelta = DEFAULT_CHECK_LEAD,
    check_length: timedelta = DEFAULT_CHECK_LENGTH,
) -> list[Invitation]:
    links: dict[tuple[str, str], Link] = {(p.role, p.id): link for p, link in links_for(schedule, signer)}
    event_tz = schedule.event.tz
    sessions = sorted(schedule.sessions, key=lambda s: s.start)
    out: list[Invitation] = []

    def check(session: Session) -> tuple[datetime, datetime]:
        return (session.start - check_lead, session.start - check_lead + check_length)

    windows = {s.id: _segment_windows(schedule, s) for s in sessions}
    for sp in schedule.speakers:
        slots: list[Slot] = []
        for session in sessions:
            window = windows[session.id].get(sp.id)
            if window is None:
                continue
            needs_check = sp.appearance in (Appearance.LIVE, Appearance.STUDIO) or any(
                isinstance(seg, RemoteSegment) and seg.speaker == sp.id for seg in session.rundown
            )
            slots.append(Slot(session, window, check(session) if needs_check else None))
        if slots:
            link = links.get(("speaker", sp.id))
            zone = ZoneInfo(sp.timezone) if sp.timezone else event_tz
            out.append(
                _render(
                    schedule,
                    Invitation(
                        sp.id,
                        "speaker",
                        sp.name,
                        zone,
                        sp.appearance.value,
                        tuple(slots),
                        link.url(base_url) if link else None,
                        own_zone=sp.timezone is not None,
                    ),
                )
            )
    booths = {b.id: b for b in schedule.booths}
    for it in schedule.interpreters:
        slots = [
            Slot(s, None, check(s))
            for s in sessions
            if any(it.id in booths[b].interpreters for b in s.booths if b in booths)
        ]
        if slots:
            link = links.get(("interpreter", it.id))
            out.append(
                _render(
                    schedule,
                    Invitation(
                        it.id,
                        "interpreter",
                        it.name,
                        event_tz,
                        "interpreter",
                        tuple(slots),
                        link.url(base_url) if link else None,
                    ),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Local times, as people read them


def _abbrev(dt: datetime) -> str:
    name = dt.tzname() or ""
    return name if name and name[0] not in "+-" else f"UTC{name}"


def en_day(dt: datetime) -> str:
    return f"{_EN_DAYS[dt.weekday()]} {dt.day} {_EN_MONTHS[dt.month - 1]} {dt.year}"


def ko_day(dt: datetime) -> str:
    return f"{dt.year}년 {dt.month}월 {dt.day}일 ({_KO_DAYS[dt.weekday()]})"


def _when(a: datetime, b: datetime, zone: ZoneInfo, lang: str) -> str:
    day = en_day if lang == "en" else ko_day
    la, lb = a.astimezone(zone), b.astimezone(zone)
    if la.date() == lb.date():
        return f"{day(la)} {la:%H:%M}–{lb:%H:%M} ({_abbrev(la)})"
    return f"{day(la)} {la:%H:%M} ({_abbrev(la)}) – {day(lb)} {lb:%H:%M} ({_abbrev(lb)})"


def _hours(a: datetime, b: datetime, zone: ZoneInfo) -> str:
    return f"{a.astimezone(zone):%H:%M}–{b.astimezone(zone):%H:%M}"


# ---------------------------------------------------------------------------------------------
# The message


def _lines(schedule: Schedule, inv: Invitation, lang: str) -> tuple[str, list[str], list[str]]:
    """(greeting, bullet lines, closing lines) in one language, plain text."""
    event = schedule.event.name.get(lang, "en")
    zone = getattr(inv.zone, "key", str(inv.zone))
    bullets: list[str] = []
    for slot in inv.slots:
        title = slot.session.title.get(lang, slot.session.floor_language)
        when = _when(slot.session.start, slot.session.end, inv.zone, lang)
        line = f"{title}: {when}"
        if slot.on_air and slot.on_air != (slot.session.start, slot.session.end):
            on = _hours(*slot.on_air, inv.zone)
            line += f"; you are on air {on}" if lang == "en" else f"; 출연 시간 {on}"
        if slot.check:
            chk = _hours(*slot.check, inv.zone)
            line += f"; technical check {chk}" if lang == "en" else f"; 기술 점검 {chk}"
        bullets.append(line)
    closing: list[str] = []
    if lang == "en":
        greeting = f"Dear {inv.name},\n\nThank you for taking part in {event}. " + (
            f"All times below are in your time zone, {zone}." if inv.own_zone else f"All times below are {zone} time."
        )
        if inv.link:
            closing.append(
                f"Your personal link to join (open it in Chrome or Firefox; please do not share it): {inv.link}"
            )
        elif inv.appearance == Appearance.STUDIO.value:
            closing.append(
                f"Please come to the studio{' at ' + schedule.event.venue if schedule.event.venue else ''} for the technical check."
            )
        elif inv.appearance == Appearance.PRERECORDED.value:
            closing.append("Your recording will be played at this time; nothing else is needed from you.")
        closing.append("The attached calendar file holds these times. We look forward to working with you.")
    else:
        greeting = f"{inv.name} 님께,\n\n{event}에 참여해 주셔서 감사합니다. 아래 시간은 모두 " + (
            f"계신 곳의 시간({zone}) 기준입니다." if inv.own_zone else f"{zone} 기준입니다."
        )
        if inv.link:
            closing.append(
                f"개인 접속 링크 (Chrome 또는 Firefox에서 열어 주세요. 다른 사람과 공유하지 마세요): {inv.link}"
            )
        elif inv.appearance == Appearance.STUDIO.value:
            closing.append(
                f"기술 점검 시간에 맞추어 스튜디오{'(' + schedule.event.venue + ')' if schedule.event.venue else ''}로 와 주세요."
            )
        elif inv.appearance == Appearance.PRERECORDED.value:
            closing.append("보내 주신 영상이 이 시간에 방송됩니다. 따로 준비하실 것은 없습니다.")
        closing.append("첨부한 캘린더 파일에 이 일정이 들어 있습니다. 감사합니다.")
    return greeting, bullets, closing


def message_text(schedule: Schedule, inv: Invitation) -> str:
    parts: list[str] = []
    for lang in ("ko", "en"):
        greeting, bullets, closing = _lines(schedule, inv, lang)
        parts.append("\n".join([greeting, "", *(f"• {b}" for b in bullets), "", *closing]))
    return ("\n\n" + "-" * 40 + "\n\n").join(parts) + "\n"


def message_html(schedule: Schedule, inv: Invitation) -> str:
    sections: list[str] = []
    for lang in ("ko", "en"):
        greeting, bullets, closing = _lines(schedule, inv, lang)
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in greeting.split("\n\n"))
        items = "".join(f"<li>{html.escape(b)}</li>" for b in bullets)
        tail = ""
        for line in closing:
            text = html.escape(line)
            if inv.link and inv.link in line:
                safe = html.escape(inv.link, quote=True)
                text = text.replace(html.escape(inv.link), f'<a href="{safe}">{html.escape(inv.link)}</a>')
            tail += f"<p>{text}</p>"
        sections.append(f'<section lang="{lang}">{paras}<ul>{items}</ul>{tail}</section>')
    title = html.escape(schedule.event.name.get("en"))
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{'<hr>'.join(sections)}</body></html>\n"
    )


# ---------------------------------------------------------------------------------------------
# The calendar


def calendar(schedule: Schedule, inv: Invitation) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", schedule.event.name.get("en"))
    zone = inv.zone
    for slot in inv.slots:
        s = slot.session
        guid = ids.session_guid(schedule.event.id, s.id)
        title = s.title.get("en", s.floor_language)
        note = f"{s.title.get('ko', s.floor_language)}\n"
        if slot.on_air and slot.on_air != (s.start, s.end):
            note += f"On air / 출연: {_hours(*slot.on_air, zone)}\n"
        if inv.link:
            note += f"Join / 접속: {inv.link}\n"
        events = [(f"{guid}.{inv.role}.{inv.person}", title, s.start, s.end, note)]
        if slot.check:
            events.insert(0, (f"{guid}.check.{inv.role}.{inv.person}", f"Technical check / 기술 점검: {title}",
                              slot.check[0], slot.check[1], note))  # fmt: skip
        for uid, summary, start, end, description in events:
            ev = Event()
            ev.add("uid", f"{uid}@summit-orchestrator")
            ev.add("dtstamp", s.start)  # fixed, so an unchanged schedule gives an unchanged file
            ev.add("dtstart", start.astimezone(zone))
            ev.add("dtend", end.astimezone(zone))
            ev.add("summary", summary)
            ev.add("description", description.strip())
            if s.venue or schedule.event.venue:
                ev.add("location", s.venue or schedule.event.venue)
            if inv.link:
                ev.add("url", inv.link)
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", summary)
            alarm.add("trigger", timedelta(minutes=-15))
            ev.add_component(alarm)
            cal.add_component(ev)
    add_timezones(cal, schedule)
    data: bytes = cal.to_ical()
    return data


def _render(schedule: Schedule, inv: Invitation) -> Invitation:
    files = {
        f"{inv.person}.ics": calendar(schedule, inv),
        f"{inv.person}.txt": message_text(schedule, inv).encode("utf-8"),
        f"{inv.person}.html": message_html(schedule, inv).encode("utf-8"),
    }
    return dataclasses.replace(inv, files=files)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def people_csv(invites: list[Invitation]) -> str:
    """The producer's list: who gets which files, in which zone, and when they are first needed
    (no links: those are in each person's files only)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(
        ["files", "role", "id", "name", "time_zone", "appearance", "sessions", "first_needed_local", "join_link"]
    )
    for inv in invites:
        first = min((slot.check or (slot.session.start,))[0] for slot in inv.slots).astimezone(inv.zone)
        out.writerow([
            f"{_prefix(inv)}{inv.person}.*", inv.role, inv.person, inv.name, getattr(inv.zone, "key", str(inv.zone)),
            inv.appearance, " ".join(slot.session.id for slot in inv.slots), first.isoformat(timespec="minutes"),
            "yes" if inv.link else "no",
        ])  # fmt: skip
    return buf.getvalue()


def _prefix(inv: Invitation) -> str:
    # An interpreter and a speaker may share an id: the role keeps their files apart.
    return "" if inv.role == "speaker" else "interpreter-"


def write(invites: list[Invitation], out_dir: Path) -> list[Path]:
    """Write every file owner-only (they hold personal join links), and the list `people.csv`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    written: list[Path] = []
    for inv in invites:
        for name, data in inv.files.items():
            path = out_dir / f"{_prefix(inv)}{name}"
            _write_private(path, data)
            written.append(path)
    index = out_dir / "people.csv"
    _write_private(index, people_csv(invites).encode("utf-8"))
    written.append(index)
    return written
