"""A `Programme` (from a frab or schedule JSON export) and a `Template` → a schedule that validates.

Each talk becomes a session on its room's destinations: its title and abstract in its language
(the floor), its persons as speakers (ids from the export, see `ids`), an opening slate, one
segment per person sharing the talk's time (studio, remote or their clip, as the template says
they appear) and a closing slate. The result is checked as `summit validate` checks a file; every
problem is reported naming its talk, never a bare `sessions[17]`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from orchestrator.interchange import ids
from orchestrator.interchange.formats import InterchangeError, PersonRef, Programme, Talk
from orchestrator.interchange.template import PersonPart, Template, fill, uses
from orchestrator.schedule.checks import check_schedule
from orchestrator.schedule.loader import format_path
from orchestrator.schedule.model import Appearance, Schedule

_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:[-_].*)?$")


def duration_text(d: timedelta) -> str:
    """A duration as the schedule writes it: 1h30m, 14m30s, 45s."""
    total = int(d.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n) or "0s"


def _language(talk: Talk, template: Template) -> str | None:
    if not talk.language:
        return template.language
    m = _LANGUAGE.match(talk.language.strip().lower())
    return m[1] if m else None


def _room_key(template: Template, room: str) -> str:
    return template.rooms.get(room) or ids.slug(room, 24)


def _expand(
    template: Template, what: str, rooms: list[str], languages: list[str], problems: list[str]
) -> list[tuple[str | None, dict[str, Any]]]:
    """Each entry of the template's `what` (destinations, booths) once per room if it uses {room},
    once per language if it uses {language}; paired with the room it belongs to (None: shared by
    every room). An entry whose copies would share an id is a problem of the template."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    entries: list[dict[str, Any]] = getattr(template, what)
    for i, entry in enumerate(entries):
        copies: list[tuple[str | None, dict[str, Any]]] = []
        if "room" in entry:  # pinned to one room (a key of the template's, not the schedule's)
            named = str(entry["room"])
            room_key = named if named in rooms else _room_key(template, named)
            copies.append((room_key, fill({k: v for k, v in entry.items() if k != "room"}, {"room": room_key})))
        else:
            for room in rooms if uses(entry, "room") else [None]:
                for lang in languages if uses(entry, "language") else [None]:
                    values = {k: v for k, v in (("room", room), ("language", lang)) if v is not None}
                    copies.append((room, fill(entry, values)))
        for room, item in copies:
            item_id = str(item.get("id"))
            if item_id in seen:
                hint = "put {room} and {language} in its id where it uses them" if seen[item_id] == i else ""
                problems.append(
                    f"template {what}[{i}]: the id '{item_id}' is made twice"
                    + (f" ({hint})" if hint else f" (also by {what}[{seen[item_id]}])")
                )
                continue
            seen[item_id] = i
            out.append((room, item))
    return out


def _person(template: Template, sid: str, person: PersonRef) -> PersonPart:
    people = template.speakers.people
    return people.get(sid) or people.get(person.name) or PersonPart()


