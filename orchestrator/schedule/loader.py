"""Load a schedule file: YAML → pydantic → whole-document checks, every problem with file:line and path.

The text is parsed ONCE, by libyaml (`CSafeLoader`'s parser), and the Python values are built
straight from its event stream — no node tree is kept (it would more than double a large schedule's
peak memory). As the events arrive, nesting past the limit, a value holding more than the limit of
values once its aliases are followed (an alias bomb: refused at the first list that would, while
every alias is still one shared value), an alias inside the value it names, tags other than plain
data and keys that are not scalars are refused, and keys given twice are noted. Lines of pydantic's
and the checks' problems are found by composing the text again, only when there is one to place.
All problems are reported at once, none as a traceback.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.schedule.checks import Problem, check_schedule
from orchestrator.schedule.model import ClipSegment, Schedule

PathPart = str | int

# libyaml is the fast parser; the pure-Python one is the fallback where PyYAML was built without it.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """libyaml's loader with the implicit-tag lookup of plain scalars remembered per document: a
    schedule repeats the same few hundred words (`kind`, `studio`, `10m`…) hundreds of thousands of
    times, and PyYAML resolves each one with regular expressions, in Python."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._plain_tags: dict[str, str] = {}

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:  # plain: the tag depends on the text alone
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._plain_tags) < 100_000:
                    self._plain_tags[value] = tag
            return tag
        return str(super().resolve(kind, value, implicit))


_YAML = "tag:yaml.org,2002:"
# Plain data only: no Python objects, no binary blobs, no sets or ordered pairs, no local tags.
ALLOWED_TAGS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp", "merge"))


