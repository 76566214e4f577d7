"""The YouTube emulator charges from its own copy of Google's quota table; the adapter counts from
its ledger. Two tables on purpose, so this test can see a wrong cost on either side."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import orchestrator.platforms.youtube_quota as ledger
import orchestrator.standins.emulators.youtube_quota as google
from orchestrator.standins.emulators.discovery import Discovery
from orchestrator.standins.emulators.youtube import YouTubeEmulator, YouTubeEmulatorConfig

ROOT = Path(__file__).resolve().parents[2]


def _served_methods() -> set[str]:
    class NoMonitor:
        async def stream(self, app_url: str, name: str) -> None:
            return None

    emulator = YouTubeEmulator(YouTubeEmulatorConfig("id", "secret", "refresh", "rtmp://x/live"), monitor=NoMonitor())
    return set(emulator._handlers)


def test_the_adapters_ledger_matches_what_the_emulator_charges() -> None:
    for method, units in ledger.COSTS.items():
        assert method in google.COSTS, f"the adapter counts {method}, which Google's table (as copied) lacks"
        assert google.COSTS[method] == units, f"{method}: adapter counts {units}, Google charges {google.COSTS[method]}"
    for method in _served_methods():  # every method the emulator serves is one the adapter may call
        assert ledger.cost(method) == google.cost(method), method
        assert ledger.cost("youtube." + method) == google.cost("youtube." + method), method
    assert ledger.DEFAULT_DAILY_QUOTA == google.DEFAULT_DAILY_QUOTA == 10_000


def test_both_reset_the_quota_at_midnight_pacific() -> None:
    for at in (
        datetime(2024, 1, 15, 7, 59, tzinfo=UTC),  # 23:59 PST
        datetime(2024, 1, 15, 8, 0, tzinfo=UTC),  # 00:00 PST
        datetime(2024, 7, 15, 6, 59, tzinfo=UTC),  # 23:59 PDT
        datetime(2024, 7, 15, 7, 0, tzinfo=UTC),  # 00:00 PDT
    ):
        assert ledger.quota_day(at) == google.quota_day(at), at
    assert google.quota_day(datetime(2024, 1, 15, 7, 59, tzinfo=UTC)) == "2024-01-14"
    assert google.quota_day(datetime(2024, 1, 15, 8, 0, tzinfo=UTC)) == "2024-01-15"


def test_googles_table_names_real_methods_and_charges_the_minimum_otherwise() -> None:
    known = {mid.removeprefix("youtube.") for mid in Discovery.load()._by_id}
    assert set(google.COSTS) <= known, set(google.COSTS) - known
    assert google.cost("liveChatMessages.list") >= google.MINIMUM_COST == 1
    assert all(units in (1, 50) for units in google.COSTS.values())
    assert {m for m, units in google.COSTS.items() if units == 1} == {m for m in google.COSTS if m.endswith(".list")}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_emulator_does_not_take_its_costs_from_the_adapter() -> None:
    emulators = ROOT / "orchestrator" / "standins" / "emulators"
    for path in emulators.glob("*.py"):
        assert "orchestrator.platforms.youtube_quota" not in _imports(path), path.name


def test_only_tests_the_cli_and_the_rehearsal_import_the_stand_ins() -> None:
    allowed = {"cli.py", "rehearsal.py"}
    for path in (ROOT / "orchestrator").rglob("*.py"):
        rel = path.relative_to(ROOT / "orchestrator")
        if rel.parts[0] == "standins" or rel.as_posix() in allowed:
            continue
        wrong = {m for m in _imports(path) if m == "orchestrator.standins" or m.startswith("orchestrator.standins.")}
        assert not wrong, f"{rel} imports {sorted(wrong)}"
