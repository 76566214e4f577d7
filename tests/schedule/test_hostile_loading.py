"""Hostile input to the schedule loader: every file ends in a clear ScheduleError naming the file (and
the line where there is one), refused before anything expands, never a traceback or a MemoryError.

Files under tests/data/hostile/ (see its README), plus inputs made here: deep nesting, binary and
non-UTF-8 files, a directory, a device, oversized files, multiple documents."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from orchestrator.schedule.loader import (
    Limits,
    ScheduleError,
    load_schedule,
    parse_schedule_text,
    parse_yaml,
    read_text_file,
)

DATA = Path(__file__).resolve().parents[1] / "data"
HOSTILE = DATA / "hostile"
BASE = (DATA / "two-sessions.yaml").read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parents[2]


def refused(path: Path | str) -> ScheduleError:
    with pytest.raises(ScheduleError) as info:
        load_schedule(path)
    err = info.value
    assert err.file == str(path)
    assert str(err).startswith(f"{path}: ")
    assert "Traceback" not in str(err)
    return err


def only_problem(err: ScheduleError) -> str:
    assert len(err.problems) == 1, str(err)
    return str(err.problems[0])


# ---------------------------------------------------------------------------------------------
# Expansion, cycles, tags, keys


def test_the_alias_bomb_is_refused_before_it_expands() -> None:
    path = HOSTILE / "alias-bomb.yaml"
    assert path.stat().st_size == 342
    tracemalloc.start()
    try:
        err = refused(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = only_problem(err)
    assert "expands to more than 5,000,000 values" in message and "alias" in message
    assert err.problems[0].line is not None
    assert peak < 20 * 1024 * 1024  # 9^9 values would take gigabytes; the refusal takes a few kB


def test_a_smaller_bomb_is_caught_by_a_lower_limit() -> None:
    text = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"  # 64 leaves
    assert parse_yaml(text, "ok.yaml", Limits(max_nodes=200)) is not None
    with pytest.raises(ScheduleError, match="expands to more than 50 values"):
        parse_yaml(text, "small.yaml", Limits(max_nodes=50))


def test_shared_anchors_a_producer_uses_are_fine() -> None:
    text = BASE.replace(
        "    rundown:\n      - {kind: studio, speaker: mayor, duration: 10m}\n      - {kind: remote",
        "    rundown: &std\n      - {kind: studio, speaker: mayor, duration: 10m}\n      - {kind: remote",
    )
    schedule = parse_schedule_text(text, "anchors.yaml")
    assert schedule.sessions[1].rundown[0].kind == "studio"


def test_a_recursive_alias_is_refused() -> None:
    message = only_problem(refused(HOSTILE / "recursive-alias.yaml"))
    assert "recursive-alias.yaml:" in message
    assert "cycle" in message or "alias" in message


def test_python_tags_are_refused_on_their_line() -> None:
    err = refused(HOSTILE / "python-tag.yaml")
    message = only_problem(err)
    assert err.problems[0].line == 4
    assert "!!python/object/apply:os.system is not allowed" in message and "event.name" in message


@pytest.mark.parametrize(
    "tag", ["!!python/name:os.system", "!!binary aGVsbG8=", "!!set {a, b}", "!local value", "!!omap [a: 1]"]
)
def test_every_tag_beyond_plain_data_is_refused(tag: str) -> None:
    text = BASE.replace("  id: test-two\n", f"  id: test-two\n  venue: {tag}\n")
    with pytest.raises(ScheduleError) as info:
        parse_schedule_text(text, "tag.yaml")
    (problem,) = info.value.problems
    assert problem.line == 4 and "is not allowed" in problem.message and problem.path == "event.venue"


def test_a_complex_key_is_refused_on_its_line() -> None:
    err = refused(HOSTILE / "complex-key.yaml")
    assert err.problems[0].line == 4
    assert "a key must be plain text, not a list" in only_problem(err)


def test_a_mapping_as_a_flow_key_is_refused() -> None:
    with pytest.raises(ScheduleError, match="not a mapping"):
        parse_schedule_text("event: {{a: 1}: b}\n", "k.yaml")


# ---------------------------------------------------------------------------------------------
# Nesting


@pytest.mark.parametrize("depth", [501, 999, 5000, 100_000])
def test_deep_flow_nesting_is_refused(depth: int) -> None:
    text = "event: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ScheduleError) as info:
        parse_schedule_text(text, "deep.yaml")
    (problem,) = info.value.problems
    assert problem.line == 1 and ("deeper than 500 levels" in problem.message or "nested too deeply" in problem.message)


def test_deep_block_nesting_is_refused() -> None:
    text = "".join(f"{' ' * i}k{i}:\n" for i in range(700)) + " " * 700 + "x: 1\n"
    with pytest.raises(ScheduleError, match=r"nested deeper than 500 levels|nested too deeply"):
        parse_schedule_text(text, "deep.yaml")


def test_nesting_just_inside_the_limit_parses() -> None:
    doc = parse_yaml("a: " + "[" * 499 + "]" * 499 + "\n", "ok.yaml")
    assert doc is not None and isinstance(doc.data["a"], list)


# ---------------------------------------------------------------------------------------------
# Not a schedule file at all


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    assert "is a directory, not a schedule file" in only_problem(refused(tmp_path))


def test_a_device_is_refused_without_reading_it() -> None:
    assert "not a regular file" in only_problem(refused("/dev/zero"))


def test_a_missing_file(tmp_path: Path) -> None:
    assert "no such file" in only_problem(refused(tmp_path / "nope.yaml"))


def test_an_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "locked.yaml"
    path.write_text(BASE)
    path.chmod(0)
    assert "cannot be read (Permission denied)" in only_problem(refused(path))


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)),
        b"\x89PNG\r\n\x1a\n" + os.urandom(200),
        "event:\n  id: x\n  name: caf\u00e9\n".encode("latin-1"),
        b"\x00\x00\x00\x00",
    ],
    ids=["all-bytes", "png", "latin-1", "nuls"],
)
def test_binary_and_undecodable_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(content)
    message = only_problem(refused(path))
    assert "not UTF-8 text" in message or "not valid YAML" in message


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(65 * 1024 * 1024)  # sparse: no 65 MB written, and nothing read
    assert "larger than the limit of 67,108,864" in only_problem(refused(path))
    with pytest.raises(ScheduleError, match="larger than the limit of 100"):
        read_text_file(DATA / "two-sessions.yaml", Limits(max_bytes=100))


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_schedule(path).event.id == "test-two"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("a: 1\n---\nb: 2\n", "holds more than one YAML document"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("event: 2026-02-30T10:00:00+01:00\n", "cannot be read: day is out of range for month"),
        ("event: {id: x\n", "not valid YAML"),
    ],
)
def test_other_broken_documents(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule_text(text, "doc.yaml")
    (problem,) = info.value.problems
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("duration: 2m}", "duration: 1e300}"),
        ("duration: 2m}", "duration: .inf}"),
        ("duration: 2m}", "duration: .nan}"),
        ("duration: 2m}", "duration: 99999999999999999999h}"),
        ("duration: 2m}", "duration: -5}"),
        ("start: 2020-06-03T10:00:00+09:00", "start: 9999-12-31T23:59:59+09:00"),
        ("{kind: slate, text: Opening, duration: 2m}", "{kind: slate, duration: 2m, fade_ms: 1e400}"),
        ("{kind: slate, text: Opening, duration: 2m}", "{kind: slate, duration: 2m, fade_ms: 99999999999999999999999}"),
    ],
)
def test_absurd_numbers_are_errors_not_overflows(old: str, new: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    with pytest.raises(ScheduleError) as info:
        parse_schedule_text(text, "num.yaml")
    assert all(p.line for p in info.value.problems), str(info.value)


def test_the_cli_prints_no_traceback_for_any_hostile_file(tmp_path: Path) -> None:
    """The whole class through `summit validate`: exit 2 and a message, whatever the input."""
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)))
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 3000 + "]" * 3000)
    inputs = [*sorted(HOSTILE.glob("*.yaml")), binary, deep, tmp_path, Path("/dev/zero")]
    for path in inputs:
        run = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "validate", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)),
        )
        assert run.returncode == 2, (path, run.stderr)
        assert "Traceback" not in run.stderr and str(path) in run.stderr, run.stderr