@dataclass(frozen=True)
class Limits:
    """What a schedule file may hold. A five-day event with 10,000 sessions is far inside these."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 500  # nesting levels of mappings and lists
    max_nodes: int = 5_000_000  # values once every alias is expanded: an alias bomb stops here


DEFAULT_LIMITS = Limits()


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


class ScheduleError(ValueError):
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


# ---------------------------------------------------------------------------------------------
# YAML: one parse, measured before it is built


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _fail(file: str, line: int | None, message: str) -> ScheduleError:
    return ScheduleError(file, [Located(file, line, "", message)])


_STR, _MAP, _SEQ, _MERGE = (_YAML + t for t in ("str", "map", "seq", "merge"))
_SCALAR_TAGS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp"))


class _Frame:
    """An open list or mapping while its events arrive."""

    __slots__ = (
        "anchor",
        "bad",
        "depth",
        "has_key",
        "is_map",
        "key",
        "keys",
        "merge_next",
        "merges",
        "part",
        "size",
        "value",
    )

    def __init__(self, is_map: bool, part: PathPart | None, anchor: str | None, bad: bool) -> None:
        self.value: Any = {} if is_map else []
        self.is_map, self.part, self.anchor, self.bad = is_map, part, anchor, bad
        self.size = 1  # values inside, every alias counted as what it stands for
        self.depth = 0  # levels below, aliases followed
        self.key: Any = None
        self.has_key = False
        self.keys: set[str] = set()
        self.merges: list[Any] = []
        self.merge_next = False


class _EventBuilder:
    """Python values straight from libyaml's event stream, checked as they arrive; no node tree.

    An alias's value is the anchor's, shared, never copied; each value's size and depth with its
    aliases followed is known when it is complete, so an alias bomb is refused at the first list
    that would hold too much, before anything expands it. An alias inside the value it names is a
    cycle. Tags beyond plain data and keys that are not scalars are problems (nothing is built from
    them); keys given twice are noted apart, to be reported with the schedule's other problems."""

    def __init__(self, loader: yaml.SafeLoader, file: str, limits: Limits) -> None:
        # Any: PyYAML's parser methods (get_event, resolve…) are untyped.
        self.loader: Any = loader
        self.file, self.limits = file, limits
        self.scalars: dict[str | None, Any] = loader.yaml_constructors  # tag → SafeConstructor's function
        self.anchors: dict[str, tuple[Any, int, int, bool]] = {}  # value, size, depth, is a collection
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.problems: list[Located] = []
        self.repeated: list[Located] = []
        self.result: Any = None

    def path(self, *extra: PathPart) -> str:
        return format_path([f.part for f in self.stack[1:] if f.part is not None] + list(extra))

    def problem(self, mark: Any, message: str) -> None:
        """A problem at the value about to be added (its key or index is part of the path)."""
        part = self._part()
        self.problems.append(
            Located(self.file, int(mark.line) + 1, self.path(*([] if part is None else [part])), message)
        )

    def run(self) -> Any:
        loader = self.loader
        loader.get_event()  # the stream starts
        if loader.check_event(yaml.StreamEndEvent):
            return _EMPTY
        loader.get_event()  # the document starts
        limits = self.limits
        while True:
            ev = loader.get_event()
            cls = type(ev)
            if cls is yaml.ScalarEvent:
                tag = ev.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
                if tag == _STR:
                    value: Any = ev.value
                elif tag not in ALLOWED_TAGS or (tag == _MERGE and not self._expecting_key()):
                    value = None
                    self.problem(
                        ev.start_mark, f"the tag {tag.replace(_YAML, '!!')} is not allowed: a schedule holds plain data"
                    )
                elif tag == _MERGE:
                    value = "<<"
                elif tag not in _SCALAR_TAGS:
                    value = None
                    self.problem(ev.start_mark, f"the tag {tag.replace(_YAML, '!!')} cannot mark a plain value")
                else:
                    try:
                        value = self.scalars[tag](loader, yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark))
                    except (ValueError, OverflowError) as exc:  # e.g. the timestamp 2026-02-30
                        value = None
                        self.problem(ev.start_mark, f"{ev.value[:40]!r} cannot be read: {exc}")
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = (value, 1, 0, False)
                self.add(value, 1, 0, False, ev, tag)
            elif cls is yaml.AliasEvent:
                if ev.anchor in self.open_anchors:
                    raise _fail(
                        self.file,
                        int(ev.start_mark.line) + 1,
                        "an alias (*name) refers to a value that contains it: a cycle",
                    )
                if ev.anchor not in self.anchors:
                    raise _fail(
                        self.file,
                        int(ev.start_mark.line) + 1,
                        f"the alias *{ev.anchor} names no anchor (&{ev.anchor}) before it",
                    )
                value, size, depth, collection = self.anchors[ev.anchor]
                self.add(value, size, depth, collection, ev, None)
            elif cls is yaml.SequenceStartEvent or cls is yaml.MappingStartEvent:
                if len(self.stack) >= limits.max_depth:
                    raise _fail(self.file, int(ev.start_mark.line) + 1, f"nested deeper than {limits.max_depth} levels")
                is_map = cls is yaml.MappingStartEvent
                expected = _MAP if is_map else _SEQ
                tag = ev.tag
                bad = tag is not None and tag != "!" and tag != expected
                part = self._part()
                if bad:
                    what = (
                        "is not allowed: a schedule holds plain data"
                        if tag not in ALLOWED_TAGS
                        else "cannot mark a list or mapping"
                    )
                    self.problem(ev.start_mark, f"the tag {tag.replace(_YAML, '!!')} {what}")
                if self._expecting_key():
                    self.problem(ev.start_mark, f"a key must be plain text, not a {'mapping' if is_map else 'list'}")
                    bad = True
                self.stack.append(_Frame(is_map, part, ev.anchor, bad))
                if ev.anchor is not None:
                    self.open_anchors.add(ev.anchor)
            elif cls is yaml.SequenceEndEvent or cls is yaml.MappingEndEvent:
                frame = self.stack.pop()
                value = None if frame.bad else frame.value
                if frame.is_map and not frame.bad:
                    self._merge(frame, ev)
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (value, frame.size, frame.depth, True)
                self.add(value, frame.size, frame.depth, True, ev, None)
            elif cls is yaml.DocumentEndEvent:
                break
        if not loader.check_event(yaml.StreamEndEvent):
            raise _fail(
                self.file, int(loader.peek_event().start_mark.line) + 1, "holds more than one YAML document (---)"
            )
        return self.result

    def _expecting_key(self) -> bool:
        return bool(self.stack) and self.stack[-1].is_map and not self.stack[-1].has_key

    def _part(self) -> PathPart | None:
        if not self.stack:
            return None
        top = self.stack[-1]
        if top.is_map:
            return None if not top.has_key else (top.key if isinstance(top.key, (str, int)) else str(top.key))
        return len(top.value)

    def add(self, value: Any, size: int, depth: int, collection: bool, ev: Any, tag: str | None) -> None:
        if not self.stack:
            self.result = value
            return
        top = self.stack[-1]
        top.size += size
        top.depth = max(top.depth, depth + 1)
        if top.size > self.limits.max_nodes:
            raise _fail(
                self.file,
                int(ev.start_mark.line) + 1,
                f"expands to more than {self.limits.max_nodes:,} values once its aliases (*name) are "
                "followed: refused before anything uses it (an alias bomb?)",
            )
        if len(self.stack) + depth > self.limits.max_depth:
            raise _fail(
                self.file,
                int(ev.start_mark.line) + 1,
                f"nested deeper than {self.limits.max_depth} levels once its aliases are followed",
            )
        if top.bad:
            return
        if not top.is_map:
            top.value.append(value)
            return
        if not top.has_key:
            if collection:  # a list or mapping as a key (reported at its start, or here for an alias)
                if isinstance(ev, yaml.AliasEvent):
                    self.problem(ev.start_mark, "a key must be plain text, not a list or mapping")
                top.key, top.has_key, top.bad = None, True, True
                return
            if tag == _MERGE:
                top.merge_next = True
            else:
                text = ev.value if isinstance(ev, yaml.ScalarEvent) else str(value)
                if text in top.keys:
                    self.repeated.append(
                        Located(
                            self.file,
                            int(ev.start_mark.line) + 1,
                            self.path(text),
                            f"'{text}' is given twice; only the last would count",
                        )
                    )
                top.keys.add(text)
            top.key, top.has_key = value, True
            return
        if top.merge_next:
            top.merges.append(value)
            top.merge_next = False
        else:
            top.value[top.key] = value
        top.key, top.has_key = None, False

    def _merge(self, frame: _Frame, ev: Any) -> None:
        """`<<: *base` (or a list of them): the bases' entries under the mapping's own, earlier first."""
        for base in frame.merges:
            for source in base if isinstance(base, list) else [base]:
                if not isinstance(source, dict):
                    self.problems.append(
                        Located(
                            self.file,
                            int(ev.start_mark.line) + 1,
                            self.path(),
                            "a merge (<<) takes a mapping or a list of mappings",
                        )
                    )
                    continue
                for k, v in source.items():
                    frame.value.setdefault(k, v)