def build(programme: Programme, template: Template, source: str = "<export>") -> tuple[dict[str, Any], Schedule]:
    """The schedule as a YAML-ready mapping, and checked; raises InterchangeError naming each talk at fault."""
    problems: list[str] = []
    tz_name = template.event.timezone or programme.timezone
    if not tz_name:
        raise InterchangeError(source, ["the export names no time zone: set event.timezone in the template"])
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InterchangeError(
            source, [f"the time zone '{tz_name}' is not known (set event.timezone in the template)"]
        ) from None

    talks = sorted(programme.talks, key=lambda t: (t.start, t.room))
    problems += _talk_problems(talks, template, programme.acronym)
    rooms_by_key = {_room_key(template, t.room): t.room for t in talks}
    room_keys = list(rooms_by_key)
    destinations = _expand(template, "destinations", room_keys, template.languages, problems)
    booths = _expand(template, "booths", room_keys, template.languages, problems)
    clips = {c.get("id") for c in template.clips}

    speakers: dict[str, dict[str, Any]] = {}
    sessions: list[dict[str, Any]] = []
    for talk in talks:
        floor = _language(talk, template)
        if floor is None:
            continue  # reported by _talk_problems
        room = _room_key(template, talk.room)
        outputs = [d["id"] for r, d in destinations if r in (None, room)]
        out_langs = list(dict.fromkeys(d.get("language") for r, d in destinations if r in (None, room)))
        on_duty: list[str] = []
        pairs: set[frozenset[str]] = set()
        for r, b in booths:
            langs = frozenset(b.get("languages") or [])
            if r in (None, room) and floor in langs and (langs - {floor}) & set(out_langs) and langs not in pairs:
                on_duty.append(b["id"])
                pairs.add(langs)
        sid = ids.session_id(talk, programme.acronym)
        people: list[str] = []
        for person in talk.persons:
            pid = ids.speaker_id(person)
            if pid in people:
                continue
            people.append(pid)
            part = _person(template, pid, person)
            sp = speakers.setdefault(pid, _speaker(template, pid, person, part))
            if floor not in sp["languages"]:
                sp["languages"].append(floor)
        rundown = _rundown(talk, template, floor, people, speakers, clips, problems)
        session: dict[str, Any] = {
            "id": sid,
            "title": {floor: talk.title},
            "start": talk.start.isoformat(),
            "end": talk.end.isoformat(),
            "floor_language": floor,
            "outputs": outputs,
        }
        text = talk.abstract or talk.description
        if text:
            session["description"] = {floor: text}
        if on_duty:
            session["booths"] = on_duty
        session["venue"] = talk.room
        session["rundown"] = rundown
        sessions.append(session)

    days = sorted(set(programme.days) | {t.start.astimezone(tz).date() for t in talks})
    name = {template.language: programme.title, **template.event.name}
    event: dict[str, Any] = {
        "id": template.event.id or ids.slug(programme.acronym, 64),
        "name": name,
        "timezone": tz_name,
        "days": [d.isoformat() for d in days],
    }
    if template.event.max_session is not None:
        event["max_session"] = duration_text(template.event.max_session)
    for key in ("venue", "studio_feed"):
        value = getattr(template.event, key)
        if value:
            event[key] = value
    if template.event.hybrid:
        event["hybrid"] = True
    doc: dict[str, Any] = {"event": event, "speakers": list(speakers.values())}
    if template.interpreters:
        doc["interpreters"] = template.interpreters
    if booths:
        doc["booths"] = [b for _, b in booths]
    if template.clips:
        doc["clips"] = template.clips
    doc["destinations"] = [d for _, d in destinations]
    doc["sessions"] = sessions
    if problems:
        raise InterchangeError(source, problems)
    schedule = _validate(doc, talks_by_id={ids.session_id(t, programme.acronym): t for t in talks}, source=source)
    return doc, schedule


def _speaker(template: Template, pid: str, person: PersonRef, part: PersonPart) -> dict[str, Any]:
    appearance = part.appearance or template.speakers.appearance
    sp: dict[str, Any] = {"id": pid, "name": person.name}
    for key in ("name_local", "city", "country", "role"):
        if getattr(part, key):
            sp[key] = getattr(part, key)
    sp["languages"] = list(dict.fromkeys([*part.languages, *template.speakers.languages]))
    sp["appearance"] = appearance.value
    if part.clip:
        sp["clip"] = part.clip
    if part.backup_clip:
        sp["backup_clip"] = part.backup_clip
    timezone = part.timezone or template.speakers.timezone
    if timezone:
        sp["timezone"] = timezone
    return sp


