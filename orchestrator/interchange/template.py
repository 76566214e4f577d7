"""The import template: what a frab/pretalx export does not hold, in one YAML file.

Destinations per room and language, booths and interpreters, clips, the session limit, how speakers
appear (studio, live, pre-recorded) and the slates around each talk. In any text of `destinations`
and `booths`, `{room}` becomes the room's short name and `{language}` each of `languages` in turn:
an entry using `{room}` is made once per room, one using `{language}` once per language. Other
braces (a file destination's `{event}/{session}/…` path) are left for the schedule to fill.
See `schedules/templates/example.yaml`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.schedule.model import Appearance, Duration, Identifier, LanguageCode

PLACEHOLDER = re.compile(r"\{(room|language)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventPart(_Strict):
    id: Identifier | None = Field(None, description="the event's id; the export's acronym otherwise")
    name: dict[LanguageCode, str] = Field(default_factory=dict, description="the name in more languages")
    timezone: str | None = Field(None, description="when the export names none, or names the wrong one")
    max_session: Duration | None = None
    venue: str | None = None
    hybrid: bool = False
    studio_feed: str | None = None


class Slate(_Strict):
    text: str = Field(min_length=1, description="may use {title}")
    duration: Duration


class SessionPart(_Strict):
    opening: Slate | None = None
    closing: Slate | None = None
    transition: str = Field("cut", pattern=r"^(cut|fade)$")


class PersonPart(_Strict):
    appearance: Appearance | None = None
    languages: list[LanguageCode] = Field(default_factory=list, description="spoken besides the talk's")
    timezone: str | None = None
    clip: Identifier | None = None
    backup_clip: Identifier | None = None
    city: str | None = None
    country: str | None = None
    role: str | None = None
    name_local: str | None = None


class SpeakersPart(_Strict):
    appearance: Appearance = Appearance.LIVE
    languages: list[LanguageCode] = Field(default_factory=list)
    timezone: str | None = None
    people: dict[str, PersonPart] = Field(
        default_factory=dict, description="per person, keyed by the id the import gives them or by their name"
    )


class Template(_Strict):
    event: EventPart = Field(default_factory=EventPart)
    language: LanguageCode = Field("en", description="of the conference title and of talks that name none")
    languages: list[LanguageCode] = Field(min_length=1, description="the output languages")
    rooms: dict[str, Identifier] = Field(default_factory=dict, description="room name → short name for {room}")
    destinations: list[dict[str, Any]] = Field(min_length=1)
    interpreters: list[dict[str, Any]] = Field(default_factory=list)
    booths: list[dict[str, Any]] = Field(default_factory=list)
    clips: list[dict[str, Any]] = Field(default_factory=list)
    session: SessionPart = Field(default_factory=SessionPart)
    speakers: SpeakersPart = Field(default_factory=SpeakersPart)


class TemplateError(Exception):
    pass


def load_template(path: str | Path) -> Template:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such template") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read the template ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise TemplateError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: a template is a mapping (languages:, destinations:, …)")
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(x) for x in e['loc']) or '(template)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        ]
        raise TemplateError("\n".join([f"{path}: {len(lines)} problem(s)", *lines])) from None


def uses(entry: Any, name: str) -> bool:
    """Whether `{name}` appears in any text of the entry."""
    if isinstance(entry, str):
        return any(m[1] == name for m in PLACEHOLDER.finditer(entry))
    if isinstance(entry, dict):
        return any(uses(v, name) for v in entry.values())
    if isinstance(entry, list):
        return any(uses(v, name) for v in entry)
    return False


def fill(entry: Any, values: dict[str, str]) -> Any:
    """The entry with `{room}` and `{language}` replaced wherever a value is given."""
    if isinstance(entry, str):
        return PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), entry)
    if isinstance(entry, dict):
        return {k: fill(v, values) for k, v in entry.items()}
    if isinstance(entry, list):
        return [fill(v, values) for v in entry]
    return entry
