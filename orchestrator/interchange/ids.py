"""Ids that survive a round trip: schedule ids from the exports' guids and ids, and back.

A talk's session id is its guid (or, for a talk this project exported, the id it had) (lower case, a valid schedule id), so a re-import of an updated
export keeps every session's id and `summit reload` sees only what changed; the export writes the
guid back from it. A person becomes `p<id>` from a numeric id, their guid otherwise, `p-<code>` from a
pretalx code. Sessions and speakers that were never imported get a guid derived from the event and
their id (uuid5), the same on every export.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from orchestrator.interchange.formats import PersonRef, Talk

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NUMERIC_PERSON = re.compile(r"^p(\d{1,12})$")
_CODE_PERSON = re.compile(r"^p-([a-z0-9]{1,32})$")
_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAMESPACE = uuid.UUID("6f1d2c1e-7c0b-5d55-9a61-5c0e8b2e4a10")  # this project's, for uuid5 guids


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:limit].strip("-") or "x"


def session_id(talk: Talk, acronym: str) -> str:
    """The guid; but a talk we exported ourselves gets back the id it had (its slug ends with it,
    and its guid is the one that id gives)."""
    if talk.guid and _UUID.match(talk.guid):
        _, _, tail = talk.slug.partition("-")
        if tail and _IDENTIFIER.match(tail) and session_guid(slug(acronym, 64), tail) == talk.guid:
            return tail
        return talk.guid
    return f"talk-{talk.id}"


def speaker_id(person: PersonRef) -> str:
    if person.id is not None:
        return f"p{person.id}"
    if person.guid and _UUID.match(person.guid.lower()):
        return person.guid.lower()
    if person.code and re.fullmatch(r"[A-Za-z0-9]{1,32}", person.code):
        return f"p-{person.code.lower()}"
    return f"p-{slug(person.name)}"


def session_guid(event_id: str, sid: str) -> str:
    if _UUID.match(sid):
        return sid
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}/session/{sid}"))


def session_number(guid: str) -> int:
    """A positive integer for the formats' deprecated numeric `id`, fixed by the guid."""
    return int(guid.replace("-", "")[:8], 16) % 900_000_000 + 1


@dataclass(frozen=True)
class PersonKeys:
    """How a speaker is named in an export: a numeric id, a guid or a pretalx code."""

    id: int | None = None
    guid: str | None = None
    code: str | None = None


def person_keys(event_id: str, speaker: str) -> PersonKeys:
    if m := _NUMERIC_PERSON.match(speaker):
        return PersonKeys(id=int(m[1]))
    if _UUID.match(speaker):
        return PersonKeys(guid=speaker)
    if m := _CODE_PERSON.match(speaker):
        return PersonKeys(code=m[1].upper())
    return PersonKeys(guid=str(uuid.uuid5(_NAMESPACE, f"{event_id}/person/{speaker}")))
