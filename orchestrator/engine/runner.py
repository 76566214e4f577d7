"""The runner: executes the plan on time with APScheduler's asyncio scheduler.

Each action becomes a one-shot job at the wall time its event time maps to (the clock decides, so the
same code runs live and in a compressed rehearsal). A job first waits for the actions it depends on
(the plan says which), then calls the ports, then writes the journal. A failing action is logged,
alerted and journalled; it never stops the others.

After a restart the same plan is handed in with the same journal: what is recorded is skipped, what
was missed is handled by a clear policy (see `_missed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from orchestrator.clock import Clock
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.ports import MediaPlane, Notifier, OutputSpec, Platform, PreparedDestination
from orchestrator.planning.actions import Action, ActionKind, action_id
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionMachine, SessionState
from orchestrator.redaction import mask_text
from orchestrator.schedule.model import Schedule

log = structlog.get_logger(__name__)

Destination = Any  # one of the schedule's destination models


@dataclass(frozen=True)
class RunnerSettings:
    cue_arm_lead_s: float = 1.0  # wall seconds ahead of its time that a cue is handed to the programme


@dataclass
class ActionResult:
    action: Action
    outcome: str  # ok | failed | skipped
    executed: datetime | None = None
    error_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class LogNotifier:
    """The notifier used when nothing richer is attached: log lines, plus a list for reports."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    def alert(self, level: str, message: str, *, session: str | None = None, destination: str | None = None) -> None:
        entry = {"level": level, "message": mask_text(message), "session": session, "destination": destination}
        self.alerts.append(entry)
        getattr(log, "error" if level == "error" else "warning")("alert", **entry)

    def state(self, session_id: str, state: str, at: datetime) -> None:
        log.info("session_state", session=session_id, state=state, at=at.isoformat())


