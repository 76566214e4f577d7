"""A read-only picture of a run, folded from its events.

`RunView` is an observer: it keeps the plan, every action's result, each session's state and
history, the outputs prepared and attached, and the alerts. `snapshot()` hands out an immutable
copy; the runner offers its own (`Runner.snapshot()`), and any observer may keep a view of its own
from the same events (the dashboard does).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from orchestrator.engine.events import (
    ActionFinished,
    ActionResult,
    AlertRaised,
    BoothChanged,
    CueTaken,
    FallbackChanged,
    OutputAttached,
    OutputDetached,
    OutputPrepared,
    OverrideApplied,
    ParticipantChanged,
    PlanChanged,
    RouteChanged,
    RunEvent,
    RunFinished,
    RunStarted,
    SessionStateChanged,
)
from orchestrator.planning.actions import Action, ActionKind, action_id
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionState
from orchestrator.schedule.model import Destination


@dataclass(frozen=True)
class SessionView:
    id: str
    state: SessionState = SessionState.SCHEDULED
    history: tuple[tuple[SessionState, datetime], ...] = ()

    def entered(self, state: SessionState) -> datetime | None:
        return next((t for s, t in self.history if s == state), None)

    @property
    def on_air(self) -> datetime | None:
        return self.entered(SessionState.LIVE)

    @property
    def off_air(self) -> datetime | None:
        return self.entered(SessionState.ENDED)


@dataclass(frozen=True)
class OutputView:
    session: str
    destination: str
    ingest: str  # masked
    backup_ingest: str | None  # masked
    platform_ids: Mapping[str, str]
    watch_url: str | None
    attached: bool = False
    attached_at: datetime | None = None
    detached_at: datetime | None = None
    frames: int = 0
    bytes: int = 0
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSnapshot:
    plan: Plan
    destinations: Mapping[str, Destination]
    sessions: Mapping[str, SessionView]
    results: Mapping[str, ActionResult]
    outputs: Mapping[tuple[str, str], OutputView]
    alerts: tuple[AlertRaised, ...] = ()
    started: bool = False
    finished: bool = False
    participants: Mapping[str, ParticipantChanged] = field(default_factory=lambda: MappingProxyType({}))
    booths: Mapping[str, BoothChanged] = field(default_factory=lambda: MappingProxyType({}))
    routes: Mapping[tuple[str, str], RouteChanged] = field(default_factory=lambda: MappingProxyType({}))
    fallbacks: tuple[FallbackChanged, ...] = ()
    overrides: tuple[OverrideApplied, ...] = ()
    held: frozenset[str] = frozenset()  # sessions whose automatic changeovers an operator holds

    def result(self, kind: ActionKind, session: str, destination: str | None = None) -> ActionResult | None:
        return self.results.get(action_id(kind, session, destination))

    def state(self, session: str) -> SessionState:
        view = self.sessions.get(session)
        return view.state if view is not None else SessionState.SCHEDULED

    def pending(self) -> list[Action]:
        return [a for a in self.plan.actions if a.id not in self.results]

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results.values())


@dataclass
class _State:
    plan: Plan = field(default_factory=lambda: Plan(()))
    destinations: dict[str, Destination] = field(default_factory=dict)
    sessions: dict[str, SessionView] = field(default_factory=dict)
    results: dict[str, ActionResult] = field(default_factory=dict)
    outputs: dict[tuple[str, str], OutputView] = field(default_factory=dict)
    alerts: list[AlertRaised] = field(default_factory=list)
    started: bool = False
    finished: bool = False
    participants: dict[str, ParticipantChanged] = field(default_factory=dict)  # the latest per person
    booths: dict[str, BoothChanged] = field(default_factory=dict)  # the latest per booth
    routes: dict[tuple[str, str], RouteChanged] = field(default_factory=dict)  # (session, language)
    fallbacks: list[FallbackChanged] = field(default_factory=list)
    overrides: list[OverrideApplied] = field(default_factory=list)
    held: set[str] = field(default_factory=set)


class RunView:
    """Folds run events into a snapshot (thread-safe to read while events arrive)."""

    def __init__(self, plan: Plan | None = None, destinations: Mapping[str, Destination] | None = None) -> None:
        self._lock = threading.Lock()
        self._s = _State()
        if plan is not None:
            self._start(plan, destinations or {})

    def _start(self, plan: Plan, destinations: Mapping[str, Destination]) -> None:
        self._s.plan = plan
        self._s.destinations = dict(destinations)
        for sid in plan.cue_sheets or {a.session for a in plan.actions}:
            self._s.sessions.setdefault(sid, SessionView(sid))

    def __call__(self, event: RunEvent) -> None:
        with self._lock:
            s = self._s
            if isinstance(event, RunStarted):
                self._start(event.plan, event.destinations)
                s.started = True
            elif isinstance(event, RunFinished):
                s.finished = True
            elif isinstance(event, ActionFinished):
                known = s.results.get(event.result.action.id)
                if known is None or known.detail.get("applied") != "on_frame":  # a cue's frame wins over its arming
                    s.results[event.result.action.id] = event.result
            elif isinstance(event, SessionStateChanged):
                old = s.sessions.get(event.session, SessionView(event.session))
                history = old.history if old.state == event.state else (*old.history, (event.state, event.at))
                s.sessions[event.session] = SessionView(event.session, event.state, history)
            elif isinstance(event, OutputPrepared):
                key = (event.session, event.destination)
                old_out = s.outputs.get(key)
                s.outputs[key] = OutputView(
                    event.session,
                    event.destination,
                    event.ingest,
                    event.backup_ingest,
                    MappingProxyType(dict(event.platform_ids)),
                    event.watch_url,
                    attached=old_out.attached if old_out else False,
                    attached_at=old_out.attached_at if old_out else None,
                )
            elif isinstance(event, OutputAttached):
                key = (event.session, event.destination)
                if key in s.outputs:
                    s.outputs[key] = replace(s.outputs[key], attached=True, attached_at=event.at)
            elif isinstance(event, OutputDetached):
                key = (event.session, event.destination)
                if key in s.outputs:
                    s.outputs[key] = replace(
                        s.outputs[key],
                        attached=False,
                        detached_at=event.at,
                        frames=event.frames,
                        bytes=event.bytes,
                        errors=event.errors,
                    )
            elif isinstance(event, CueTaken):
                action = next((a for a in s.plan.actions if a.id == event.cue_id), None)
                if action is not None:
                    detail: dict[str, object] = {"frame_index": event.frame_index, "applied": "on_frame"}
                    if event.fallback:
                        detail["fallback"] = event.fallback
                    s.results[action.id] = ActionResult(action, "ok", event.applied, event.error_ms, detail)
            elif isinstance(event, AlertRaised):
                s.alerts.append(event)
            elif isinstance(event, ParticipantChanged):
                s.participants[event.person] = event
            elif isinstance(event, BoothChanged):
                s.booths[event.booth] = event
            elif isinstance(event, RouteChanged):
                s.routes[(event.session, event.language)] = event
            elif isinstance(event, FallbackChanged):
                s.fallbacks.append(event)
            elif isinstance(event, OverrideApplied):
                s.overrides.append(event)
                if event.session is not None and event.command == "hold":
                    s.held.add(event.session)
                elif event.session is not None and event.command in ("resume", "cancel"):
                    s.held.discard(event.session)
            elif isinstance(event, PlanChanged):
                s.plan = event.plan

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            s = self._s
            return RunSnapshot(
                plan=s.plan,
                destinations=MappingProxyType(dict(s.destinations)),
                sessions=MappingProxyType(dict(s.sessions)),
                results=MappingProxyType(dict(s.results)),
                outputs=MappingProxyType(dict(s.outputs)),
                alerts=tuple(s.alerts),
                started=s.started,
                finished=s.finished,
                participants=MappingProxyType(dict(s.participants)),
                booths=MappingProxyType(dict(s.booths)),
                routes=MappingProxyType(dict(s.routes)),
                fallbacks=tuple(s.fallbacks),
                overrides=tuple(s.overrides),
                held=frozenset(s.held),
            )
