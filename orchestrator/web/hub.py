"""The dashboard's view of a running event.

`DashboardHub` is an observer of the run's events (`orchestrator.engine.events`): it folds them into
a `RunView` of its own, keeps the recent actions and alerts, and `snapshot()` turns all of it, with
the schedule and the clock, into one JSON-ready dict; its `broadcaster` pushes that to the connected
pages. Nothing here knows HTTP (`orchestrator.web.app` serves it) and nothing reads the runner.

Secrets: ingests arrive masked in the events, alert messages are masked by the bus, and the whole
snapshot is finally scrubbed of every secret value the system holds (`Secrets`) — so a key that a
platform echoed inside an error message does not reach the page either.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from orchestrator.clock import Clock
from orchestrator.engine.events import (
    ActionFinished,
    AlertRaised,
    CueTaken,
    OverrideApplied,
    PlanChanged,
    RunEvent,
    SessionStateChanged,
)
from orchestrator.engine.view import RunSnapshot, RunView
from orchestrator.planning.actions import Action, ActionKind
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionState
from orchestrator.redaction import Secrets
from orchestrator.schedule.model import Destination, Schedule, Session
from orchestrator.web import views
from orchestrator.web.broadcast import Broadcaster
from orchestrator.web.commands import CommandRouter

_URGENT = (OverrideApplied, SessionStateChanged, CueTaken, AlertRaised, PlanChanged)


def _end(run: RunSnapshot, session: Session) -> datetime:
    """The session's end as the plan has it now (extended or shortened), else the schedule's."""
    sheet = run.plan.cue_sheets.get(session.id)
    return sheet.end if sheet is not None else session.end


class DashboardHub:
    def __init__(
        self,
        schedule: Schedule,
        clock: Clock,
        *,
        secrets: Secrets | None = None,
        plan: Plan | None = None,
        destinations: Mapping[str, Destination] | None = None,
        wall: Callable[[], float] = time.time,
        max_alerts: int = 100,
        recent_actions: int = 25,
        tick_s: float = 1.0,
        max_rate_hz: float = 4.0,
    ) -> None:
        self.schedule = schedule
        self.clock = clock
        self.secrets = secrets if secrets is not None else Secrets()
        self.tz = schedule.event.tz
        self._wall = wall
        self._view = RunView(plan, destinations)  # until the run starts and says what it runs
        self._lock = threading.Lock()
        self._alerts: deque[tuple[int, AlertRaised]] = deque(maxlen=max_alerts)
        self._alert_seq = 0
        self._recent: deque[str] = deque(maxlen=recent_actions)  # action ids, newest last
        self.version = 0
        self.broadcaster = Broadcaster(self._message, clock=clock, tick_s=tick_s, max_rate_hz=max_rate_hz)
        self.commands = CommandRouter()
        self.commands.register("snapshot", self.snapshot)
        self.commands.register("ping", lambda: {"pong": views.iso(self.clock.now(), self.tz)})

    # ------------------------------------------------------------------ Observer

    def __call__(self, event: RunEvent) -> None:
        self._view(event)
        if isinstance(event, AlertRaised):
            with self._lock:
                self._alert_seq += 1
                self._alerts.append((self._alert_seq, event))
        elif isinstance(event, ActionFinished | CueTaken):
            the_id = event.result.action.id if isinstance(event, ActionFinished) else event.cue_id
            with self._lock:
                if the_id in self._recent:
                    self._recent.remove(the_id)
                self._recent.append(the_id)
        # What an operator did, and what the audience sees change, reach every page at once.
        self._changed(isinstance(event, _URGENT))

    def run_snapshot(self) -> RunSnapshot:
        """The run as this hub folded it (for the metrics and the control API)."""
        return self._view.snapshot()

    def _changed(self, urgent: bool = False) -> None:
        self.version += 1
        self.broadcaster.notify(urgent)

    @property
    def alerts(self) -> list[tuple[int, AlertRaised]]:
        with self._lock:
            return list(self._alerts)

    # ------------------------------------------------------------------ the snapshot

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, as plain JSON-ready data, with every secret masked."""
        now, wall, tz = self.clock.now(), self._wall(), self.tz
        run = self._view.snapshot()
        actions: tuple[Action, ...] = run.plan.actions
        results = run.results
        with self._lock:
            recent = list(self._recent)
        acknowledged = {
            int(o.args["alert"]): o.who for o in run.overrides if o.command == "acknowledge" and "alert" in o.args
        }
        sessions = self._sessions(run)
        states = {s.id: run.state(s.id).value for s in sessions}
        on_air_id = next((s.id for s in sessions if states[s.id] in views.ON_AIR_STATES), None)
        focus_id = on_air_id or self._focus(sessions, states)

        def countdown(a: Action) -> float:
            return self.clock.to_wall(a.at) - wall

        nxt = views.next_pending(actions, results, lambda a: True)
        changeover = views.next_pending(actions, results, views.is_changeover)
        data: dict[str, Any] = {
            "version": self.version,
            "event": {
                "id": self.schedule.event.id,
                "name": self.schedule.event.name.model_dump(),
                "timezone": self.schedule.event.timezone,
            },
            "now": views.iso(now, tz),
            "zone": now.astimezone(tz).strftime("%Z"),  # "KST": browsers often only know "GMT+9"
            "now_ms": round(now.timestamp() * 1000),
            "clock_rate": self.clock.rate_at(now),  # event seconds per wall second, for the page's clock
            "sessions": [self._session_row(run, s, states[s.id]) for s in sessions],
            "on_air": self._on_air(run, on_air_id, states, wall) if on_air_id else None,
            "focus_session": focus_id,
            "next_action": views.pending_row(nxt, tz, countdown(nxt)) if nxt else None,
            "next_changeover": self._changeover(changeover, countdown(changeover)) if changeover else None,
            "destinations": self._destinations(run, focus_id) if focus_id else [],
            "recent_actions": [views.action_row(results[i], tz) for i in reversed(recent) if i in results],
            "alerts": [
                {
                    "seq": seq,
                    "level": a.level,
                    "message": a.message,
                    "session": a.session,
                    "destination": a.destination,
                    "at": views.iso(a.at, tz),
                    "acknowledged_by": acknowledged.get(seq),
                }
                for seq, a in reversed(self.alerts)
            ],
            "held": sorted(run.held),
            "programme": self._programme(run, focus_id, wall) if focus_id else None,
            "sources": views.sources(run, focus_id, tz) if focus_id else [],
            "participants": [views.participant_row(p, tz) for p in run.participants.values()],
            "booths": [views.booth_row(b, tz) for b in run.booths.values()],
            "routes": [views.route_row(r, tz) for r in run.routes.values()],
            "fallbacks": [views.fallback_row(f, tz) for f in run.fallbacks[-10:]][::-1],
            "overrides": [views.override_row(o, tz) for o in run.overrides[-20:]][::-1],
            "progress": {
                "done": sum(a.id in results for a in actions),
                "total": len(actions),
                "failed": sum(r.outcome == "failed" for r in results.values()),
            },
        }
        return cast(dict[str, Any], self.secrets.scrub(data))

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    def scrub(self, value: Any) -> Any:
        """Mask every secret the system holds wherever it appears in `value` (for command replies)."""
        return self.secrets.scrub(value)

    def _message(self) -> str:
        return json.dumps(
            {"type": "snapshot", "data": self.snapshot()}, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )

    # ------------------------------------------------------------------ pieces

    def _sessions(self, run: RunSnapshot) -> list[Session]:
        """The planned sessions (a rehearsal may run only some), in air order."""
        planned = set(run.plan.cue_sheets) if run.plan.actions else None
        chosen = [s for s in self.schedule.sessions if planned is None or s.id in planned]
        return sorted(chosen, key=lambda s: s.start)

    @staticmethod
    def _on_off_air(run: RunSnapshot, session_id: str) -> tuple[datetime | None, datetime | None]:
        view = run.sessions.get(session_id)
        return (view.on_air, view.off_air) if view is not None else (None, None)

    @staticmethod
    def _focus(sessions: list[Session], states: dict[str, str]) -> str | None:
        """With nothing on air: the session getting ready, else the next one to come, else the
        last one (how its outputs ended is what the operator checks after the event)."""
        for wanted in (views.READYING_STATES, (SessionState.SCHEDULED.value,)):
            found = next((s.id for s in sessions if states[s.id] in wanted), None)
            if found:
                return found
        return sessions[-1].id if sessions else None

    def _on_air(self, run: RunSnapshot, session_id: str, states: dict[str, str], wall: float) -> dict[str, Any]:
        session = self.schedule.session(session_id)
        on_air, _ = self._on_off_air(run, session_id)
        end = _end(run, session)
        return {
            "id": session_id,
            "title": views.titles(session),
            "state": states[session_id],
            "since": views.iso(on_air, self.tz),
            "end": views.iso(end, self.tz),
            "ends_in_s": round(self.clock.to_wall(end) - wall, 2),
            "held": session_id in run.held,
        }

    def _session_row(self, run: RunSnapshot, session: Session, state: str) -> dict[str, Any]:
        row = views.session_row(session, state, *self._on_off_air(run, session.id), self.tz)
        row["end"] = views.iso(_end(run, session), self.tz)  # an operator may have moved it
        row["day"] = session.start.astimezone(self.tz).date().isoformat()
        row["held"] = session.id in run.held
        row["segments"] = views.segments(run, session.id, self.tz)
        return row

    def _programme(self, run: RunSnapshot, session_id: str, wall: float) -> dict[str, Any]:
        """What the session's programme shows now and what it takes next (the preview)."""
        sheet = run.plan.cue_sheets.get(session_id)
        showing = views.showing(run, session_id, self.tz)
        upcoming = [
            a
            for a in run.plan.for_session(session_id)
            if a.kind == ActionKind.CUE
            and (
                a.id not in run.results
                or (run.results[a.id].detail.get("applied") is None and run.results[a.id].outcome == "ok")
            )
        ]
        nxt = min(upcoming, key=Action.sort_key) if upcoming else None
        return {
            "session": session_id,
            "languages": list(sheet.languages) if sheet else [],
            "showing": showing,
            "next": views.cue_row(nxt, self.tz, self.clock.to_wall(nxt.at) - wall) if nxt else None,
            "held": session_id in run.held,
        }

    def _changeover(self, action: Action, countdown_s: float) -> dict[str, Any]:
        row = views.pending_row(action, self.tz, countdown_s)
        row["change"] = "on_air" if action.kind == ActionKind.ON_AIR else "off_air"
        row["title"] = views.titles(self.schedule.session(action.session))
        return row

    def _destinations(self, run: RunSnapshot, session_id: str) -> list[dict[str, Any]]:
        session = self.schedule.session(session_id)
        rows = []
        for did in session.outputs:
            dest = run.destinations.get(did) or self.schedule.destination(did)
            done = [
                run.results[a.id]
                for a in run.plan.for_session(session_id)
                if a.destination == did and a.id in run.results
            ]
            rows.append(views.destination_row(dest, run.outputs.get((session_id, did)), done[-1] if done else None))
        return rows
