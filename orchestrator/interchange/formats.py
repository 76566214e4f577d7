"""Read the conference tools' exports (frab `schedule.xml`, the schedule JSON) into one neutral shape.

Both formats hold the same programme: a conference (acronym, title, time zone, days) and, per day
and room, talks with a start (`date`, with its offset), a duration `HH:MM`, a title, a language and
persons. `Programme` is that programme and nothing of ours; `orchestrator.interchange.importer`
turns it into a schedule. Every problem is collected and named by its talk, not only the first.

Hostile input is refused before parsing: more than `MAX_BYTES`, an XML document type declaration
(entity expansion, external entities: defusedxml forbids them), JSON nested absurdly deep.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

Format = Literal["frab-xml", "schedule-json"]
FORMATS: tuple[Format, ...] = ("frab-xml", "schedule-json")
MAX_BYTES = 16 * 1024 * 1024  # the largest real exports (36C3, FOSDEM) are a few MB
MAX_TALKS = 5000

_DURATION = re.compile(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$")


class InterchangeError(Exception):
    """An export that cannot be used; `problems` lists every one, each naming its talk."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        n = len(problems)
        super().__init__("\n".join([f"{source}: {n} problem{'s' if n != 1 else ''}", *(f"  {p}" for p in problems)]))


@dataclass(frozen=True)
class PersonRef:
    name: str
    id: int | None = None
    guid: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Talk:
    guid: str | None
    id: int | None
    code: str | None
    room: str
    title: str
    start: datetime
    duration: timedelta
    language: str | None
    persons: tuple[PersonRef, ...]
    subtitle: str = ""
    abstract: str = ""
    description: str = ""
    track: str = ""
    type: str = ""
    slug: str = ""

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def label(self) -> str:
        """How a problem names this talk: its title, room and time, and its guid (what stays put)."""
        ref = f"guid {self.guid}" if self.guid else f"id {self.id}" if self.id is not None else "no id"
        return f"talk '{self.title}' ({self.room}, {self.start:%Y-%m-%d %H:%M}, {ref})"


@dataclass(frozen=True)
class Programme:
    acronym: str
    title: str
    timezone: str | None
    days: tuple[date, ...]
    talks: tuple[Talk, ...]
    rooms: tuple[str, ...] = field(default=())


