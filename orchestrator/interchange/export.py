"""A schedule → frab `schedule.xml`, the schedule JSON, or an iCalendar file, for websites and apps.

Talks carry their guid (the session's id when it came from an import, a uuid5 of the event and the
session otherwise; see `ids`), their title and abstract in the floor language, the floor language,
the room (`venue`, else the event's venue, else "Main"), and their persons in rundown order. Days
are the event's local days. Nothing of the media side (destinations, booths, keys) is exported.
"""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from icalendar import Calendar, Event, Timezone

from orchestrator.interchange import ids
from orchestrator.interchange.importer import event_days
from orchestrator.schedule.model import ClipSegment, RemoteSegment, Schedule, Session, StudioSegment

ExportFormat = Literal["frab-xml", "schedule-json", "ics"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("frab-xml", "schedule-json", "ics")
GENERATOR = "summit-orchestrator"
PRODID = "-//summit-orchestrator//programme//EN"
_VOC_SLUG = re.compile(r"[a-z0-9_]{4,}-[a-z0-9\-_]{4,}")  # the XSD's voc-slug-new; the element is optional


@dataclass(frozen=True)
class ExportPerson:
    name: str
    id: int | None
    guid: str | None
    code: str | None


@dataclass(frozen=True)
class ExportTalk:
    session: Session
    guid: str
    number: int
    room: str
    title: str
    abstract: str
    language: str
    persons: tuple[ExportPerson, ...]
    slug: str


def _persons(schedule: Schedule, session: Session) -> Iterator[str]:
    for seg in session.rundown:
        if isinstance(seg, StudioSegment):
            yield from ([seg.speaker] if seg.speaker else [])
            yield from seg.speakers
        elif isinstance(seg, (RemoteSegment, ClipSegment)) and seg.speaker:
            yield seg.speaker


def _hhmm(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def talks(schedule: Schedule) -> list[ExportTalk]:
    event = schedule.event
    speakers = {s.id: s for s in schedule.speakers}
    out: list[ExportTalk] = []
    numbers: set[int] = set()
    for session in sorted(schedule.sessions, key=lambda s: (s.start, s.venue or "")):
        guid = ids.session_guid(event.id, session.id)
        number = ids.session_number(guid)
        while number in numbers:  # the numeric id is deprecated but must stay unique
            number += 1
        numbers.add(number)
        persons: list[ExportPerson] = []
        for pid in dict.fromkeys(_persons(schedule, session)):
            keys = ids.person_keys(event.id, pid)
            persons.append(ExportPerson(speakers[pid].name, keys.id, keys.guid, keys.code))
        abstract = session.description.get(session.floor_language) if session.description else ""
        out.append(
            ExportTalk(
                session=session,
                guid=guid,
                number=number,
                room=session.venue or event.venue or "Main",
                title=session.title.get(session.floor_language),
                abstract=abstract,
                language=session.floor_language,
                persons=tuple(persons),
                slug=f"{event.id.replace('-', '_')}-{session.id}".rstrip("-_")[:120],
            )
        )
    return out


def _acronym(schedule: Schedule) -> str:
    # The JSON schema allows no '-' inside an acronym (past its first character).
    return schedule.event.id.replace("-", "_")


def _title(schedule: Schedule) -> str:
    return schedule.event.name.get("en")


def _days(schedule: Schedule) -> list[tuple[int, date, datetime, datetime, list[ExportTalk]]]:
    tz = schedule.event.tz
    all_talks = talks(schedule)
    out = []
    for index, day in enumerate(event_days(schedule), start=1):
        start = datetime.combine(day, time(0), tz)
        end = datetime.combine(day, time(23, 59, 59), tz)
        out.append((index, day, start, end, [t for t in all_talks if t.session.start.astimezone(tz).date() == day]))
    return out


def _rooms(day_talks: list[ExportTalk]) -> dict[str, list[ExportTalk]]:
    rooms: dict[str, list[ExportTalk]] = {}
    for t in day_talks:
        rooms.setdefault(t.room, []).append(t)
    return rooms


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------


def to_frab_xml(schedule: Schedule) -> bytes:
    tz = schedule.event.tz
    days = _days(schedule)
    root = ET.Element("schedule")
    ET.SubElement(root, "generator", name=GENERATOR)
    ET.SubElement(root, "version").text = "1.0"
    conf = ET.SubElement(root, "conference")
    ET.SubElement(conf, "acronym").text = schedule.event.id
    ET.SubElement(conf, "title").text = _title(schedule)
    ET.SubElement(conf, "start").text = days[0][1].isoformat()
    ET.SubElement(conf, "end").text = days[-1][1].isoformat()
    ET.SubElement(conf, "days").text = str(len(days))
    ET.SubElement(conf, "timeslot_duration").text = "00:05"
    ET.SubElement(conf, "time_zone_name").text = schedule.event.timezone
    for index, day, start, end, day_talks in days:
        day_el = ET.SubElement(root, "day", date=day.isoformat(), start=_iso(start), end=_iso(end), index=str(index))
        for room, room_talks in _rooms(day_talks).items():
            room_el = ET.SubElement(day_el, "room", name=room)
            for t in room_talks:
                local = t.session.start.astimezone(tz)
                ev = ET.SubElement(room_el, "event", guid=t.guid, id=str(t.number))
                for tag, text in (
                    ("room", t.room),
                    ("title", t.title),
                    ("subtitle", ""),
                    ("type", "Talk"),
                    ("date", _iso(local)),
                    ("start", f"{local:%H:%M}"),
                    ("duration", _hhmm(t.session.duration)),
                    ("abstract", t.abstract),
                    ("track", ""),
                    ("language", t.language),
                ):
                    ET.SubElement(ev, tag).text = text
                if _VOC_SLUG.fullmatch(t.slug):
                    ET.SubElement(ev, "slug").text = t.slug
                persons = ET.SubElement(ev, "persons")
                for p in t.persons:
                    attrs = {k: v for k, v in (("id", str(p.id) if p.id is not None else None), ("guid", p.guid)) if v}
                    if p.code and not attrs:
                        # frab persons carry no pretalx code: name them by a guid made from it.
                        attrs["guid"] = ids.person_keys(schedule.event.id, f"code:{p.code}").guid or ""
                    ET.SubElement(persons, "person", attrs).text = p.name
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def to_schedule_json(schedule: Schedule) -> dict[str, Any]:
    tz = schedule.event.tz
    days = _days(schedule)
    rooms: dict[str, None] = {}
    out_days: list[dict[str, Any]] = []
    for index, day, start, end, day_talks in days:
        day_rooms: dict[str, list[dict[str, Any]]] = {}
        for room, room_talks in _rooms(day_talks).items():
            rooms[room] = None
            events: list[dict[str, Any]] = []
            for t in room_talks:
                local = t.session.start.astimezone(tz)
                events.append(
                    {
                        "guid": t.guid,
                        "id": t.number,
                        "date": _iso(local),
                        "start": f"{local:%H:%M}",
                        "duration": _hhmm(t.session.duration),
                        "room": t.room,
                        "slug": t.slug,
                        "url": f"urn:uuid:{t.guid}",  # no page of ours per talk; the guid names it
                        "title": t.title,
                        "subtitle": "",
                        "track": None,
                        "type": "Talk",
                        "language": t.language,
                        "abstract": t.abstract,
                        "description": "",
                        "persons": [_json_person(p) for p in t.persons],
                        "links": [],
                        "attachments": [],
                    }
                )
            day_rooms[room] = events
        out_days.append(
            {
                "index": index,
                "date": day.isoformat(),
                "day_start": _iso(start),
                "day_end": _iso(end),
                "rooms": day_rooms,
            }
        )
    return {
        "schedule": {
            "version": "1.0",
            "conference": {
                "acronym": _acronym(schedule),
                "title": _title(schedule),
                "start": days[0][1].isoformat(),
                "end": days[-1][1].isoformat(),
                "daysCount": len(days),
                "timeslot_duration": "00:05",
                "time_zone_name": schedule.event.timezone,
                "rooms": [{"name": r, "guid": ids.session_guid(schedule.event.id, f"room:{r}")} for r in rooms],
                "days": out_days,
            },
        },
        "generator": {"name": GENERATOR},
    }


def _json_person(p: ExportPerson) -> dict[str, Any]:
    # The schema's Person is oneOf a frab person (id + public_name) or a pretalx one (name): exactly one.
    if p.id is not None:
        return {"id": p.id, "public_name": p.name}
    out: dict[str, Any] = {"name": p.name}
    if p.guid:
        out["guid"] = p.guid
    if p.code:
        out["code"] = p.code
    return out


def to_schedule_json_text(schedule: Schedule) -> str:
    return json.dumps(to_schedule_json(schedule), ensure_ascii=False, indent=2) + "\n"


def to_ics(schedule: Schedule) -> bytes:
    """The programme as one calendar, each talk in the event's time zone."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", _title(schedule))
    cal.add("x-wr-timezone", schedule.event.timezone)
    tz = schedule.event.tz
    speakers = {s.id: s for s in schedule.speakers}
    for t in talks(schedule):
        ev = Event()
        ev.add("uid", f"{t.guid}@{GENERATOR}")
        ev.add("dtstamp", t.session.start)  # fixed, so the same schedule gives the same file
        ev.add("dtstart", t.session.start.astimezone(tz))
        ev.add("dtend", t.session.end.astimezone(tz))
        ev.add("summary", t.title)
        ev.add("location", t.room)
        names = ", ".join(speakers[pid].name for pid in dict.fromkeys(_persons(schedule, t.session)))
        ev.add("description", "\n\n".join(x for x in (names, t.abstract) if x))
        cal.add_component(ev)
    add_timezones(cal, schedule)
    data: bytes = cal.to_ical()
    return data


@functools.lru_cache(maxsize=64)
def _vtimezone(tzid: str, first: date, last: date) -> Timezone:
    # Computing one scans the zone's offsets hour by hour: once per zone and window, not per file.
    return Timezone.from_tzid(tzid, first_date=first, last_date=last)


def add_timezones(cal: Calendar, schedule: Schedule) -> None:
    """A VTIMEZONE for each zone the calendar's events use, covering the years around the event
    (not 1970–2038: smaller files)."""
    first = date(min(s.start for s in schedule.sessions).year - 1, 1, 1)
    last = date(max(s.end for s in schedule.sessions).year + 2, 1, 1)
    zones: dict[str, None] = {}
    for ev in cal.walk("VEVENT"):
        for key in ("DTSTART", "DTEND"):
            tzid = ev[key].params.get("TZID") if key in ev else None
            if tzid:
                zones[str(tzid)] = None
    # Before the events, where readers look for them first.
    cal.subcomponents[0:0] = [_vtimezone(tzid, first, last) for tzid in zones]


def export(schedule: Schedule, fmt: ExportFormat) -> bytes:
    if fmt == "frab-xml":
        return to_frab_xml(schedule)
    if fmt == "schedule-json":
        return to_schedule_json_text(schedule).encode("utf-8")
    if fmt == "ics":
        return to_ics(schedule)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
