"""`summit run`'s start-up path: the publishers' fork server starts before the application is
imported, and a built-in command does not import the other command modules."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import cli
from orchestrator.media import fork_server


def test_the_early_fork_server_preloads_what_the_publishers_fork_server_does() -> None:
    assert cli.PUBLISHER_PRELOAD == fork_server.PRELOAD


def test_importing_the_cli_imports_nothing_beyond_the_standard_library() -> None:
    code = (
        "import sys, orchestrator.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'structlog', 'pydantic', 'av', 'numpy', 'aiohttp', 'yaml'} or m.startswith('orchestrator.') "
        "and m != 'orchestrator.cli'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["run", "x.yaml"], "run"),
        (["--log-format", "json", "run", "x.yaml", "--only", "a"], "run"),
        (["--log-level=debug", "--log-format", "console", "as-run", "state"], "as-run"),
        (["--log-format", "run", "plan", "x.yaml"], "plan"),  # "run" is the option's value there
        (["-h", "run"], None),
        ([], None),
    ],
)
def test_the_command_is_found_before_the_parser_exists(argv: list[str], command: str | None) -> None:
    assert cli._command_of(argv) == command


def test_a_built_in_command_parses_without_the_other_modules_and_the_others_still_work() -> None:
    run = cli.build_parser("run").parse_args(["run", "x.yaml", "--state-dir", "s"])
    assert (run.command, run.file, run.state_dir) == ("run", "x.yaml", "s")
    with pytest.raises(SystemExit):
        cli.build_parser("run").parse_args(["as-run", "state"])  # not registered for a `run`
    assert cli.build_parser("as-run").parse_args(["as-run", "state"]).command == "as-run"


def test_a_run_that_cannot_start_leaves_the_garbage_collector_on(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", str(tmp_path / "missing.yaml"), "--state-dir", str(tmp_path)])
    assert exc.value.code == cli.EXIT_INVALID
    assert gc.isenabled()
