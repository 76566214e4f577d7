"""The runner: executes the plan on time with APScheduler's asyncio scheduler.

Each action becomes a one-shot job at the wall time its event time maps to (the clock decides, so the
same code runs live and in a compressed rehearsal). A job first waits for the actions it depends on
(the plan says which), then calls the ports, then writes the journal. A failing action is logged,
alerted and journalled; it never stops the others.

After a restart the same plan is handed in with the same journal: what is recorded as finished (ok,
or skipped by the policy) is skipped, a failed action is retried, what was missed is handled by a
clear policy per kind (see `_missed` and docs/architecture.md, "Crash-resume"). A running plan can
be replaced by an edited one (`reload`): only what has not started changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from orchestrator.clock import Clock
from orchestrator.engine.events import (
    ActionFinished,
    ActionResult,
    ActionStarted,
    CueTaken,
    EventBus,
    OutputAttached,
    OutputDetached,
    OutputPrepared,
    PlanChanged,
    RunFinished,
    RunStarted,
    SessionStateChanged,
)
from orchestrator.engine.ports import (
    CueApplied,
    IngestTarget,
    Journal,
    MediaPlane,
    OutputReport,
    OutputSpec,
    Platform,
    PreparedDestination,
)
from orchestrator.engine.reload import PlanDiff, diff_plans
from orchestrator.engine.view import RunSnapshot, RunView
from orchestrator.planning.actions import Action, ActionKind, action_id
from orchestrator.planning.cues import Cue
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionMachine, SessionState
from orchestrator.redaction import mask_ingest
from orchestrator.schedule.model import Destination, Schedule

log = structlog.get_logger(__name__)

# A session's actions move its state machine; a restart replays them from the journal.
_SESSION_STATE = {
    ActionKind.PREPARE_MEDIA: SessionState.PREPARING,
    ActionKind.START_PROGRAMME: SessionState.STANDBY,
    ActionKind.ON_AIR: SessionState.LIVE,
    ActionKind.STOP_PROGRAMME: SessionState.ENDED,
}


@dataclass(frozen=True)
class ReloadResult:
    """What `Runner.reload` did with an edited plan: applied in full, or refused with the reasons."""

    diff: PlanDiff
    applied: bool
    refused: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"applied": self.applied, "refused": list(self.refused), "diff": self.diff.to_json()}


# Sessions in these states have media running: a reload must not touch what of them has begun.
_ON_AIR = (SessionState.STANDBY, SessionState.LIVE, SessionState.OVERRUN)


class StartHooks(Protocol):
    """What else a (re)started run restores, from the journal, before its first job fires."""

    def restoring(self) -> None:
        """Every job is scheduled (paused), the missed ones due now; no session resumed yet."""

    def restored(self) -> None:
        """Sessions on stand-by and on air are back (programme, outputs, the cue due now); the
        scheduler starts right after."""


@dataclass(frozen=True)
class RunnerSettings:
    cue_arm_lead_s: float = 1.0  # wall seconds ahead of its time that a cue is handed to the programme


class Runner:
    """Runs one plan. Observers subscribe to `bus`; `snapshot()` is the run as it stands."""

    def __init__(
        self,
        schedule: Schedule,
        plan: Plan,
        *,
        clock: Clock,
        media: MediaPlane,
        platforms: Mapping[str, Platform],
        destinations: Mapping[str, Destination] | None = None,
        journal: Journal,
        bus: EventBus | None = None,
        settings: RunnerSettings | None = None,
    ) -> None:
        self.schedule = schedule
        self.plan = plan
        self.clock = clock
        self.bus = bus or EventBus(clock)
        self._media = media
        self._platforms = platforms  # destination id → adapter
        self._destinations: dict[str, Destination] = dict(destinations or {d.id: d for d in schedule.destinations})
        self._journal = journal
        self.settings = settings or RunnerSettings()
        self._view = RunView(plan, self._destinations)
        self.bus.subscribe(self._view)
        self._machines = {sid: SessionMachine(sid) for sid in {a.session for a in plan.actions}}
        self._prepared: dict[tuple[str, str], PreparedDestination] = {}
        self._finished: dict[str, asyncio.Event] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._all_done: asyncio.Event | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._begun: set[str] = set()  # actions whose job has begun (waiting on dependencies or running)
        self._over = False
        self._media_ready: set[str] = set()  # sessions whose media this process has prepared
        self._rearmed: set[str] = set()  # cues armed again by a resume: their journalled receipt stands
        self._reload_lock = asyncio.Lock()
        self._hooks: list[StartHooks] = []

    def add_hooks(self, hooks: StartHooks) -> None:
        """Called back while `run` restores the run, before the first job fires (see `StartHooks`)."""
        self._hooks.append(hooks)

    @property
    def destinations(self) -> Mapping[str, Destination]:
        return self._destinations

    def snapshot(self) -> RunSnapshot:
        """The run as it stands: an immutable copy, safe to keep."""
        return self._view.snapshot()

    # ------------------------------------------------------------------ scheduling

    def due_wall(self, action: Action) -> float:
        """Wall time the job fires: cues are handed over ahead, everything else on the dot."""
        wall = self.clock.to_wall(action.at)
        return wall - self.settings.cue_arm_lead_s if action.kind == ActionKind.CUE else wall

    async def run(self) -> RunSnapshot:
        """Execute the whole plan; returns the final snapshot once every action has run, been
        skipped or failed."""
        loop = self._loop = asyncio.get_running_loop()
        self.bus.bind(loop)
        self._media.on_cue(self._cue_receipt)
        self._all_done = asyncio.Event()
        self._finished = {a.id: asyncio.Event() for a in self.plan.actions}
        self._scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        self.bus.publish(RunStarted(self.schedule.event.id, self.plan, dict(self._destinations), self.clock.now()))
        now_wall = self.clock.to_wall(self.clock.now())
        missed: list[Action] = []
        for action in self.plan.actions:
            if self._journal.done(action.id):
                self._restore(action)
                continue
            if self.due_wall(action) < now_wall - 0.25:
                missed.append(action)
                continue
            self._schedule_job(action)
        # Every job is in the scheduler, paused, while the run is restored: an operator's hold
        # re-applied from the journal pauses them (the missed ones too) before any can fire.
        self._scheduler.start(paused=True)
        for action in self._missed(missed):
            self._schedule_job(action)  # its time passed: it runs as soon as the scheduler goes
        for hooks in self._hooks:
            hooks.restoring()
        # Sessions on air first, then those on stand-by; all at once (each waits on its own I/O).
        to_resume = sorted(
            (sid for sid, m in self._machines.items() if m.state in _ON_AIR),
            key=lambda sid: self._machines[sid].state == SessionState.STANDBY,
        )
        await asyncio.gather(*(self._resume(sid) for sid in to_resume))
        for hooks in self._hooks:
            hooks.restored()
        self._scheduler.resume()
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
            self._over = True  # a reload from now on is refused
            self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # receipts handed over from the media threads are folded in first
        self.bus.publish(RunFinished(self.clock.now()))
        log.info(
            "runner_finished",
            ok=(final := self.snapshot()).count("ok"),
            failed=final.count("failed"),
        )
        return final

    def _schedule_job(self, action: Action) -> None:
        assert self._scheduler is not None
        self._scheduler.add_job(
            self._execute,
            DateTrigger(run_date=datetime.fromtimestamp(self.due_wall(action), UTC)),
            args=(action,),
            id=action.id,
            misfire_grace_time=None,  # late is better than never: the job reports its lateness
            coalesce=True,
            replace_existing=True,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _restore(self, action: Action) -> None:
        """An action the journal says is done: mark it finished and replay its effect on the state."""
        self._finished[action.id].set()
        outcome = self._journal.outcome(action.id) or "ok"
        detail: dict[str, Any] = {"from_journal": True}
        if action.kind == ActionKind.CUE and (applied := (self._journal.detail(action.id) or {}).get("applied")):
            detail["applied"] = applied  # taken on its frame: not upcoming, not skippable
        self.bus.publish(ActionFinished(ActionResult(action, outcome, detail=detail)))
        target = _SESSION_STATE.get(action.kind)
        if target is not None and outcome == "ok":
            m = self._machines[action.session]
            if m.can(target):
                m.move(target, action.at)
                self.bus.publish(SessionStateChanged(action.session, target, action.at))

    async def _resume(self, sid: str) -> None:
        """Restarted while a session was on stand-by or on air: the journal has its actions, but the
        media died with the old process. Rebuild it: programme, outputs that were attached and not
        ended (their ingest asked again of the idempotent adapters), and the cue due now, at the
        offset into the segment that the clock says."""
        now = self.clock.now()
        if now >= self._end(sid) and not self._paused(action_id(ActionKind.STOP_PROGRAMME, sid)):
            # Over while we were down (and not held on air): its ending actions (missed, so run
            # now) close what is left.
            log.warning("session_not_resumed_over", session=sid, state=self._machines[sid].state.value)
            self.bus.alert("warning", f"session '{sid}' ended while the orchestrator was down", session=sid)
            return
        state = self._machines[sid].state.value
        on_air = [
            a.destination
            for a in self.plan.for_session(sid)
            if a.kind == ActionKind.ATTACH_OUTPUT
            and a.destination is not None
            and self._journal.done(a.id)
            and not self._journal.done(action_id(ActionKind.END_BROADCAST, sid, a.destination))
        ]
        try:

            async def media_up() -> None:
                await self._prepare_media(sid)
                await self._media.start(sid)

            # The programme and the platforms' answers (ingest asked again) at the same time.
            got = await asyncio.gather(
                media_up(),
                *(
                    self._prepare_broadcast(action_id(ActionKind.PREPARE_BROADCAST, sid, did), sid, did)
                    for did in on_air
                ),
                return_exceptions=True,
            )
            if isinstance(got[0], BaseException):
                raise got[0]
            # The cue due now, at the offset the clock says, before the outputs see a frame. One not
            # yet journalled was missed and runs now (at its offset too), unless a hold keeps it.
            now = self.clock.now()
            cues = [a for a in self.plan.for_session(sid) if a.kind == ActionKind.CUE and a.cue is not None]
            where = "on the stand-by slate"
            shown = self._showing(cues, now)
            if shown is not None and shown.cue is not None:
                where = f"at segment '{shown.cue.segment_id}', {(now - shown.cue.at).total_seconds():.1f} s in"
                if self._journal.outcome(shown.id) == "ok":
                    if self._taken_on_frame(shown.id):  # its as-run frame stands; the new one is not journalled
                        self._rearmed.add(shown.id)
                    self._media.arm(sid, self._cue_now(shown.cue))
            for a in cues:  # handed to the programme ahead of its time, and killed before its frame
                if a.at > now and self._journal.outcome(a.id) == "ok" and not self._taken_on_frame(a.id):
                    assert a.cue is not None
                    self._media.arm(sid, a.cue)
            for did, prepared in zip(on_air, got[1:], strict=True):
                if isinstance(prepared, BaseException):
                    message = self.bus.secrets.redact(str(prepared) or type(prepared).__name__)
                    log.error("output_resume_failed", session=sid, destination=did, error=message)
                    self.bus.alert("error", f"output {sid}/{did} could not be resumed: {message}", session=sid,
                                   destination=did)  # fmt: skip
                    continue
                await self._attach(sid, did)
            log.warning("session_resumed", session=sid, state=state, where=where, outputs=on_air)
            self.bus.alert("warning", f"session '{sid}' resumed after a restart ({state}) {where}", session=sid)
        except Exception as exc:  # the rest of the event goes on
            message = self.bus.secrets.redact(str(exc) or type(exc).__name__)
            log.error("session_resume_failed", session=sid, error=message)
            self.bus.alert("error", f"session '{sid}' could not be resumed: {message}", session=sid)

    def _showing(self, cues: list[Action], now: datetime) -> Action | None:
        """The cue whose time it is on the programme: the latest due one, except that one skipped
        leaves the one before it showing, and one held back (a hold) too."""
        for action in reversed([a for a in cues if a.at <= now]):
            outcome = self._journal.outcome(action.id)
            if outcome == "skipped":
                continue
            if outcome == "ok" or self.pending_job(action.id):  # shown, or about to be (missed)
                return action
            if self._paused(action.id):
                continue  # held: what was on before it stays
            return action
        return None

    def _end(self, sid: str) -> datetime:
        """When the session goes off air: its cue sheet's end (an operator may have moved it)."""
        sheet = self.plan.cue_sheets.get(sid)
        return sheet.end if sheet is not None else self.schedule.session(sid).end

    def _paused(self, the_id: str) -> bool:
        """The action's job waits, held by an operator."""
        if self._scheduler is None or not self._scheduler.running:
            return False
        job = self._scheduler.get_job(the_id)
        return job is not None and job.next_run_time is None

    def _taken_on_frame(self, the_id: str) -> bool:
        return (self._journal.detail(the_id) or {}).get("applied") == "on_frame"

    def cue_now(self, cue: Cue) -> Cue:
        """`cue` handed over now, after its time (see `_cue_now`)."""
        return self._cue_now(cue)

    def _cue_now(self, cue: Cue) -> Cue:
        """A cue handed over after its time: a clip starts as far in as the time gone by, so the
        programme is where it would have been (a resumed clip carries on at its offset)."""
        elapsed = (self.clock.now() - cue.at).total_seconds()
        if elapsed <= 0 or cue.video.clip_path is None:
            return cue
        return replace(cue, video=replace(cue.video, clip_offset_s=cue.video.clip_offset_s + elapsed))

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
            session_end_wall = self.clock.to_wall(self._end(action.session))
            ending = action.kind in (ActionKind.END_BROADCAST, ActionKind.STOP_PROGRAMME)
            if session_end_wall <= now_wall and not ending:
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

    def _journal_action(
        self, action: Action, outcome: str, executed: datetime | None, error_ms: float | None, detail: Mapping[str, Any]
    ) -> None:
        self._journal.record(
            action.id,
            kind=action.kind.value,
            session=action.session,
            destination=action.destination,
            scheduled=action.at.isoformat(),
            executed=executed.isoformat() if executed is not None else None,
            error_ms=round(error_ms, 3) if error_ms is not None else None,
            outcome=outcome,
            detail=detail,
        )

    def _skip(self, action: Action, why: str) -> None:
        self._journal_action(action, "skipped", None, None, {"why": why})
        self._finish(ActionResult(action, "skipped", detail={"why": why}))

    def _finish(self, result: ActionResult) -> None:
        self._finished[result.action.id].set()
        self.bus.publish(ActionFinished(result))
        self._check_all_done()

    def _check_all_done(self) -> None:
        if self._all_done is not None and all(e.is_set() for e in self._finished.values()):
            self._all_done.set()

    # ------------------------------------------------------------------ execution

    async def _execute(self, action: Action) -> None:
        self._begun.add(action.id)
        for dep in action.after:
            event = self._finished.get(dep)
            if event is not None:  # a dependency outside the plan (--only) does not hold us
                await event.wait()
        executed = self.clock.now()
        late_ms = (self.clock.to_wall(executed) - self.due_wall(action)) * 1000
        log.debug("action_start", action=action.id, kind=action.kind.value, late_ms=round(late_ms, 1))
        self._journal.begin(action.id, executed.isoformat())
        self.bus.publish(ActionStarted(action, executed, late_ms))
        detail: Mapping[str, Any]
        try:
            detail = await self._dispatch(action) or {}
            outcome = "ok"
        except Exception as exc:  # one failing action must not stop the event
            outcome = "failed"
            message = self.bus.secrets.redact(str(exc) or type(exc).__name__)
            detail = {"error": message, "error_type": type(exc).__name__}
            log.error(
                "action_failed", action=action.id, session=action.session, destination=action.destination, error=message
            )
            self.bus.alert(
                "error", f"{action.id} failed: {message}", session=action.session, destination=action.destination
            )
        self._journal_action(action, outcome, executed, late_ms, detail)
        log.info(
            "action_done" if outcome == "ok" else "action_done_failed",
            action=action.id,
            late_ms=round(late_ms, 1),
            outcome=outcome,
        )
        self._finish(ActionResult(action, outcome, executed, late_ms, detail))

    def _move(self, session_id: str, state: SessionState) -> None:
        at = self.clock.now()
        self._machines[session_id].move(state, at)
        self._journal.record_state(session_id, state.value, at.isoformat())
        self.bus.publish(SessionStateChanged(session_id, state, at))

    async def _prepare_media(self, sid: str) -> list[str]:
        problems = await self._media.prepare(self.plan.cue_sheets[sid])
        self._media_ready.add(sid)
        return problems

    async def _prepare_broadcast(self, the_id: str, sid: str, did: str) -> PreparedDestination:
        """Ask the destination's platform for the session's ingest (idempotent on the action id)."""
        prepared = await self._platforms[did].prepare(the_id, self.schedule.session(sid), self._destinations[did])
        self._prepared[(sid, did)] = prepared
        keys = [t.key for t in (prepared.primary, prepared.backup) if t is not None and t.key is not None]
        self.bus.secrets.add(*keys)  # from now on scrubbed wherever they appear
        self.bus.publish(
            OutputPrepared(
                sid,
                did,
                _masked(prepared.primary),
                _masked(prepared.backup) if prepared.backup else None,
                dict(prepared.platform_ids),
                prepared.watch_url,
                self.clock.now(),
            )
        )
        return prepared

    async def _attach(self, sid: str, did: str) -> None:
        await self._media.attach_output(self._output(sid, self._destinations[did], self._prepared[(sid, did)]))
        self.bus.publish(OutputAttached(sid, did, self.clock.now()))

    async def _dispatch(self, action: Action) -> Mapping[str, Any] | None:
        sid = action.session
        session = self.schedule.session(sid)
        kind = action.kind
        if kind == ActionKind.PREPARE_MEDIA:
            self._move(sid, SessionState.PREPARING)
            problems = await self._prepare_media(sid)
            for problem in problems:
                self.bus.alert("warning", problem, session=sid)
            return {"problems": problems}
        if kind == ActionKind.START_PROGRAMME:
            self._move(sid, SessionState.STANDBY)
            if sid not in self._media_ready:
                # Prepared by a process that was killed since: the preparation died with it.
                await self._prepare_media(sid)
            await self._media.start(sid)
            return None
        if kind == ActionKind.ON_AIR:
            self._move(sid, SessionState.LIVE)
            return None
        if kind == ActionKind.CUE:
            assert action.cue is not None
            self._media.arm(sid, self._cue_now(action.cue))
            return {"armed_ahead_s": self.settings.cue_arm_lead_s}
        if kind == ActionKind.STOP_PROGRAMME:
            reports = await self._media.stop(sid)
            aired = self._machines[sid].state in (SessionState.LIVE, SessionState.OVERRUN)
            # A session whose air time passed while we were down never aired: it is cancelled.
            self._move(sid, SessionState.ENDED if aired else SessionState.CANCELLED)
            return {"outputs": [r.destination_id for r in reports], "aired": aired}

        did = action.destination
        assert did is not None, f"{action.id}: a destination action without a destination"
        dest = self._destinations[did]
        platform = self._platforms[did]
        if kind == ActionKind.PREPARE_BROADCAST:
            prepared = await self._prepare_broadcast(action.id, sid, did)
            return {"platform_ids": prepared.platform_ids, "target": _masked(prepared.primary)}
        if kind == ActionKind.ATTACH_OUTPUT:
            prepare_id = action_id(ActionKind.PREPARE_BROADCAST, sid, did)
            restored = self.snapshot().results.get(prepare_id)
            if (sid, did) not in self._prepared and restored is not None and restored.from_journal:
                # Restarted after the preparation: ask again (adapters are idempotent on the id) for the ingest.
                await self._prepare_broadcast(prepare_id, sid, did)
            if (sid, did) not in self._prepared:
                raise RuntimeError(f"destination '{did}' was not prepared for session '{sid}': nothing to push to")
            await self._attach(sid, did)
            return None
        if kind == ActionKind.GO_LIVE:
            await platform.go_live(action.id, session, dest)
            return None
        if kind == ActionKind.END_BROADCAST:
            report = None
            if (sid, did) in self._prepared:
                report = await self._media.detach_output(sid, did)
                self.bus.publish(
                    OutputDetached(sid, did, self.clock.now(), report.frames, report.bytes, tuple(report.errors))
                )
                if report.errors:  # e.g. a full disk, a lost ingest: said once more, where operators look
                    trouble = "; ".join(self.bus.secrets.redact(e) for e in report.errors[:3])
                    more = f" (and {len(report.errors) - 3} more)" if len(report.errors) > 3 else ""
                    self.bus.alert("warning", f"output {sid}/{did} had trouble: {trouble}{more}", session=sid,
                                   destination=did)  # fmt: skip
            await platform.end(action.id, session, dest)
            return {"frames": report.frames, "bytes": report.bytes, "errors": report.errors} if report else None
        raise ValueError(f"{action.id}: no action of kind {kind}")

    # ------------------------------------------------------------------ live edits

    def check_reload(self, new_plan: Plan, schedule: Schedule | None = None) -> ReloadResult:
        """What `reload` would do, without doing it: the diff, and why it would be refused."""
        diff = diff_plans(self.plan, new_plan)
        return ReloadResult(diff, applied=False, refused=tuple(self._refusals(diff, schedule)))

    async def reload(self, new_plan: Plan, schedule: Schedule | None = None) -> ReloadResult:
        """Replace the plan being run by an edited one, all or nothing, never disturbing what is on
        air: an action that has begun (or finished) must stay as it is, a session on stand-by or on
        air cannot be removed, and a destination the run was not wired for cannot appear. Within
        those rules, added actions are scheduled (or, if already due, handled as missed), removed
        ones unscheduled, changed ones rescheduled. The control API and `summit reload` call this."""
        async with self._reload_lock:
            result = self.check_reload(new_plan, schedule)
            if result.refused:
                log.warning("plan_reload_refused", reasons=list(result.refused))
                return result
            if result.diff.empty:
                log.info("plan_reload_unchanged")
                return ReloadResult(result.diff, applied=True)
            self._apply_reload(result.diff, new_plan, schedule)
            lines = result.diff.lines()
            log.info("plan_reloaded", added=len(result.diff.added), removed=len(result.diff.removed),
                     changed=len(result.diff.changed), diff=lines)  # fmt: skip
            self.bus.alert("info", f"plan reloaded: {len(lines)} change(s)")
            return ReloadResult(result.diff, applied=True)

    def _refusals(self, diff: PlanDiff, schedule: Schedule | None) -> list[str]:
        out: list[str] = ["the run is over: nothing is left to change"] if self._over and not diff.empty else []
        touched = [c.old for c in diff.changed] + list(diff.removed)
        for action in touched:
            if action.id in self._begun or self._journal.done(action.id):
                out.append(f"{action.id} has already run or is running: it cannot change")
        for sid in diff.sessions_removed:
            machine = self._machines.get(sid)
            if machine is not None and machine.state in _ON_AIR:
                out.append(f"session '{sid}' is {machine.state.value}: it cannot be removed while its media runs")
        for did in sorted({a.destination for a in diff.added if a.destination is not None} - set(self._platforms)):
            out.append(f"destination '{did}' was not wired when the run started: restart `summit run` to add it")
        if schedule is not None and schedule.event.id != self.schedule.event.id:
            out.append(f"the edited schedule is for event '{schedule.event.id}', the run is '{self.schedule.event.id}'")
        return list(dict.fromkeys(out))

    def _apply_reload(self, diff: PlanDiff, new_plan: Plan, schedule: Schedule | None) -> None:
        """Apply a diff `_refusals` accepted; synchronous, so no job runs half-way through it."""
        scheduler = self._scheduler
        running = scheduler is not None and self._all_done is not None
        for action in diff.removed:
            if running and scheduler is not None and scheduler.get_job(action.id) is not None:
                scheduler.remove_job(action.id)
            self._finished.pop(action.id, None)
        if schedule is not None:
            self.schedule = schedule
        self.plan = new_plan
        for sid in diff.sessions_added:
            self._machines.setdefault(sid, SessionMachine(sid))
        # The view keeps its results and learns the new plan (and so does every other observer).
        self.bus.publish(RunStarted(self.schedule.event.id, new_plan, dict(self._destinations), self.clock.now()))
        if not running:
            return  # run() schedules the whole new plan when it starts
        now_wall = self.clock.to_wall(self.clock.now())
        missed: list[Action] = []
        for action in [c.new for c in diff.changed] + list(diff.added):
            self._finished.setdefault(action.id, asyncio.Event())
            if self.due_wall(action) < now_wall - 0.25:
                missed.append(action)
            else:
                self._schedule_job(action)
        for action in self._missed(missed):
            self._spawn(self._execute(action))
        self._check_all_done()

    # ------------------------------------------------------------------ receipts

    def _cue_receipt(self, applied: CueApplied) -> None:
        """From the media's thread: a cue took effect. Journalled and published on the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._record_cue, applied)

    def _record_cue(self, applied: CueApplied) -> None:
        """The frame a cue really took effect on is its execution: journal that, tell observers."""
        action = next((a for a in self.plan.actions if a.id == applied.cue_id), None)
        if action is None:
            return
        if applied.cue_id in self._rearmed:
            # Taken again after a restart: the as-run keeps the frame it first took effect on.
            self._rearmed.discard(applied.cue_id)
            log.info("cue_resumed_on_frame", action=applied.cue_id, frame_index=applied.frame_index)
            return
        err_ms = (applied.applied_wall - self.clock.to_wall(applied.scheduled)) * 1000
        detail: dict[str, Any] = {"frame_index": applied.frame_index, "applied": "on_frame"}
        if applied.fallback:
            detail["fallback"] = applied.fallback
        self._journal_action(action, "ok", applied.applied, err_ms, detail)
        self.bus.publish(
            CueTaken(
                applied.cue_id,
                applied.session_id,
                applied.scheduled,
                applied.applied,
                err_ms,
                applied.frame_index,
                applied.fallback,
            )
        )

    # ------------------------------------------------------------------ operator hooks
    # Called by orchestrator.engine.control (which validates, journals and announces the command);
    # each works on the scheduler's jobs and the plan, never on a job that is running.

    @property
    def running(self) -> bool:
        """The run has started and not finished (commands make sense only then)."""
        return (
            self._scheduler is not None
            and self._scheduler.running
            and not (self._all_done is not None and self._all_done.is_set())
        )

    def session_state(self, sid: str) -> SessionState:
        machine = self._machines.get(sid)
        if machine is None:
            raise KeyError(sid)
        return machine.state

    def is_done(self, action_id_: str) -> bool:
        event = self._finished.get(action_id_)
        return event is not None and event.is_set()

    def pending_job(self, action_id_: str) -> bool:
        """The action still waits for its time in the scheduler (not run, not paused by a hold)."""
        if self._scheduler is None or not self._scheduler.running:
            return False
        job = self._scheduler.get_job(action_id_)
        return job is not None and job.next_run_time is not None

    def pause_actions(self, ids: list[str]) -> list[str]:
        """Hold these actions' jobs (they keep their time); returns the ids paused."""
        assert self._scheduler is not None, "the run has not started"
        paused = [i for i in ids if self.pending_job(i)]
        for the_id in paused:
            self._scheduler.pause_job(the_id)
        log.info("runner_actions_paused", actions=paused)
        return paused

    def release_actions(self, ids: list[str]) -> None:
        """Let held jobs run again: at their time, or at once when it passed while they were held."""
        assert self._scheduler is not None, "the run has not started"
        for the_id in ids:
            if self._scheduler.get_job(the_id) is not None:
                self._scheduler.resume_job(the_id)
        log.info("runner_actions_released", actions=ids)

    def skip_action(self, action_id_: str, why: str) -> None:
        """Take an action out of the plan's run: its job goes, it is journalled as skipped."""
        if self._scheduler is not None and self._scheduler.get_job(action_id_) is not None:
            self._scheduler.remove_job(action_id_)
        self._skip(self.plan.action(action_id_), why)

    def run_now(self, action_id_: str) -> None:
        """Run a pending action at once (e.g. a cancelled session's end actions)."""
        if self._scheduler is not None and self._scheduler.get_job(action_id_) is not None:
            self._scheduler.remove_job(action_id_)
        self._spawn(self._execute(self.plan.action(action_id_)))

    def replace_plan(self, new_plan: Plan, moved: list[Action], reason: str) -> None:
        """Swap in a changed plan (same action ids); the jobs of `moved` actions take their new time."""
        self.plan = new_plan
        for action in moved:
            if self._scheduler is None or self._scheduler.get_job(action.id) is None:
                continue
            paused = self._scheduler.get_job(action.id).next_run_time is None
            self._scheduler.modify_job(action.id, args=(action,))
            self._scheduler.reschedule_job(
                action.id, trigger=DateTrigger(run_date=datetime.fromtimestamp(self.due_wall(action), UTC))
            )
            if paused:  # rescheduling wakes a job up: a held one stays held
                self._scheduler.pause_job(action.id)
        self.bus.publish(PlanChanged(new_plan, self.clock.now(), reason))

    def attached(self, sid: str, did: str) -> bool:
        """The destination takes the session's programme now (attached, not ended)."""
        return (
            (sid, did) in self._prepared
            and self._journal.done(action_id(ActionKind.ATTACH_OUTPUT, sid, did))
            and not self.is_done(action_id(ActionKind.END_BROADCAST, sid, did))
        )

    def mark_overrun(self, sid: str) -> bool:
        """The session is still on air past its planned end (an operator holds it)."""
        if self._machines[sid].state != SessionState.LIVE:
            return False
        self._move(sid, SessionState.OVERRUN)
        return True

    async def restart_output(self, sid: str, did: str) -> OutputReport:
        """Close one destination's output and open it again. Its ingest is asked again of the
        (idempotent) adapter: a platform hands back the same broadcast's, a file continues in a
        `.partN` recording rather than starting the first one over."""
        report = await self._media.detach_output(sid, did)
        self.bus.publish(OutputDetached(sid, did, self.clock.now(), report.frames, report.bytes, tuple(report.errors)))
        await self._prepare_broadcast(action_id(ActionKind.PREPARE_BROADCAST, sid, did), sid, did)
        await self._attach(sid, did)
        return report


def _masked(target: IngestTarget) -> str:
    return mask_ingest(target.url, target.key.get_secret_value() if target.key is not None else None)
