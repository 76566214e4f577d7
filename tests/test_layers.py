"""The layers (docs/architecture.md), as import-linter contracts in pyproject.toml: the core does no
I/O and imports nothing above it, the engine no adapter, adapters not each other nor the
composition, and the real system never a stand-in. `scripts/gates` runs the same check; here it
also runs with the tests, and a deliberate breach shows that the contracts bite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def test_every_contract_is_kept() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_core_module_doing_io_and_the_engine_using_an_adapter_break_their_contracts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "orchestrator", tmp_path / "orchestrator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    clock = tmp_path / "orchestrator" / "clock.py"
    clock.write_text(clock.read_text() + "\nimport sqlite3  # noqa: E402\n")
    journal = tmp_path / "orchestrator" / "engine" / "journal.py"
    journal.write_text(journal.read_text() + "\nfrom orchestrator.media import probe  # noqa: E402\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "orchestrator.clock is not allowed to import sqlite3" in result.stdout
    assert "orchestrator.engine.journal -> orchestrator.media" in result.stdout
