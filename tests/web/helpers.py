"""A hub on a hand-moved clock, fed the run's events by hand (the runner's part played by the
test), so the snapshot can be checked at a chosen moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.clock import ManualClock
from orchestrator.engine.events import (
    ActionFinished,
    ActionResult,
    AlertRaised,
    EventBus,
    LogObserver,
    OutputPrepared,
    RunEvent,
    SessionStateChanged,
)
from orchestrator.planning.plan import plan
from orchestrator.planning.state import SessionState
from orchestrator.redaction import Secrets, mask_ingest
from orchestrator.schedule.model import Schedule
from orchestrator.web.hub import DashboardHub

KEY = "sk-LIVE-abcdef123456"
MASKED = "****3456"
KST_0950 = datetime.fromisoformat("2020-06-03T09:50:00+09:00")


class Stage:
    """The hub subscribed to a bus; the test moves the clock and publishes what a runner would."""

    def __init__(self, schedule: Schedule, start: datetime = KST_0950) -> None:
        self.clock = ManualClock(start)
        self.secrets = Secrets()
        self.bus = EventBus(self.clock, self.secrets)
        self.plan = plan(schedule)
        self.hub = DashboardHub(
            schedule,
            self.clock,
            secrets=self.secrets,
            plan=self.plan,
            destinations={d.id: d for d in schedule.destinations},
            wall=self.clock.wall,
        )
        self.bus.subscribe(self.hub)
        self.logged: list[AlertRaised] = []  # what a log observer got
        self.bus.subscribe(self._log)
        self.bus.subscribe(LogObserver())  # alerts reach the log as in a run

    def _log(self, event: RunEvent) -> None:
        if isinstance(event, AlertRaised):
            self.logged.append(event)

    def at(self, iso: str) -> None:
        target = datetime.fromisoformat(iso)
        self.clock.advance(target.timestamp() - self.clock.wall())

    def move(self, session_id: str, state: SessionState) -> None:
        """What the runner publishes when a session-level action moves the session."""
        self.bus.publish(SessionStateChanged(session_id, state, self.clock.now()))

    def finish(self, action_id: str, outcome: str = "ok", error_ms: float | None = 12.5, **detail: Any) -> None:
        action = self.plan.action(action_id)
        self.bus.publish(ActionFinished(ActionResult(action, outcome, self.clock.now(), error_ms, dict(detail))))

    def prepare(self, session_id: str, destination_id: str, key: str = KEY) -> None:
        self.secrets.add(key)
        self.bus.publish(
            OutputPrepared(
                session_id,
                destination_id,
                mask_ingest("rtmp://a.rtmp.youtube.com/live2", key),
                mask_ingest("rtmp://b.rtmp.youtube.com/live2?backup=1", key),
                {"broadcast": f"bc-{session_id}", "stream": "st-1"},
                f"https://youtube.example/watch?v=bc-{session_id}",
                self.clock.now(),
            )
        )
        self.finish(f"{session_id}/{destination_id}/prepare", error_ms=3.0)

    def close(self) -> None:
        pass
