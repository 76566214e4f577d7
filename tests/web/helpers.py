"""A runner and a hub on a hand-moved clock, and a way to play the runner's part (results, state
moves, prepared ingests) without running it, so the snapshot can be checked at a chosen moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import SecretStr

from orchestrator.clock import ManualClock
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.ports import IngestTarget, PreparedDestination
from orchestrator.engine.runner import ActionResult, LogNotifier, Runner
from orchestrator.planning.plan import plan
from orchestrator.planning.state import SessionState
from orchestrator.schedule.model import Schedule
from orchestrator.web.hub import DashboardHub
from tests.engine.doubles import RecordingPlatform, RecordingProgramme

KEY = "sk-LIVE-abcdef123456"
MASKED = "****3456"
KST_0950 = datetime.fromisoformat("2020-06-03T09:50:00+09:00")


class Stage:
    """The hub attached to a real (not running) Runner; the test moves the clock and plays results."""

    def __init__(self, schedule: Schedule, start: datetime = KST_0950) -> None:
        self.clock = ManualClock(start)
        self.forward = LogNotifier()
        self.hub = DashboardHub(schedule, self.clock, forward=self.forward, wall=self.clock.wall)
        self.journal = SqliteJournal()  # in memory
        self.runner = Runner(
            schedule,
            plan(schedule),
            clock=self.clock,
            programme=RecordingProgramme(self.clock),
            platforms={d.id: RecordingPlatform() for d in schedule.destinations},
            journal=self.journal,
            notifier=self.hub,
        )
        self.hub.attach(self.runner)

    def at(self, iso: str) -> None:
        target = datetime.fromisoformat(iso)
        self.clock.advance(target.timestamp() - self.clock.wall())

    def move(self, session_id: str, state: SessionState) -> None:
        """What the runner does on a session-level action: its machine moves, the notifier hears."""
        now = self.clock.now()
        self.runner.machines[session_id].move(state, now)
        self.hub.state(session_id, state.value, now)

    def finish(self, action_id: str, outcome: str = "ok", error_ms: float | None = 12.5, **detail: Any) -> None:
        action = self.runner.plan.action(action_id)
        result = ActionResult(action, outcome, self.clock.now(), error_ms, dict(detail))
        self.runner.results[action_id] = result
        for listener in self.runner.listeners:
            listener(result)

    def prepare(self, session_id: str, destination_id: str, key: str = KEY) -> None:
        self.runner.prepared[(session_id, destination_id)] = PreparedDestination(
            destination_id,
            session_id,
            IngestTarget("rtmp://a.rtmp.youtube.com/live2", SecretStr(key)),
            backup=IngestTarget("rtmp://b.rtmp.youtube.com/live2?backup=1", SecretStr(key)),
            platform_ids={"broadcast": f"bc-{session_id}", "stream": "st-1"},
            watch_url=f"https://youtube.example/watch?v=bc-{session_id}",
        )
        self.finish(f"{session_id}/{destination_id}/prepare", error_ms=3.0)

    def close(self) -> None:
        self.journal.close()