_EMPTY = object()


def _yaml_problem(exc: yaml.YAMLError, file: str, text: str) -> Located:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = int(mark.line) + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    if "maximum nesting depth" in problem:
        problem = "nested too deeply"
    elif mark is not None and "cannot start any token" in problem:
        # libyaml does not say which character; a tab in the indentation is the usual one.
        lines = text.splitlines()
        row = lines[mark.line] if mark.line < len(lines) else ""
        char = row[mark.column] if mark.column < len(row) else ""
        problem = "found a tab character, which YAML does not allow for indenting" if char == "\t" else problem
        if char and char != "\t":
            problem = f"found character {char!r} that cannot start any token"
    return Located(file, line, "", f"not valid YAML: {problem}")


@dataclass
class Document:
    """A parsed YAML document: its data, and how to find the line of any path in it.

    The node tree (several objects per value, with their marks) is dropped once the data is built:
    it would more than double the peak memory of a large schedule while pydantic validates it. The
    text is composed again only if some problem or warning has to be placed on its line."""

    data: Any
    text: str
    repeated: list[Located]  # keys given twice: reported with the schedule's other problems
    _root: yaml.Node | None = None

    def _tree(self) -> yaml.Node:
        if self._root is None:
            loader = _Loader(self.text)
            try:
                self._root = loader.get_single_node()
            finally:
                loader.dispose()
        assert self._root is not None  # the same text composed before
        return self._root

    def line_of(self, path: Iterable[PathPart]) -> int | None:
        """The line where the value at `path` (or its nearest existing ancestor) starts; a mapping
        entry is placed on its key's line."""
        node = self._tree()
        line = _line(node)
        for part in path:
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in _flat_pairs(node):
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        nxt, line = value_node, _line(key_node)
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                nxt = node.value[part]
                line = _line(nxt)
            if nxt is None:
                break
            node = nxt
        return line


