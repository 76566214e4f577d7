"""The layers of DESIGN.md: the pure core imports no I/O and no adapter; the engine no adapter."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "orchestrator"
ADAPTERS = ("orchestrator.media", "orchestrator.platforms", "orchestrator.web", "orchestrator.participants")
IO_LIBS = ("aiohttp", "aiortc", "av", "asyncio", "sqlite3", "apscheduler", "socket", "subprocess")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


CORE = [*sorted((PKG / "schedule").glob("*.py")), *sorted((PKG / "planning").glob("*.py")), PKG / "clock.py"]
ENGINE = sorted((PKG / "engine").glob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PKG)))
def test_core_is_pure(path: Path) -> None:
    bad = {
        m
        for m in imports_of(path)
        if m.startswith(ADAPTERS) or m.split(".")[0] in IO_LIBS or m.startswith("orchestrator.engine")
    }
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: str(p.relative_to(PKG)))
def test_engine_uses_no_adapter(path: Path) -> None:
    bad = {m for m in imports_of(path) if m.startswith(ADAPTERS)}
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"
