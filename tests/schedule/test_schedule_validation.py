"""Model and validation: good files load; broken ones fail with every problem, each naming the file,
the line and the path in the document.

Two sources of broken schedules:
- cases built here from tests/data/two-sessions.yaml by replacing one piece of text; the expected line
  is the line where the replacement lands;
- files in tests/data/bad/, each listing what it must produce in `# expect:` header lines and marking
  the expected line with `# @marker` (see tests/data/bad/README.md).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.schedule.loader import (
    Located,
    ScheduleError,
    load_schedule,
    parse_schedule_text,
    schedule_warnings,
)
from orchestrator.schedule.model import Clip

DATA = Path(__file__).resolve().parents[1] / "data"
BASE_FILE = DATA / "two-sessions.yaml"
BASE = BASE_FILE.read_text(encoding="utf-8")
BAD = DATA / "bad"
FILE = "case.yaml"


# ---------------------------------------------------------------------------------------------
# Helpers


def mutate(old: str, new: str, *, text: str = BASE, nth: int = 1) -> str:
    """`text` with the nth occurrence of `old` replaced by `new` (which must be there)."""
    start = -1
    for _ in range(nth):
        start = text.find(old, start + 1)
        assert start >= 0, f"{old!r} is not in the text {nth} times"
    return text[:start] + new + text[start + len(old) :]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based number of the nth line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} is on {len(hits)} lines, wanted #{nth}"
    return hits[nth - 1]


def problems_of(text: str, file: str = FILE) -> list[Located]:
    with pytest.raises(ScheduleError) as info:
        parse_schedule_text(text, file)
    err = info.value
    assert err.file == file
    assert str(err).startswith(f"{file}: {len(err.problems)} problem")
    return err.problems


def find(problems: list[Located], path: str, fragment: str) -> Located:
    hits = [p for p in problems if p.path == path and fragment in p.message]
    assert hits, f"no problem at {path!r} containing {fragment!r}; got:\n" + "\n".join(map(str, problems))
    return hits[0]


def assert_reported(problems: list[Located], *, path: str, fragment: str, line: int, file: str = FILE) -> None:
    p = find(problems, path, fragment)
    assert p.file == file
    assert p.line == line, f"{p} — expected line {line}"
    assert str(p) == f"{file}:{line}: {path or '(document)'}: {p.message}"


# ---------------------------------------------------------------------------------------------
# Good files


def test_the_example_file_loads() -> None:
    s = load_schedule(BASE_FILE)
    assert [x.id for x in s.sessions] == ["climate", "dialogue"]
    assert s.event.tz.key == "Asia/Seoul"
    assert s.sessions[0].duration == timedelta(hours=1)
    assert s.output_languages(s.sessions[0]) == ["ko", "en"]
    assert s.sessions[0].start.utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize("text", ["1h30m", "90m", "90min", "5400s", "1h 30m", 5400, "PT1H30M"])
def test_durations_in_every_accepted_spelling(text: object) -> None:
    clip = Clip.model_validate({"id": "c", "path": "c.mp4", "duration": text})
    assert clip.duration == timedelta(minutes=90)


def test_a_plain_string_title_is_english() -> None:
    text = mutate("title: {en: Climate & Environment, ko: 기후·환경}", "title: Climate")
    s = parse_schedule_text(text, FILE)
    assert s.sessions[0].title.get("en") == "Climate"
    assert s.sessions[0].title.get("ko", fallback="en") == "Climate"


def test_a_live_speaker_without_backup_is_a_warning_not_an_error() -> None:
    text = mutate(", backup_clip: diamond-backup}", "}")
    s = parse_schedule_text(text, FILE)
    warnings = schedule_warnings(s)
    assert [w.path for w in warnings] == [("sessions", 1, "rundown", 1, "speaker")]
    assert "no backup_clip" in warnings[0].message


def test_back_to_back_sessions_on_one_destination_do_not_overlap() -> None:
    text = mutate("    start: 2020-06-03T11:30:00+09:00", "    start: 2020-06-03T11:00:00+09:00")
    text = mutate("    end: 2020-06-03T12:30:00+09:00", "    end: 2020-06-03T12:00:00+09:00", text=text)
    s = parse_schedule_text(text, FILE)  # an overlap would be an error: this would raise
    climate, dialogue = s.sessions
    # Really back to back on the same destinations: the second starts the instant the first ends.
    assert dialogue.start == climate.end and set(dialogue.outputs) == set(climate.outputs) == {"rec-ko", "rec-en"}
    assert schedule_warnings(s) == []  # and not even a warning about it


# ---------------------------------------------------------------------------------------------
# One problem at a time, built from the example file.
# (id, old text, new text, document path, fragment of the message, needle on the expected line, nth)

CASES = [
    (
        "naive-datetime",
        "    start: 2020-06-03T10:00:00+09:00",
        "    start: 2020-06-03T10:00:00",
        "sessions[0].start",
        "has no time zone",
        "    start: 2020-06-03T10:00:00",
        1,
    ),
    (
        "unknown-event-timezone",
        "  timezone: Asia/Seoul",
        "  timezone: Asia/Tokio",
        "event.timezone",
        "'Asia/Tokio' is not a known time zone",
        "Asia/Tokio",
        1,
    ),
    (
        "unknown-speaker-timezone",
        "appearance: live,",
        "appearance: live, timezone: America/Hollywood,",
        "speakers[2].timezone",
        "'America/Hollywood' is not a known time zone",
        "America/Hollywood",
        1,
    ),
    (
        "session-over-90-min",
        "    end: 2020-06-03T12:30:00+09:00",
        "    end: 2020-06-03T13:15:00+09:00",
        "sessions[1].end",
        "runs 1h45m, longer than the event's limit of 1h30m",
        "T13:15:00",
        1,
    ),
    (
        "end-before-start",
        "    end: 2020-06-03T12:30:00+09:00",
        "    end: 2020-06-03T11:00:00+09:00",
        "sessions[1].end",
        "session 'dialogue' ends before it starts",
        "    end: 2020-06-03T11:00:00",
        2,
    ),
    (
        "rundown-longer-than-session",
        "{kind: remote, speaker: diamond, duration: 40m}",
        "{kind: remote, speaker: diamond, duration: 55m}",
        "sessions[1].rundown",
        "lasts 1h05m, longer than the session (1h00m)",
        "    rundown:",
        2,
    ),
    (
        "overlap-on-a-destination",
        "    start: 2020-06-03T11:30:00+09:00",
        "    start: 2020-06-03T10:45:00+09:00",
        "sessions[1].start",
        "session 'dialogue' starts before 'climate' ends on destination 'rec-ko'",
        "T10:45:00",
        1,
    ),
    (
        "session-on-another-day",
        "    start: 2020-06-03T11:30:00+09:00\n    end: 2020-06-03T12:30:00+09:00",
        "    start: 2020-06-04T11:30:00+09:00\n    end: 2020-06-04T12:30:00+09:00",
        "sessions[1].start",
        "starts on 2020-06-04, not one of the event's days",
        "2020-06-04T11:30",
        1,
    ),
    (
        "unknown-speaker",
        "{kind: studio, speaker: mayor, duration: 10m}\n      - {kind: clip",
        "{kind: studio, speaker: major, duration: 10m}\n      - {kind: clip",
        "sessions[0].rundown[1].speaker",
        "unknown speaker 'major'",
        "speaker: major",
        1,
    ),
    (
        "unknown-studio-speaker-in-list",
        "{kind: studio, speaker: mayor, duration: 10m}\n      - {kind: clip",
        "{kind: studio, speakers: [mayor, ghost], duration: 10m}\n      - {kind: clip",
        "sessions[0].rundown[1].speakers[1]",
        "unknown speaker 'ghost'",
        "ghost",
        1,
    ),
    (
        "unknown-interpreter",
        "interpreters: [kim, lee]",
        "interpreters: [kim, leee]",
        "booths[0].interpreters[1]",
        "unknown interpreter 'leee'",
        "leee",
        1,
    ),
    (
        "unknown-clip-in-rundown",
        "{kind: clip, clip: bowles-talk, speaker: bowles}",
        "{kind: clip, clip: bowles-tlak, speaker: bowles}",
        "sessions[0].rundown[2].clip",
        "unknown clip 'bowles-tlak'",
        "bowles-tlak",
        1,
    ),
    (
        "unknown-clip-of-speaker",
        "appearance: prerecorded, clip: bowles-talk}",
        "appearance: prerecorded, clip: bowles}",
        "speakers[1].clip",
        "unknown clip 'bowles' for speaker 'bowles'",
        "clip: bowles}",
        1,
    ),
    (
        "unknown-backup-clip",
        "backup_clip: diamond-backup}",
        "backup_clip: diamond-bakup}",
        "speakers[2].backup_clip",
        "unknown clip 'diamond-bakup'",
        "diamond-bakup",
        1,
    ),
    (
        "unknown-destination",
        "    outputs: [rec-ko, rec-en]",
        "    outputs: [rec-ko, rec-fr]",
        "sessions[0].outputs[1]",
        "unknown destination 'rec-fr'",
        "rec-fr",
        1,
    ),
    (
        "destination-listed-twice",
        "    outputs: [rec-ko, rec-en]",
        "    outputs: [rec-ko, rec-en, rec-ko]",
        "sessions[0].outputs",
        "a destination is listed twice",
        "rec-en, rec-ko]",
        1,
    ),
    (
        "unknown-booth",
        "    booths: [ko-en]",
        "    booths: [ko-fr]",
        "sessions[0].booths[0]",
        "unknown booth 'ko-fr'",
        "ko-fr",
        1,
    ),
    (
        "missing-interpretation-ko-to-en",
        "    booths: [ko-en]\n",
        "",
        "sessions[0].rundown[1]",
        "spoken in ko but session 'climate' has an output in en and no booth on duty interprets ko→en",
        "{kind: studio, speaker: mayor, duration: 10m}",
        1,
    ),
    (
        "missing-interpretation-en-to-ko",
        "    booths: [ko-en]\n",
        "",
        "sessions[0].rundown[2]",
        "spoken in en but session 'climate' has an output in ko and no booth on duty interprets en→ko",
        "{kind: clip, clip: bowles-talk",
        1,
    ),
    (
        "unknown-field",
        "    floor_language: ko\n    outputs: [rec-ko, rec-en]\n",
        "    floor_langage: ko\n    outputs: [rec-ko, rec-en]\n",
        "sessions[0].floor_langage",
        "unknown field 'floor_langage'",
        "floor_langage",
        1,
    ),
    (
        "unknown-field-leaves-required-missing",
        "    floor_language: ko\n    outputs: [rec-ko, rec-en]\n",
        "    floor_langage: ko\n    outputs: [rec-ko, rec-en]\n",
        "sessions[0].floor_language",
        "Field required",
        "  - id: climate",
        1,
    ),
    ("unknown-top-level-key", "sessions:\n", "sesions:\n", "sesions", "unknown field 'sesions'", "sesions:", 1),
    (
        "wrong-segment-kind",
        "{kind: break, duration: 5m}",
        "{kind: pause, duration: 5m}",
        "sessions[0].rundown[3]",
        "unknown 'kind' 'pause'; use one of 'studio', 'remote', 'clip', 'slate', 'break'",
        "kind: pause",
        1,
    ),
    (
        "wrong-destination-kind",
        "{id: rec-en, kind: file, language: en}",
        "{id: rec-en, kind: tape, language: en}",
        "destinations[1]",
        "unknown 'kind' 'tape'",
        "kind: tape",
        1,
    ),
    (
        "bad-duration-string",
        "  max_session: 90m",
        "  max_session: 1h30",
        "event.max_session",
        "'1h30' is not a duration (write e.g. 90m, 1h30m, 45s)",
        "max_session",
        1,
    ),
    (
        "bad-clip-duration",
        "path: test-two/bowles-talk.mp4, duration: 20m",
        "path: test-two/bowles-talk.mp4, duration: 20 minutes",
        "clips[0].duration",
        "'20 minutes' is not a duration",
        "20 minutes",
        1,
    ),
    (
        "zero-duration",
        "path: test-two/bowles-talk.mp4, duration: 20m",
        "path: test-two/bowles-talk.mp4, duration: 0s",
        "clips[0].duration",
        "must be longer than zero",
        "duration: 0s",
        1,
    ),
    (
        "interpreter-lacks-a-booth-language",
        "{id: lee, name: Lee Min-ho, languages: [en, ko]}",
        "{id: lee, name: Lee Min-ho, languages: [en, ja]}",
        "booths[0].interpreters[1]",
        "interpreter 'lee' works in en/ja, not in both languages of booth 'ko-en' (ko/en)",
        "interpreters: [kim, lee]",
        1,
    ),
    (
        "prerecorded-speaker-without-clip",
        "appearance: prerecorded, clip: bowles-talk}",
        "appearance: prerecorded}",
        "speakers[1].clip",
        "speaker 'bowles' is pre-recorded but names no clip",
        "{id: bowles",
        1,
    ),
    (
        "remote-segment-for-a-recorded-speaker",
        "{kind: remote, speaker: diamond, duration: 40m}",
        "{kind: remote, speaker: bowles, duration: 40m}",
        "sessions[1].rundown[1].speaker",
        "speaker 'bowles' appears prerecorded, not live",
        "kind: remote",
        1,
    ),
    (
        "clip-segment-longer-than-its-clip",
        "{kind: clip, clip: bowles-talk, speaker: bowles}",
        "{kind: clip, clip: bowles-talk, speaker: bowles, offset: 15m, duration: 10m}",
        "sessions[0].rundown[2].duration",
        "segment plays 25m of clip 'bowles-talk', which lasts 20m",
        "offset: 15m",
        1,
    ),
    (
        "bad-language-code",
        "languages: [ko], appearance: studio}",
        "languages: [korean], appearance: studio}",
        "speakers[0].languages[0]",
        "String should match pattern",
        "[korean]",
        1,
    ),
    (
        "booth-with-one-language-twice",
        "languages: [ko, en], interpreters",
        "languages: [ko, ko], interpreters",
        "booths[0].languages",
        "a booth interprets between two different languages, not ko and ko",
        "[ko, ko]",
        1,
    ),
    (
        "bad-id",
        "  - id: dialogue",
        "  - id: Dialogue!",
        "sessions[1].id",
        "String should match pattern",
        "Dialogue!",
        1,
    ),
    (
        "tab-in-indentation",
        "    floor_language: ko\n    outputs: [rec-ko, rec-en]\n    booths: [ko-en]\n    rundown:\n      - {kind: slate",
        "    floor_language: ko\n    outputs: [rec-ko, rec-en]\n    booths: [ko-en]\n    rundown:\n\t- {kind: slate",
        "",
        "not valid YAML: found a tab character, which YAML does not allow for indenting",
        "\t- {kind: slate",
        1,
    ),
    (
        "unclosed-flow-sequence",
        "  days: [2020-06-03]\n  max_session",
        "  days: [2020-06-03\n  max_session",
        "",
        "not valid YAML",
        "  max_session: 90m",
        1,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "path", "fragment", "needle", "nth"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_one_problem(old: str, new: str, path: str, fragment: str, needle: str, nth: int) -> None:
    text = mutate(old, new)
    problems = problems_of(text)
    assert_reported(problems, path=path, fragment=fragment, line=line_of(text, needle, nth))


DUPLICATES = [
    # (id, old, new, list path, fragment, needle on the list's line, needle on the repeated item's line)
    (
        "interpreter",
        "{id: lee, name: Lee Min-ho",
        "{id: kim, name: Lee Min-ho",
        "interpreters",
        "id 'kim' is used 2 times",
        "interpreters:",
        "{id: kim, name: Lee Min-ho",
    ),
    (
        "session",
        "  - id: dialogue",
        "  - id: climate",
        "sessions",
        "id 'climate' is used 2 times",
        "sessions:",
        "  - id: climate\n",
    ),
    (
        "segment",
        "{kind: slate, text: Opening, duration: 2m}\n      - {kind: studio",
        "{id: open, kind: slate, text: Opening, duration: 2m}\n      - {id: open, kind: studio",
        "sessions[0].rundown",
        "segment id 'open' is used 2 times",
        "    rundown:",
        "{id: open, kind: studio",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "where", "fragment", "list_needle", "item_needle"),
    [pytest.param(*d[1:], id=d[0]) for d in DUPLICATES],
)
def test_duplicate_ids_are_reported(
    old: str, new: str, where: str, fragment: str, list_needle: str, item_needle: str
) -> None:
    """Reported today on the list (its line); the exact place, the repeated item, is a known gap
    (tests/data/bad/duplicate-ids.yaml): either is accepted here."""
    text = mutate(old, new)
    problems = [p for p in problems_of(text) if fragment in p.message]
    assert len(problems) == 1
    p = problems[0]
    assert p.path == where or p.path.startswith(where + "[")
    item_line = [i for i, ln in enumerate(text.splitlines(keepends=True), start=1) if item_needle.rstrip("\n") in ln][
        -1
    ]
    assert p.line in (line_of(text, list_needle), item_line)


def test_problems_inside_union_items_are_reported_on_their_line() -> None:
    """A studio segment's speakers list and a destination's field, in flow style: the line is right
    and the path names the item, not the union tag (see also tests/data/bad/union-tag-paths.yaml)."""
    text = mutate(
        "{kind: studio, speaker: mayor, duration: 10m}\n      - {kind: clip",
        "{kind: studio, speakers: [mayor, ghost], duration: 10m}\n      - {kind: clip",
    )
    text = mutate("{id: rec-en, kind: file, language: en}", "{id: rec-en, kind: file, language: en, pth: x}", text=text)
    problems = problems_of(text)
    by_message = {p.message: p for p in problems}
    assert by_message["unknown field 'pth'"].line == line_of(text, "pth: x")
    assert by_message["unknown field 'pth'"].path.startswith("destinations[1]")
    # (model errors stop the document checks, so fix the typo and look again)
    problems = problems_of(text.replace(", pth: x", ""))
    ghost = [p for p in problems if p.message == "unknown speaker 'ghost'"]
    assert len(ghost) == 1 and ghost[0].line == line_of(text, "ghost")
    assert ghost[0].path.startswith("sessions[0].rundown[1].speakers")


def test_many_model_problems_in_one_file_are_all_reported() -> None:
    edits = [
        ("    start: 2020-06-03T10:00:00+09:00", "    start: 2020-06-03T10:00:00"),
        ("  timezone: Asia/Seoul", "  timezone: Asia/Tokio"),
        ("{kind: break, duration: 5m}", "{kind: pause, duration: 5m}"),
        ("path: test-two/bowles-talk.mp4, duration: 20m", "path: test-two/bowles-talk.mp4, duration: 20 minutes"),
        ("{id: lee, name: Lee Min-ho,", "{id: lee, nmae: Lee Min-ho,"),
    ]
    text = BASE
    for old, new in edits:
        text = mutate(old, new, text=text)
    problems = problems_of(text)
    assert_reported(
        problems,
        path="sessions[0].start",
        fragment="has no time zone",
        line=line_of(text, "    start: 2020-06-03T10:00:00"),
    )
    assert_reported(problems, path="event.timezone", fragment="'Asia/Tokio'", line=line_of(text, "Asia/Tokio"))
    assert_reported(
        problems, path="sessions[0].rundown[3]", fragment="unknown 'kind' 'pause'", line=line_of(text, "kind: pause")
    )
    assert_reported(problems, path="clips[0].duration", fragment="'20 minutes'", line=line_of(text, "20 minutes"))
    assert_reported(problems, path="interpreters[1].nmae", fragment="unknown field 'nmae'", line=line_of(text, "nmae"))
    assert_reported(problems, path="interpreters[1].name", fragment="Field required", line=line_of(text, "nmae"))
    assert len(problems) == 6


def test_many_document_problems_in_one_file_are_all_reported() -> None:
    edits = [
        (
            "{kind: studio, speaker: mayor, duration: 10m}\n      - {kind: clip",
            "{kind: studio, speaker: major, duration: 10m}\n      - {kind: clip",
        ),
        ("interpreters: [kim, lee]", "interpreters: [kim, leee]"),
        ("    outputs: [rec-ko, rec-en]", "    outputs: [rec-ko, rec-fr]"),
        ("appearance: prerecorded, clip: bowles-talk}", "appearance: prerecorded}"),
        ("    end: 2020-06-03T12:30:00+09:00", "    end: 2020-06-03T13:15:00+09:00"),
        ("    start: 2020-06-03T11:30:00+09:00", "    start: 2020-06-03T10:45:00+09:00"),
        ("{kind: break, duration: 5m}", "{kind: break, duration: 30m}"),
    ]
    text = BASE
    for old, new in edits:
        text = mutate(old, new, text=text)
    problems = problems_of(text)
    expected = [
        ("sessions[0].rundown[1].speaker", "unknown speaker 'major'", line_of(text, "major")),
        ("booths[0].interpreters[1]", "unknown interpreter 'leee'", line_of(text, "leee")),
        ("sessions[0].outputs[1]", "unknown destination 'rec-fr'", line_of(text, "rec-fr")),
        ("speakers[1].clip", "names no clip", line_of(text, "{id: bowles")),
        ("sessions[1].end", "runs 2h30m", line_of(text, "T13:15:00")),
        ("sessions[1].start", "starts before 'climate' ends on destination 'rec-ko'", line_of(text, "T10:45:00")),
        ("sessions[0].rundown", "lasts 1h02m, longer than the session (1h00m)", line_of(text, "    rundown:", 1)),
        (
            "sessions[1].booths[0]",
            "booth 'ko-en' is needed in session 'dialogue' from 10:45",
            line_of(text, "booths: [ko-en]", 2),
        ),
    ]
    for path, fragment, line in expected:
        assert_reported(problems, path=path, fragment=fragment, line=line)
    assert len(problems) == len(expected), "\n".join(map(str, problems))


# ---------------------------------------------------------------------------------------------
# The files in tests/data/bad/

EXPECT = re.compile(r"^# expect: (?P<path>\S+) @(?P<marker>[\w-]+) \| (?P<fragment>.+)$")


def _bad_files() -> list:
    params = []
    for f in sorted(BAD.glob("*.yaml")):
        params.append(pytest.param(f, id=f.stem))
    return params


def _expectations(text: str) -> list[tuple[str, str, int]]:
    lines = text.splitlines()
    out = []
    for line in lines:
        m = EXPECT.match(line)
        if not m:
            continue
        marked = [i for i, ln in enumerate(lines, start=1) if re.search(rf"#\s*@{re.escape(m['marker'])}\s*$", ln)]
        assert len(marked) == 1, f"marker @{m['marker']} must mark exactly one line"
        path = "" if m["path"] == "-" else m["path"]
        out.append((path, m["fragment"].strip(), marked[0]))
    return out


def test_every_bad_file_says_what_it_expects() -> None:
    files = sorted(BAD.glob("*.yaml"))
    assert len(files) >= 7
    for f in files:
        assert _expectations(f.read_text(encoding="utf-8")), f"{f.name} has no '# expect:' line"


@pytest.mark.parametrize("path", _bad_files())
def test_bad_file(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = _expectations(text)
    file = str(path)
    with pytest.raises(ScheduleError) as info:
        load_schedule(path)
    problems = info.value.problems
    for doc_path, fragment, line in expected:
        assert_reported(problems, path=doc_path, fragment=fragment, line=line, file=file)
    assert len(problems) == len(expected), "unexpected extra problems:\n" + "\n".join(map(str, problems))


# ---------------------------------------------------------------------------------------------
# Files that are not schedules at all


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        load_schedule(tmp_path / "nope.yaml")
    assert info.value.problems[0].message == "no such file"


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.yaml"
    f.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(ScheduleError) as info:
        load_schedule(f)
    assert info.value.problems[0].message == "the file is empty"


def test_top_level_list(tmp_path: Path) -> None:
    f = tmp_path / "list.yaml"
    f.write_text("- event\n- sessions\n", encoding="utf-8")
    with pytest.raises(ScheduleError) as info:
        load_schedule(f)
    assert info.value.problems[0].line == 1
    assert "top level must be a mapping" in info.value.problems[0].message


def test_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes("event: {name: Séoul}\n".encode("latin-1"))
    with pytest.raises(ScheduleError) as info:
        load_schedule(f)
    assert "not UTF-8" in info.value.problems[0].message


# ---------------------------------------------------------------------------------------------
# Known gaps: the behaviour a producer needs, not yet what the checks do (see the issue report).


def test_a_session_nested_in_a_long_one_is_an_overlap() -> None:
    text = mutate("    end: 2020-06-03T11:00:00+09:00", "    end: 2020-06-03T11:59:00+09:00")  # climate 10:00–11:59
    text = mutate(
        "    start: 2020-06-03T11:30:00+09:00\n    end: 2020-06-03T12:30:00+09:00",
        "    start: 2020-06-03T10:30:00+09:00\n    end: 2020-06-03T11:30:00+09:00",
        text=text,
    )
    text += (
        "  - id: third\n    title: Third\n"
        "    start: 2020-06-03T11:35:00+09:00\n    end: 2020-06-03T11:50:00+09:00\n"
        "    floor_language: ko\n    outputs: [rec-ko, rec-en]\n    booths: [ko-en]\n"
        "    rundown:\n      - {kind: slate, duration: 5m}\n"
    )
    problems = problems_of(text)
    assert_reported(
        problems,
        path="sessions[2].start",
        fragment="session 'third' starts before 'climate' ends",
        line=line_of(text, "T11:35:00"),
    )


def test_a_clip_offset_past_its_end_is_an_error() -> None:
    text = mutate(
        "{kind: clip, clip: bowles-talk, speaker: bowles}",
        "{kind: clip, clip: bowles-talk, speaker: bowles, offset: 30m}",
    )
    problems = problems_of(text)
    p = [p for p in problems if p.path.startswith("sessions[0].rundown[2]")]
    assert p and p[0].line == line_of(text, "offset: 30m")


def test_a_key_given_twice_is_an_error() -> None:
    text = mutate("    floor_language: ko\n", "    floor_language: ko\n    floor_language: en\n")
    problems = problems_of(text)
    assert any("floor_language" in p.path and p.line == line_of(text, "floor_language: en") for p in problems)