def _flat_pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's pairs with merged (`<<: *base`) ones after its own, as the constructor sees them."""
    own: list[tuple[yaml.Node, yaml.Node]] = []
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == _YAML + "merge":
            for src in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                if isinstance(src, yaml.MappingNode):
                    merged += _flat_pairs(src)
        else:
            own.append((key_node, value_node))
    return own + merged


def parse_yaml(text: str, file: str = "<yaml>", limits: Limits = DEFAULT_LIMITS) -> Document | None:
    """Parse one YAML document of plain data within `limits`; None for an empty document.

    Raises ScheduleError (naming `file` and the line) for anything else, never a YAML traceback."""
    if len(text) > limits.max_bytes:
        raise _fail(file, None, f"is larger than {limits.max_bytes:,} bytes")
    loader = _Loader(text)
    builder = _EventBuilder(loader, file, limits)
    try:
        data = builder.run()
        if data is _EMPTY:
            return None
        if builder.problems:
            raise ScheduleError(file, sorted(builder.problems, key=lambda p: p.line or 0))
    except ScheduleError:
        raise
    except yaml.YAMLError as exc:
        raise ScheduleError(file, [_yaml_problem(exc, file, text)]) from None
    except (ValueError, OverflowError) as exc:
        # The constructor's own conversions (a timestamp like 2026-02-30, an out-of-range year).
        raise _fail(file, None, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return Document(data, text, builder.repeated)


def read_text_file(path: str | Path, limits: Limits = DEFAULT_LIMITS, what: str = "file") -> str:
    """A regular UTF-8 text file's content, read at most `max_bytes`; a clear ScheduleError otherwise."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _fail(name, None, "no such file") from None
    except IsADirectoryError:
        raise _fail(name, None, f"is a directory, not a {what}") from None
    except OSError as exc:
        raise _fail(name, None, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _fail(name, None, f"is a directory, not a {what}")
        if not stat.S_ISREG(st.st_mode):
            raise _fail(name, None, f"is not a regular file (a device or a pipe?), not a {what}")
        if st.st_size > limits.max_bytes:
            raise _fail(name, None, f"is {st.st_size:,} bytes, larger than the limit of {limits.max_bytes:,}")
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(st.st_size + 1)  # not max_bytes: read() would allocate all of it up front
    except OSError as exc:
        raise _fail(name, None, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)
    if len(raw) > limits.max_bytes:
        raise _fail(name, None, f"is larger than the limit of {limits.max_bytes:,} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(name, line, f"not UTF-8 text (a binary file?): {exc.reason} at byte {exc.start}") from None


# ---------------------------------------------------------------------------------------------
# Schedules


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


def _validate(doc: Document, file: str) -> Schedule:
    if not isinstance(doc.data, dict):
        raise _fail(file, 1, "the top level must be a mapping (event:, sessions:, …)")
    try:
        return Schedule.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            path = _pydantic_path(err["loc"], doc.data)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field '{path[-1]}'"
            elif err["type"] == "union_tag_invalid":
                ctx = err.get("ctx", {})
                msg = f"unknown {ctx.get('discriminator', 'kind')} {ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}"
            problems.append(Located(file, doc.line_of(path), format_path(path), msg))
        raise ScheduleError(file, doc.repeated + problems) from None


def check_file(
    text: str,
    file: str = "<schedule>",
    *,
    media_dir: str | Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[Schedule, list[Located]]:
    """Parse and check a schedule: the schedule and its warnings, each placed on its line.

    Raises ScheduleError listing every error. With `media_dir`, every clip's file is looked for
    there too (a missing one is a warning: recordings often arrive late; one that is not a regular
    file, or escapes the folder by a link, is an error)."""
    doc = parse_yaml(text, file, limits)
    if doc is None:
        raise _fail(file, None, "the file is empty")
    schedule = _validate(doc, file)
    found = check_schedule(schedule)
    if media_dir is not None:
        found += clip_file_problems(schedule, Path(media_dir))
    errors = [
        Located(file, doc.line_of(p.path), format_path(p.path), p.message) for p in found if p.severity == "error"
    ]
    if errors or doc.repeated:
        raise ScheduleError(file, doc.repeated + errors)
    warnings = [
        Located(file, doc.line_of(p.path), format_path(p.path), p.message) for p in found if p.severity == "warning"
    ]
    return schedule, warnings


def parse_schedule_text(text: str, file: str = "<schedule>", *, media_dir: str | Path | None = None) -> Schedule:
    """Parse and check a schedule; raises ScheduleError listing every problem."""
    return check_file(text, file, media_dir=media_dir)[0]


def load_schedule_checked(
    path: str | Path, *, media_dir: str | Path | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[Schedule, list[Located]]:
    """Read, parse and check a schedule file: the schedule and its located warnings."""
    return check_file(read_text_file(path, limits, "schedule file"), str(path), media_dir=media_dir, limits=limits)


def load_schedule(path: str | Path, *, media_dir: str | Path | None = None) -> Schedule:
    return load_schedule_checked(path, media_dir=media_dir)[0]


def schedule_warnings(schedule: Schedule, *, media_dir: str | Path | None = None) -> list[Problem]:
    found = check_schedule(schedule)
    if media_dir is not None:
        found += clip_file_problems(schedule, Path(media_dir))
    return [p for p in found if p.severity == "warning"]


def clip_file_problems(schedule: Schedule, media_dir: Path) -> list[Problem]:
    """Each clip's file under `media_dir`: there (else a warning), a regular file, and inside the
    folder once links are followed (else an error). The path itself was checked by the model."""
    problems: list[Problem] = []
    try:
        root = media_dir.resolve()
    except OSError:
        root = media_dir.absolute()
    used = {seg.clip for s in schedule.sessions for seg in s.rundown if isinstance(seg, ClipSegment)}
    for i, clip in enumerate(schedule.clips):
        where = ("clips", i, "path")
        target = media_dir / clip.path
        try:
            st = target.stat()
        except FileNotFoundError:
            note = "" if clip.id in used else " (no segment plays it)"
            problems.append(Problem(where, f"clip '{clip.id}': no file {clip.path} in {media_dir}{note}", "warning"))
            continue
        except OSError as exc:
            problems.append(Problem(where, f"clip '{clip.id}': {clip.path} cannot be read ({exc.strerror})"))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(where, f"clip '{clip.id}': {clip.path} is not a regular file"))
        elif not target.resolve().is_relative_to(root):
            problems.append(Problem(where, f"clip '{clip.id}': {clip.path} leads outside {media_dir} by a link"))
    return problems
