from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.logconfig import configure_logging
from orchestrator.schedule.loader import load_schedule
from orchestrator.schedule.model import Schedule

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

configure_logging("console", "warning")


@pytest.fixture
def two_sessions() -> Schedule:
    return load_schedule(DATA / "two-sessions.yaml")
