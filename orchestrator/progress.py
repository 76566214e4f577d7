"""A live view of a running event in the terminal: which session is on air, the next changeover and
its countdown, every session's state. On a terminal it redraws in place; elsewhere (CI, a pipe) it
prints one line per change so the log stays readable."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator.clock import Clock
from orchestrator.engine.events import ActionFinished, ActionResult, RunEvent
from orchestrator.engine.view import RunSnapshot, RunView
from orchestrator.planning.actions import Action, ActionKind
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionState
from orchestrator.schedule.model import Schedule

_STYLE = {
    SessionState.SCHEDULED: "dim",
    SessionState.PREPARING: "yellow",
    SessionState.STANDBY: "cyan",
    SessionState.LIVE: "bold red",
    SessionState.OVERRUN: "bold magenta",
    SessionState.ENDED: "green",
    SessionState.CANCELLED: "strike",
}


class RehearsalProgress:
    """An observer of the run's events (subscribe it to the bus); it keeps its own `RunView`."""

    def __init__(self, schedule: Schedule, plan: Plan, clock: Clock, console: Console | None = None) -> None:
        self.schedule = schedule
        self.plan = plan
        self.clock = clock
        self.console = console or Console(file=sys.stdout)
        self.tz = schedule.event.tz
        self._view = RunView(plan)
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None
        self._done = 0

    def __call__(self, event: RunEvent) -> None:
        self._view(event)
        if isinstance(event, ActionFinished):
            self._on_result(event.result)

    def _on_result(self, result: ActionResult) -> None:
        self._done += 1
        a = result.action
        if self.console.is_terminal:
            return
        if a.kind in (ActionKind.ON_AIR, ActionKind.STOP_PROGRAMME):
            total = len(self.plan.actions)
            lateness = f"{result.error_ms:+.0f} ms" if result.error_ms is not None else ""
            word = "ON AIR " if a.kind == ActionKind.ON_AIR else "OFF AIR"
            self.console.print(
                f"[{self._done:>4}/{total}] {word} {a.session:<28} {a.at.astimezone(self.tz):%a %d %b %H:%M} {lateness} {result.outcome}",
                highlight=False,
            )

    def _next_action(self, run: RunSnapshot) -> Action | None:
        pending = run.pending()
        return min(pending, key=Action.sort_key) if pending else None

    def render(self) -> Table:
        event_now = self.clock.now()
        now = event_now.astimezone(self.tz)
        run = self._view.snapshot()
        on_air = [sid for sid, s in run.sessions.items() if s.state in (SessionState.LIVE, SessionState.OVERRUN)]
        nxt = self._next_action(run)
        countdown = ""
        if nxt is not None:
            secs = max(0.0, self.clock.to_wall(nxt.at) - self.clock.to_wall(event_now))
            countdown = f"{nxt.id} in {secs:4.1f} s (event time {nxt.at.astimezone(self.tz):%H:%M})"
        table = Table(
            title=f"{self.schedule.event.name.get('en')} — event time {now:%a %d %b %H:%M:%S %Z}",
            caption=f"on air: {', '.join(on_air) or '—'}   next: {countdown or '—'}   actions {self._done}/{len(self.plan.actions)}",
        )
        for col in ("session", "title", "start", "state", "late (max ms)"):
            table.add_column(col)
        for sid, prog in self.plan.cue_sheets.items():
            state = run.state(sid)
            errs = [r.error_ms for r in run.results.values() if r.action.session == sid and r.error_ms is not None]
            table.add_row(
                sid,
                prog.title[:40],
                f"{prog.start.astimezone(self.tz):%a %d %H:%M}",
                f"[{_STYLE[state]}]{state.value}[/]",
                f"{max(errs):.0f}" if errs else "",
            )
        return table

    async def _refresh(self) -> None:
        assert self._live is not None
        while True:
            self._live.update(self.render(), refresh=True)
            await asyncio.sleep(0.25)

    async def __aenter__(self) -> RehearsalProgress:
        if self.console.is_terminal:
            self._live = Live(self.render(), console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
            self._task = asyncio.create_task(self._refresh())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.__exit__(None, None, None)