def parse(data: bytes, fmt: Format, source: str = "<export>") -> Programme:
    if len(data) > MAX_BYTES:
        raise InterchangeError(
            source, [f"the export is {len(data) // 1024} KiB, more than the {MAX_BYTES // 2**20} MiB allowed"]
        )
    if fmt == "frab-xml":
        return parse_frab_xml(data, source)
    if fmt == "schedule-json":
        return parse_schedule_json(data, source)
    raise InterchangeError(source, [f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}"])


# ---------------------------------------------------------------------------------------------
# Field readers shared by both formats


def _duration(text: str) -> timedelta | None:
    m = _DURATION.match(text.strip())
    if not m:
        return None
    return timedelta(hours=int(m[1]), minutes=int(m[2]), seconds=int(m[3] or 0))


def _datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _talk(raw: dict[str, Any], where: str, problems: list[str]) -> Talk | None:
    """A talk from the fields both formats share (already as strings); None after a problem."""
    title = (raw.get("title") or "").strip()
    ref = f", guid {raw['guid']}" if raw.get("guid") else f", id {raw['id']}" if raw.get("id") else ""
    name = f"talk '{title}' ({where}{ref})" if title else f"a talk without a title ({where}{ref})"
    found: list[str] = []
    if not title:
        found.append("has no title")
    start = _datetime(raw.get("date") or "")
    if start is None:
        found.append(f"has no start with a time zone (date {raw.get('date')!r})")
    duration = _duration(raw.get("duration") or "")
    if duration is None or duration <= timedelta(0):
        found.append(f"has no duration as HH:MM (duration {raw.get('duration')!r})")
    if not raw.get("guid") and raw.get("id") is None:
        found.append("has neither a guid nor an id, so it could not keep its id across imports")
    persons: list[PersonRef] = []
    for k, p in enumerate(raw.get("persons") or []):
        pname = (p.get("name") or "").strip()
        if not pname:
            found.append(f"lists a person without a name (person {k + 1})")
            continue
        persons.append(PersonRef(pname, _positive_int(p.get("id")), p.get("guid") or None, p.get("code") or None))
    if found:
        problems += [f"{name} {msg}" for msg in found]
        return None
    assert start is not None and duration is not None
    return Talk(
        guid=(raw.get("guid") or "").lower() or None,
        id=_positive_int(raw.get("id")),
        code=raw.get("code") or None,
        room=(raw.get("room") or "").strip() or "main",
        title=title,
        start=start,
        duration=duration,
        language=(raw.get("language") or "").strip() or None,
        persons=tuple(persons),
        subtitle=(raw.get("subtitle") or "").strip(),
        abstract=(raw.get("abstract") or "").strip(),
        description=(raw.get("description") or "").strip(),
        track=(raw.get("track") or "").strip(),
        type=(raw.get("type") or "").strip(),
        slug=(raw.get("slug") or "").strip(),
    )


def _programme(
    conf: dict[str, Any], days: list[date], talks: list[Talk], rooms: list[str], source: str, problems: list[str]
) -> Programme:
    acronym = (conf.get("acronym") or "").strip()
    title = (conf.get("title") or "").strip()
    if not acronym:
        problems.append("the conference has no acronym (it becomes the event's id)")
    if not title:
        problems.append("the conference has no title")
    if not talks and not problems:
        problems.append("the export holds no talks")
    if len(talks) > MAX_TALKS:
        problems.append(f"the export holds {len(talks)} talks, more than the {MAX_TALKS} allowed")
    if problems:
        raise InterchangeError(source, problems)
    return Programme(
        acronym=acronym,
        title=title,
        timezone=(conf.get("time_zone_name") or "").strip() or None,
        days=tuple(sorted(set(days))),
        talks=tuple(talks),
        rooms=tuple(dict.fromkeys(rooms)),
    )


# ---------------------------------------------------------------------------------------------
# frab schedule.xml


def _text(el: Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def parse_frab_xml(data: bytes, source: str = "<export>") -> Programme:
    try:
        # forbid_dtd: an export has no business declaring a DTD; refusing it stops every entity trick.
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InterchangeError(
            source, ["the XML declares a DTD or entities, which an export never needs: refused (entity expansion)"]
        ) from None
    except ParseError as exc:
        raise InterchangeError(source, [f"not well-formed XML: {exc}"]) from None
    if root.tag != "schedule":
        raise InterchangeError(
            source, [f"the XML's root is <{root.tag}>, not <schedule> (is this a frab schedule.xml?)"]
        )
    conf_el = root.find("conference")
    if conf_el is None:
        raise InterchangeError(source, ["the XML has no <conference>"])
    conf = {child.tag: _text(child) for child in conf_el}
    problems: list[str] = []
    days: list[date] = []
    talks: list[Talk] = []
    rooms: list[str] = []
    for day in root.findall("day"):
        d = _date(day.get("date") or "")
        if d is not None:
            days.append(d)
        for room in day.findall("room"):
            room_name = (room.get("name") or "").strip()
            rooms.append(room_name)
            for ev in room.findall("event"):
                raw: dict[str, Any] = {child.tag: _text(child) for child in ev if child.tag != "persons"}
                raw["room"] = raw.get("room") or room_name
                raw["guid"] = ev.get("guid")
                raw["id"] = ev.get("id")
                raw["code"] = ev.get("code")
                persons_el = ev.find("persons")
                raw["persons"] = [
                    {"name": _text(p), "id": p.get("id"), "guid": p.get("guid")}
                    for p in (persons_el.findall("person") if persons_el is not None else [])
                ]
                where = f"{raw['room'] or 'no room'}, {raw.get('date') or d or 'no date'}"
                talk = _talk(raw, where, problems)
                if talk is not None:
                    talks.append(talk)
    return _programme(conf, days, talks, rooms, source, problems)


# ---------------------------------------------------------------------------------------------
# schedule JSON


def parse_schedule_json(data: bytes, source: str = "<export>") -> Programme:
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise InterchangeError(source, ["not UTF-8 text"]) from None
    except RecursionError:
        raise InterchangeError(source, ["the JSON is nested too deeply to be a schedule"]) from None
    except ValueError as exc:
        raise InterchangeError(source, [f"not valid JSON: {exc}"]) from None
    conf = doc.get("schedule", {}).get("conference") if isinstance(doc, dict) else None
    if not isinstance(conf, dict):
        raise InterchangeError(source, ["the JSON has no schedule.conference (is this a schedule JSON export?)"])
    problems: list[str] = []
    days: list[date] = []
    talks: list[Talk] = []
    rooms = [r.get("name", "") for r in conf.get("rooms") or [] if isinstance(r, dict)]
    raw_days = conf.get("days")
    if not isinstance(raw_days, list):
        raise InterchangeError(source, ["schedule.conference.days is missing or not a list"])
    for di, day in enumerate(raw_days):
        if not isinstance(day, dict) or not isinstance(day.get("rooms"), dict):
            problems.append(f"day {di + 1} has no rooms")
            continue
        d = _date(str(day.get("date") or ""))
        if d is not None:
            days.append(d)
        for room_name, events in day["rooms"].items():
            rooms.append(room_name)
            if not isinstance(events, list):
                problems.append(f"room '{room_name}' on day {di + 1} is not a list of talks")
                continue
            for ev in events:
                if not isinstance(ev, dict):
                    problems.append(f"room '{room_name}' on day {di + 1} holds something that is not a talk")
                    continue
                raw = {k: v for k, v in ev.items() if k != "persons"}
                raw = {k: (str(v) if v is not None and k != "id" else v) for k, v in raw.items()}
                raw["room"] = raw.get("room") or room_name
                raw["persons"] = [
                    {
                        "name": p.get("name") or p.get("public_name"),
                        "id": p.get("id"),
                        "guid": p.get("guid"),
                        "code": p.get("code"),
                    }
                    for p in ev.get("persons") or []
                    if isinstance(p, dict)
                ]
                talk = _talk(raw, f"{raw['room']}, {raw.get('date') or d or 'no date'}", problems)
                if talk is not None:
                    talks.append(talk)
    return _programme(conf, days, talks, rooms, source, problems)