class Runner:
    def __init__(
        self,
        schedule: Schedule,
        plan: Plan,
        *,
        clock: Clock,
        programme: MediaPlane,
        platforms: Mapping[str, Platform],
        destinations: Mapping[str, Destination] | None = None,
        journal: SqliteJournal,
        notifier: Notifier | None = None,
        settings: RunnerSettings | None = None,
    ) -> None:
        self.schedule = schedule
        self.plan = plan
        self.clock = clock
        self.programme = programme
        self.platforms = platforms  # destination id → adapter
        self.destinations = dict(destinations or {d.id: d for d in schedule.destinations})
        self.journal = journal
        self.notifier: Notifier = notifier or LogNotifier()
        self.settings = settings or RunnerSettings()
        self.machines = {sid: SessionMachine(sid) for sid in {a.session for a in plan.actions}}
        self.prepared: dict[tuple[str, str], PreparedDestination] = {}
        self.results: dict[str, ActionResult] = {}
        self.listeners: list[Callable[[ActionResult], None]] = []
        self._finished: dict[str, asyncio.Event] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._all_done: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ scheduling

    def due_wall(self, action: Action) -> float:
        """Wall time the job fires: cues are handed over ahead, everything else on the dot."""
        wall = self.clock.to_wall(action.at)
        return wall - self.settings.cue_arm_lead_s if action.kind == ActionKind.CUE else wall

    async def run(self) -> dict[str, ActionResult]:
        """Execute the whole plan; returns when every action has run, been skipped or failed."""
        loop = asyncio.get_running_loop()
        self._all_done = asyncio.Event()
        self._finished = {a.id: asyncio.Event() for a in self.plan.actions}
        self._scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        now_wall = self.clock.to_wall(self.clock.now())
        missed: list[Action] = []
        for action in self.plan.actions:
            if self.journal.done(action.id):
                self._restore(action)
                continue
            if self.due_wall(action) < now_wall - 0.25:
                missed.append(action)
                continue
            self._scheduler.add_job(
                self._execute,
                DateTrigger(run_date=datetime.fromtimestamp(self.due_wall(action), UTC)),
                args=(action,),
                id=action.id,
                misfire_grace_time=None,  # late is better than never: the job reports its lateness
                coalesce=True,
            )
        to_resume = [
            sid
            for sid, m in self.machines.items()
            if m.state in (SessionState.STANDBY, SessionState.LIVE, SessionState.OVERRUN)
        ]
        for sid in to_resume:
            await self._resume(sid)
        for action in self._missed(missed):
            self._spawn(self._execute(action))
        self._scheduler.start()
        log.info(
            "runner_started",
            actions=len(self.plan.actions),
            scheduled=len(self._scheduler.get_jobs()),
            missed=len(missed),
        )
        self._check_all_done()
        try:
            await self._all_done.wait()
        finally:
            self._scheduler.shutdown(wait=False)
        log.info(
            "runner_finished", ok=sum(r.outcome == "ok" for r in self.results.values()), failed=self.failed_count()
        )
        return self.results

    def failed_count(self) -> int:
        return sum(r.outcome == "failed" for r in self.results.values())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _restore(self, action: Action) -> None:
        """An action the journal says is done: mark it finished and replay its effect on the state."""
        self._finished[action.id].set()
        self.results[action.id] = ActionResult(action, "ok", detail={"from_journal": True})
        if action.destination is None:
            target = {
                ActionKind.PREPARE_MEDIA: SessionState.PREPARING,
                ActionKind.START_PROGRAMME: SessionState.STANDBY,
                ActionKind.ON_AIR: SessionState.LIVE,
                ActionKind.STOP_PROGRAMME: SessionState.ENDED,
            }.get(action.kind)
            if target is not None:
                m = self.machines[action.session]
                if m.can(target):
                    m.move(target, action.at)

    async def _resume(self, sid: str) -> None:
        """Restarted while a session was on stand-by or on air: the journal has its actions, but the
        media died with the old process. Rebuild it: programme, outputs that were attached and not
        ended (their ingest asked again of the idempotent adapters), and the cue due now, at the
        offset into the segment that the clock says."""
        log.warning("session_resumed", session=sid, state=self.machines[sid].state.value)
        self.notifier.alert("warning", f"session '{sid}' resumed after a restart", session=sid)
        session = self.schedule.session(sid)
        try:
            await self.programme.prepare(self.plan.cue_sheets[sid])
            await self.programme.start(sid)
            for action in self.plan.for_session(sid):
                if action.kind != ActionKind.ATTACH_OUTPUT:
                    continue
                if not self.journal.done(action.id) or self.journal.done(
                    action_id(ActionKind.END_BROADCAST, sid, action.destination)
                ):
                    continue
                did = action.destination
                dest = self.destinations[did]
                prepared = await self.platforms[did].prepare(
                    action_id(ActionKind.PREPARE_BROADCAST, sid, did), session, dest
                )
                self.prepared[(sid, did)] = prepared
                await self.programme.attach_output(self._output(sid, dest, prepared))
            now = self.clock.now()
            current = [a for a in self.plan.for_session(sid) if a.kind == ActionKind.CUE and a.at <= now]
            if current and current[-1].cue is not None:
                cue = current[-1].cue
                elapsed = (now - cue.at).total_seconds()
                video = replace(cue.video, clip_offset_s=cue.video.clip_offset_s + elapsed)
                self.programme.arm(sid, replace(cue, video=video))
        except Exception as exc:
            message = mask_text(str(exc) or type(exc).__name__)
            log.error("session_resume_failed", session=sid, error=message)
            self.notifier.alert("error", f"session '{sid}' could not be resumed: {message}", session=sid)

    def _output(self, sid: str, dest: Destination, prepared: PreparedDestination) -> OutputSpec:
        return OutputSpec(
            destination_id=dest.id,
            session_id=sid,
            language=dest.language,
            kind="file" if dest.kind == "file" else "rtmp",
            primary=prepared.primary,
            backup=prepared.backup,
        )

    def _missed(self, missed: list[Action]) -> list[Action]:
        """Policy for actions whose time passed while we were not running:
        - a session already over: only its end actions run (complete broadcasts, close outputs);
        - a session under way or about to be: preparation, stand-by and go-live run now, in order;
          of its past cues only the latest runs (the programme shows what is due now).
        """
        now_wall = self.clock.to_wall(self.clock.now())
        run_now: list[Action] = []
        latest_cue: dict[str, Action] = {}
        for action in missed:
            session_end_wall = self.clock.to_wall(self.schedule.session(action.session).end)
            if session_end_wall <= now_wall and action.kind not in (
                ActionKind.END_BROADCAST,
                ActionKind.STOP_PROGRAMME,
            ):
                self._skip(action, "missed: the session was over when the runner started")
            elif action.kind == ActionKind.CUE:
                prev = latest_cue.get(action.session)
                if prev is not None:
                    self._skip(prev, f"superseded by {action.id}")
                latest_cue[action.session] = action
            else:
                run_now.append(action)
        run_now += latest_cue.values()
        if missed:
            log.warning("runner_missed_actions", missed=len(missed), run_now=[a.id for a in run_now])
        return run_now

    def _skip(self, action: Action, why: str) -> None:
        self.journal.record(
            action.id,
            kind=action.kind.value,
            session=action.session,
            destination=action.destination,
            scheduled=action.at.isoformat(),
            executed=None,
            error_ms=None,
            outcome="skipped",
            detail={"why": why},
        )
        self._finish(ActionResult(action, "skipped", detail={"why": why}))

    def _finish(self, result: ActionResult) -> None:
        self.results[result.action.id] = result
        self._finished[result.action.id].set()
        for listener in self.listeners:
            listener(result)
        self._check_all_done()

    def _check_all_done(self) -> None:
        if self._all_done is not None and all(e.is_set() for e in self._finished.values()):
            self._all_done.set()

    # ------------------------------------------------------------------ execution

    async def _execute(self, action: Action) -> None:
        for dep in action.after:
            event = self._finished.get(dep)
            if event is not None:  # a dependency outside the plan (--only) does not hold us
                await event.wait()
        executed = self.clock.now()
        late_ms = (self.clock.to_wall(executed) - self.due_wall(action)) * 1000
        log.debug("action_start", action=action.id, kind=action.kind.value, late_ms=round(late_ms, 1))
        try:
            detail = await self._dispatch(action) or {}
            outcome = "ok"
        except Exception as exc:
            outcome = "failed"
            message = mask_text(str(exc) or type(exc).__name__)
            detail = {"error": message, "error_type": type(exc).__name__}
            log.error(
                "action_failed", action=action.id, session=action.session, destination=action.destination, error=message
            )
            self.notifier.alert(
                "error", f"{action.id} failed: {message}", session=action.session, destination=action.destination
            )
        self.journal.record(
            action.id,
            kind=action.kind.value,
            session=action.session,
            destination=action.destination,
            scheduled=action.at.isoformat(),
            executed=executed.isoformat(),
            error_ms=round(late_ms, 3),
            outcome=outcome,
            detail=detail,
        )
        log.info(
            "action_done" if outcome == "ok" else "action_done_failed",
            action=action.id,
            late_ms=round(late_ms, 1),
            outcome=outcome,
        )
        self._finish(ActionResult(action, outcome, executed, late_ms, detail))

    def _move(self, session_id: str, state: SessionState) -> None:
        at = self.clock.now()
        self.machines[session_id].move(state, at)
        self.journal.record_state(session_id, state.value, at.isoformat())
        self.notifier.state(session_id, state.value, at)

    async def _dispatch(self, action: Action) -> dict[str, Any] | None:
        sid = action.session
        session = self.schedule.session(sid)
        if action.destination is None:
            if action.kind == ActionKind.PREPARE_MEDIA:
                self._move(sid, SessionState.PREPARING)
                problems = await self.programme.prepare(self.plan.cue_sheets[sid])
                for problem in problems:
                    self.notifier.alert("warning", problem, session=sid)
                return {"problems": problems}
            if action.kind == ActionKind.START_PROGRAMME:
                self._move(sid, SessionState.STANDBY)
                await self.programme.start(sid)
                return None
            if action.kind == ActionKind.ON_AIR:
                self._move(sid, SessionState.LIVE)
                return None
            if action.kind == ActionKind.CUE:
                assert action.cue is not None
                self.programme.arm(sid, action.cue)
                return {"armed_ahead_s": self.settings.cue_arm_lead_s}
            if action.kind == ActionKind.STOP_PROGRAMME:
                reports = await self.programme.stop(sid)
                self._record_applied_cues(sid)
                aired = self.machines[sid].state in (SessionState.LIVE, SessionState.OVERRUN)
                # A session whose air time passed while we were down never aired: it is cancelled.
                self._move(sid, SessionState.ENDED if aired else SessionState.CANCELLED)
                return {"outputs": [r.destination_id for r in reports], "aired": aired}
            raise ValueError(f"no session-level action of kind {action.kind}")

        did = action.destination
        dest = self.destinations[did]
        platform = self.platforms[did]
        if action.kind == ActionKind.PREPARE_BROADCAST:
            prepared = await platform.prepare(action.id, session, dest)
            self.prepared[(sid, did)] = prepared
            return {"platform_ids": prepared.platform_ids, "target": mask_text(prepared.primary.url)}
        if action.kind == ActionKind.ATTACH_OUTPUT:
            prepared = self.prepared.get((sid, did))
            prepare_id = action_id(ActionKind.PREPARE_BROADCAST, sid, did)
            restored = self.results.get(prepare_id)
            if prepared is None and restored is not None and restored.detail.get("from_journal"):
                # Restarted after the preparation: ask again (adapters are idempotent on the id) for the ingest.
                prepared = await platform.prepare(prepare_id, session, dest)
                self.prepared[(sid, did)] = prepared
            if prepared is None:
                raise RuntimeError(f"destination '{did}' was not prepared for session '{sid}': nothing to push to")
            await self.programme.attach_output(self._output(sid, dest, prepared))
            return None
        if action.kind == ActionKind.GO_LIVE:
            await platform.go_live(action.id, session, dest)
            return None
        if action.kind == ActionKind.END_BROADCAST:
            report = None
            if (sid, did) in self.prepared:
                report = await self.programme.detach_output(sid, did)
            await platform.end(action.id, session, dest)
            return {"frames": report.frames, "bytes": report.bytes, "errors": report.errors} if report else None
        raise ValueError(f"no destination action of kind {action.kind}")

    def _record_applied_cues(self, session_id: str) -> None:
        """Cues are journalled when armed; once the session's programme stops, the frame each one
        really took effect on is known: journal that as its execution time."""
        for applied in self.programme.applied_cues():
            if applied.session_id != session_id:
                continue
            err_ms = (applied.applied_wall - self.clock.to_wall(applied.scheduled)) * 1000
            action = next((a for a in self.plan.actions if a.id == applied.cue_id), None)
            if action is None:
                continue
            detail = {"frame_index": applied.frame_index, "applied": "on_frame"}
            if applied.fallback:
                detail["fallback"] = applied.fallback
            self.journal.record(
                action.id,
                kind=action.kind.value,
                session=session_id,
                destination=None,
                scheduled=action.at.isoformat(),
                executed=applied.applied.isoformat(),
                error_ms=round(err_ms, 3),
                outcome="ok",
                detail=detail,
            )
            self.results[action.id] = ActionResult(action, "ok", applied.applied, err_ms, detail)
