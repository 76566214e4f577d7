"""Load a schedule file: YAML → pydantic → whole-document checks, every problem with file:line and path.

YAML is composed to a node tree first so that each value's line is known; pydantic's error locations
and the checks' paths are then turned into lines. All problems are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.schedule.checks import Problem, check_schedule
from orchestrator.schedule.model import Schedule

PathPart = str | int


@dataclass(frozen=True)
class Located:
    """A problem placed in its file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(document)'}: {self.message}"


class ScheduleError(Exception):
    """A schedule file that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[Located]) -> None:
        self.file = file
        self.problems = problems
        n = len(problems)
        head = f"{file}: {n} problem{'s' if n != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


def format_path(parts: Iterable[PathPart]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_map(node: yaml.Node, prefix: tuple[PathPart, ...] = ()) -> dict[tuple[PathPart, ...], int]:
    """Map each document path to the 1-based line where its value (or key) starts."""
    lines: dict[tuple[PathPart, ...], int] = {prefix: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            path = (*prefix, key)
            lines.update(_line_map(value_node, path))
            lines[path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_map(item, (*prefix, i)))
    return lines


def _nearest_line(lines: dict[tuple[PathPart, ...], int], path: tuple[PathPart, ...]) -> int | None:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _pydantic_path(loc: tuple[Any, ...], data: Any = None) -> tuple[PathPart, ...]:
    """Drop pydantic's union-tag and validator entries ("youtube", "function-after[...]") from a loc.

    A discriminated union's tag is the value of the item's `kind`, not a key of the document: it is
    recognised by walking the data alongside the loc."""
    out: list[PathPart] = []
    node = data
    for part in loc:
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        if isinstance(part, str) and isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _duplicate_keys(node: yaml.Node, prefix: tuple[PathPart, ...] = ()) -> list[tuple[tuple[PathPart, ...], int]]:
    """(path, line) of every key that repeats an earlier key of the same mapping (PyYAML keeps the last)."""
    found: list[tuple[tuple[PathPart, ...], int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                found.append(((*prefix, key), key_node.start_mark.line + 1))
            seen.add(key)
            found += _duplicate_keys(value_node, (*prefix, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, (*prefix, i))
    return found


def parse_schedule_text(text: str, file: str = "<schedule>") -> Schedule:
    """Parse and check a schedule; raises ScheduleError listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScheduleError(file, [Located(file, line, "", f"not valid YAML: {problem}")]) from None
    if root is None:
        raise ScheduleError(file, [Located(file, None, "", "the file is empty")])
    data = yaml.load(text, Loader=yaml.SafeLoader)
    lines = _line_map(root)
    if not isinstance(data, dict):
        raise ScheduleError(file, [Located(file, 1, "", "the top level must be a mapping (event:, sessions:, …)")])
    repeated = [
        Located(file, line, format_path(path), f"'{path[-1]}' is given twice; only the last would count")
        for path, line in _duplicate_keys(root)
    ]

    try:
        schedule = Schedule.model_validate(data)
    except ValidationError as exc:
        problems = list(repeated)
        for err in exc.errors(include_url=False):
            path = _pydantic_path(err["loc"], data)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field '{path[-1]}'"
            elif err["type"] == "union_tag_invalid":
                ctx = err.get("ctx", {})
                msg = f"unknown {ctx.get('discriminator', 'kind')} {ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}"
            problems.append(Located(file, _nearest_line(lines, path), format_path(path), msg))
        raise ScheduleError(file, problems) from None

    found: list[Problem] = check_schedule(schedule)
    errors = [p for p in found if p.severity == "error"]
    if errors or repeated:
        raise ScheduleError(
            file,
            repeated + [Located(file, _nearest_line(lines, p.path), format_path(p.path), p.message) for p in errors],
        )
    return schedule


def load_schedule(path: str | Path) -> Schedule:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScheduleError(str(path), [Located(str(path), None, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise ScheduleError(str(path), [Located(str(path), None, "", f"not UTF-8 text ({exc.reason})")]) from None
    return parse_schedule_text(text, str(path))


def schedule_warnings(schedule: Schedule) -> list[Problem]:
    return [p for p in check_schedule(schedule) if p.severity == "warning"]