def _rundown(
    talk: Talk,
    template: Template,
    floor: str,
    people: list[str],
    speakers: dict[str, dict[str, Any]],
    clips: set[Any],
    problems: list[str],
) -> list[dict[str, Any]]:
    part = template.session
    rundown: list[dict[str, Any]] = []
    fixed = timedelta(0)
    if part.opening:
        rundown.append({"id": "opening", "kind": "slate", "text": part.opening.text.replace("{title}", talk.title),
                        "duration": duration_text(part.opening.duration)})  # fmt: skip
        fixed += part.opening.duration
    closing = part.closing
    if closing:
        fixed += closing.duration
    share_total = talk.duration - fixed
    if share_total < timedelta(seconds=len(people) or 1):
        problems.append(f"{talk.label()} lasts {duration_text(talk.duration)}, too short for the template's slates")
        return rundown or [{"kind": "slate", "duration": duration_text(talk.duration)}]
    # Whole seconds per person; the first take the remainder so the talk is filled to its end.
    n = max(len(people), 1)
    seconds = int(share_total.total_seconds())
    shares = [seconds // n + (1 if i < seconds % n else 0) for i in range(n)]
    if not people:
        rundown.append(
            {"id": "talk", "kind": "studio", "language": floor, "duration": duration_text(timedelta(seconds=seconds))}
        )
    for i, pid in enumerate(people):
        sp = speakers[pid]
        seg: dict[str, Any] = {"id": f"{i + 1:02d}-{pid[:16]}".rstrip("-")}
        if sp["appearance"] == Appearance.STUDIO.value:
            seg |= {"kind": "studio", "speaker": pid, "duration": duration_text(timedelta(seconds=shares[i]))}
        elif sp["appearance"] == Appearance.LIVE.value:
            seg |= {"kind": "remote", "speaker": pid, "duration": duration_text(timedelta(seconds=shares[i]))}
        else:
            clip = sp.get("clip")
            if not clip or clip not in clips:
                problems.append(
                    f"{talk.label()}: speaker '{sp['name']}' ({pid}) is pre-recorded but the template "
                    f"{'names no clip for them' if not clip else f'has no clip {clip!r}'} (speakers.people.{pid}.clip)"
                )
                continue
            seg |= {"kind": "clip", "clip": clip, "speaker": pid}
        seg["language"] = floor
        if part.transition != "cut":
            seg["transition"] = part.transition
        rundown.append(seg)
    if closing:
        rundown.append({"id": "closing", "kind": "slate", "text": closing.text.replace("{title}", talk.title),
                        "duration": duration_text(closing.duration)})  # fmt: skip
    return rundown


def _talk_problems(talks: list[Talk], template: Template, acronym: str) -> list[str]:
    """What the import can say about a talk before building anything: its language, its length
    against the session limit, guids used twice, and talks overlapping in one room."""
    problems: list[str] = []
    limit = template.event.max_session
    seen: dict[str, Talk] = {}
    for t in talks:
        if _language(t, template) is None:
            problems.append(f"{t.label()} has language {t.language!r}, not a language code such as en or ko")
        if limit is not None and t.duration > limit:
            problems.append(
                f"{t.label()} runs {duration_text(t.duration)}, longer than the event's session limit of {duration_text(limit)}"
            )
        sid = ids.session_id(t, acronym)
        if sid in seen:
            problems.append(f"{t.label()} has the same guid as {seen[sid].label()}")
        seen[sid] = t
    by_room: dict[str, list[Talk]] = {}
    for t in talks:
        by_room.setdefault(t.room, []).append(t)
    for room_talks in by_room.values():
        latest: Talk | None = None
        for t in sorted(room_talks, key=lambda t: t.start):
            if latest is not None and t.start < latest.end:
                problems.append(f"{t.label()} starts before {latest.label()} ends, in the same room")
            if latest is None or t.end > latest.end:
                latest = t
    return problems


def _validate(doc: dict[str, Any], talks_by_id: dict[str, Talk], source: str) -> Schedule:
    """Check the result as `summit validate` would; name the talk of every session problem."""

    def where(path: tuple[Any, ...]) -> str:
        if len(path) >= 2 and path[0] == "sessions" and isinstance(path[1], int) and path[1] < len(doc["sessions"]):
            talk = talks_by_id.get(doc["sessions"][path[1]]["id"])
            rest = format_path(path[2:])
            if talk is not None:
                return talk.label() + (f" ({rest})" if rest else "")
        if len(path) >= 2 and path[0] == "speakers" and isinstance(path[1], int) and path[1] < len(doc["speakers"]):
            sp = doc["speakers"][path[1]]
            rest = format_path(path[2:])
            return f"speaker '{sp['name']}' ({sp['id']})" + (f" ({rest})" if rest else "")
        return format_path(path) or "(schedule)"

    try:
        schedule = Schedule.model_validate(doc)
    except ValidationError as exc:
        raise InterchangeError(
            source,
            [
                f"{where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors(include_url=False)
            ],
        ) from None
    errors = [p for p in check_schedule(schedule) if p.severity == "error"]
    if errors:
        raise InterchangeError(source, [f"{where(p.path)}: {p.message}" for p in errors])
    return schedule


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's when PyYAML has it: a large programme dumps fast


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)


def import_programme(programme: Programme, template: Template, source: str = "<export>") -> tuple[str, Schedule]:
    """The schedule's YAML text and the schedule itself (checked as `summit validate` checks a file)."""
    doc, schedule = build(programme, template, source)
    return to_yaml(doc), schedule


def event_days(schedule: Schedule) -> list[date]:
    tz = schedule.event.tz
    return sorted(set(schedule.event.days) | {s.start.astimezone(tz).date() for s in schedule.sessions})
