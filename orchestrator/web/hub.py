"""The dashboard's view of a running event.

`DashboardHub` is the runner's `Notifier` (alerts, session state changes) and listens to every
`ActionResult`; `snapshot()` turns all of it, with the schedule, the plan and the clock, into one
JSON-ready dict; its `broadcaster` pushes that to the connected pages. Nothing here knows HTTP:
`orchestrator.web.app` serves it.

Secrets: ingests are shown masked (`masked_ingest`), alert messages are masked on arrival, and the
whole snapshot is finally scrubbed of the actual key values the runner holds — so a key that a
platform echoed inside an error message does not reach the page either.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from orchestrator.clock import Clock
from orchestrator.engine.ports import Notifier
from orchestrator.engine.runner import ActionResult, LogNotifier, Runner
from orchestrator.planning.actions import Action, ActionKind
from orchestrator.planning.state import SessionState
from orchestrator.redaction import mask_text
from orchestrator.schedule.model import Schedule, Session
from orchestrator.web import views
from orchestrator.web.broadcast import Broadcaster
from orchestrator.web.commands import CommandRouter
from orchestrator.web.masking import scrub, secret_values


@dataclass(frozen=True)
class Alert:
    seq: int
    level: str  # error | warning | info
    message: str  # already masked
    session: str | None
    destination: str | None
    at: datetime  # event time it was raised


class DashboardHub:
    def __init__(
        self,
        schedule: Schedule,
        clock: Clock,
        *,
        forward: Notifier | None = None,
        wall: Callable[[], float] = time.time,
        max_alerts: int = 100,
        recent_actions: int = 25,
        tick_s: float = 1.0,
        max_rate_hz: float = 4.0,
    ) -> None:
        """`forward` also receives every alert and state change: by default a `LogNotifier`, so
        that alerts still reach the log (pass the rehearsal's own to keep its report's list)."""
        self.schedule = schedule
        self.clock = clock
        self.forward: Notifier = forward if forward is not None else LogNotifier()
        self.tz = schedule.event.tz
        self._wall = wall
        self._runner: Runner | None = None
        self._lock = threading.Lock()  # alerts may come from a platform adapter's worker thread
        self._alerts: deque[Alert] = deque(maxlen=max_alerts)
        self._alert_seq = 0
        self._reported: dict[str, list[tuple[str, datetime]]] = {}  # session → states told to us
        self._recent: deque[ActionResult] = deque(maxlen=recent_actions)
        self.version = 0
        self.broadcaster = Broadcaster(self._message, tick_s=tick_s, max_rate_hz=max_rate_hz)
        self.commands = CommandRouter()
        self.commands.register("snapshot", self.snapshot)
        self.commands.register("ping", lambda: {"pong": views.iso(self.clock.now(), self.tz)})

    # ------------------------------------------------------------------ Notifier

    def alert(self, level: str, message: str, *, session: str | None = None, destination: str | None = None) -> None:
        # Masked before it is stored or forwarded: the forward logs it, and a platform may quote
        # a key the runner already holds anywhere in its message, not only inside a URL.
        entry_message = scrub(mask_text(message), self._secrets())
        with self._lock:
            self._alert_seq += 1
            self._alerts.append(
                Alert(self._alert_seq, level.lower(), entry_message, session, destination, self.clock.now())
            )
        self.forward.alert(level, entry_message, session=session, destination=destination)
        self._changed()

    def state(self, session_id: str, state: str, at: datetime) -> None:
        with self._lock:
            self._reported.setdefault(session_id, []).append((state, at))
        self.forward.state(session_id, state, at)
        self._changed()

    # ------------------------------------------------------------------ the runner

    def attach(self, runner: Runner) -> None:
        """Follow a runner: its plan, session machines, results and prepared ingests."""
        if self._runner is runner:
            return
        if self._runner is not None:
            raise RuntimeError("this dashboard already follows a runner; make a new hub for another")
        self._runner = runner
        runner.listeners.append(self._on_result)
        self._changed()

    def _on_result(self, result: ActionResult) -> None:
        self._recent.append(result)
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.broadcaster.notify()

    @property
    def alerts(self) -> list[Alert]:
        with self._lock:
            return list(self._alerts)

    # ------------------------------------------------------------------ the snapshot

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, as plain JSON-ready data, with every secret masked."""
        now, wall, tz = self.clock.now(), self._wall(), self.tz
        runner = self._runner
        actions: tuple[Action, ...] = runner.plan.actions if runner else ()
        results: dict[str, ActionResult] = runner.results if runner else {}
        sessions = self._sessions()
        states = {s.id: self._state_of(s.id) for s in sessions}
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
            "sessions": [views.session_row(s, states[s.id], *self._on_off_air(s.id), tz) for s in sessions],
            "on_air": self._on_air(on_air_id, states, wall) if on_air_id else None,
            "focus_session": focus_id,
            "next_action": views.pending_row(nxt, tz, countdown(nxt)) if nxt else None,
            "next_changeover": self._changeover(changeover, countdown(changeover)) if changeover else None,
            "destinations": self._destinations(focus_id) if focus_id else [],
            "recent_actions": [views.action_row(results.get(r.action.id, r), tz) for r in reversed(self._recent)],
            "alerts": [
                {
                    "seq": a.seq,
                    "level": a.level,
                    "message": a.message,
                    "session": a.session,
                    "destination": a.destination,
                    "at": views.iso(a.at, tz),
                }
                for a in reversed(self.alerts)
            ],
            "progress": {
                "done": sum(a.id in results for a in actions),
                "total": len(actions),
                "failed": sum(r.outcome == "failed" for r in results.values()),
            },
        }
        return cast(dict[str, Any], scrub(data, self._secrets()))

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), ensure_ascii=False, separators=(",", ":"))

    def scrub(self, value: Any) -> Any:
        """Mask every key the runner holds wherever it appears in `value` (for command replies)."""
        return scrub(value, self._secrets())

    def _message(self) -> str:
        return json.dumps({"type": "snapshot", "data": self.snapshot()}, ensure_ascii=False, separators=(",", ":"))

    # ------------------------------------------------------------------ pieces

    def _sessions(self) -> list[Session]:
        """The planned sessions (a rehearsal may run only some), in air order."""
        planned = set(self._runner.plan.cue_sheets) if self._runner else None
        chosen = [s for s in self.schedule.sessions if planned is None or s.id in planned]
        return sorted(chosen, key=lambda s: s.start)

    def _state_of(self, session_id: str) -> str:
        # The runner's machine is the truth (it also knows what a restart replayed from the journal).
        if self._runner is not None and session_id in self._runner.machines:
            return self._runner.machines[session_id].state.value
        with self._lock:
            reported = self._reported.get(session_id)
            return reported[-1][0] if reported else SessionState.SCHEDULED.value

    def _on_off_air(self, session_id: str) -> tuple[datetime | None, datetime | None]:
        if self._runner is not None and session_id in self._runner.machines:
            m = self._runner.machines[session_id]
            return m.entered(SessionState.LIVE), m.entered(SessionState.ENDED)
        with self._lock:
            history = dict(self._reported.get(session_id, []))
        return history.get(SessionState.LIVE.value), history.get(SessionState.ENDED.value)

    @staticmethod
    def _focus(sessions: list[Session], states: dict[str, str]) -> str | None:
        """With nothing on air: the session getting ready, else the next one to come, else the
        last one (how its outputs ended is what the operator checks after the event)."""
        for wanted in (views.READYING_STATES, (SessionState.SCHEDULED.value,)):
            found = next((s.id for s in sessions if states[s.id] in wanted), None)
            if found:
                return found
        return sessions[-1].id if sessions else None

    def _on_air(self, session_id: str, states: dict[str, str], wall: float) -> dict[str, Any]:
        session = self.schedule.session(session_id)
        on_air, _ = self._on_off_air(session_id)
        return {
            "id": session_id,
            "title": views.titles(session),
            "state": states[session_id],
            "since": views.iso(on_air, self.tz),
            "end": views.iso(session.end, self.tz),
            "ends_in_s": round(self.clock.to_wall(session.end) - wall, 2),
        }

    def _changeover(self, action: Action, countdown_s: float) -> dict[str, Any]:
        row = views.pending_row(action, self.tz, countdown_s)
        row["change"] = "on_air" if action.kind == ActionKind.ON_AIR else "off_air"
        row["title"] = views.titles(self.schedule.session(action.session))
        return row

    def _destinations(self, session_id: str) -> list[dict[str, Any]]:
        runner = self._runner
        session = self.schedule.session(session_id)
        rows = []
        for did in session.outputs:
            dest = runner.destinations.get(did) if runner else None
            dest = dest or self.schedule.destination(did)
            prepared = runner.prepared.get((session_id, did)) if runner else None
            last = None
            if runner is not None:
                done = [
                    runner.results[a.id]
                    for a in runner.plan.for_session(session_id)
                    if a.destination == did and a.id in runner.results
                ]
                last = done[-1] if done else None
            rows.append(views.destination_row(dest, prepared, last))
        return rows

    def _secrets(self) -> list[str]:
        if self._runner is None:
            return []
        prepared = list(self._runner.prepared.values())
        return secret_values([t for p in prepared for t in (p.primary, p.backup)])
