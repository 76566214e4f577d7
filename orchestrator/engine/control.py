"""The operators' commands: take over the run at any moment, one module for the page and for automation.

Every command is checked against the run as it stands (a `ControlError` with an HTTP-like status
when it does not fit: 404 for what does not exist, 409 for what the state does not allow, 422 for
arguments that make no sense), then applied to the runner or the media plane, then journalled
(`record_override`) and announced (`OverrideApplied` on the bus, so every page sees it on its next
push) before the caller hears back. A refused command is journalled too, as `refused`: the as-run
log says who tried what.

    take       a source now: a segment of the session's rundown, the stand-by slate or a named slate
    hold       the session's automatic changeovers stop (cues, going on and off air); the programme stays
    resume     they start again; what fell due while held runs now (of the cues, only the latest)
    extend     the session on air ends later (or earlier, with negative seconds); its later actions move too
    skip       the session's next segment is not taken
    fallback   the live source on air is replaced by its backup at the matching offset, else its slate
    route      a language programme carries the floor, a booth, or what the schedule says ("auto")
    restart    one destination's output is closed and opened again on the same ingest
    cancel     a session that is not yet on air will not be
    acknowledge  an alert, by its number (who acknowledged is kept)
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

import structlog

from orchestrator.clock import Clock
from orchestrator.engine.events import AlertRaised, EventBus, FallbackChanged, OverrideApplied
from orchestrator.engine.journal import ActionRecord, AlertRecord, OverrideRecord
from orchestrator.engine.ports import LanguageRouter, OperatorMedia
from orchestrator.engine.runner import Runner
from orchestrator.planning.actions import Action, ActionKind, action_id
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, Slate, VideoKind, VideoSource
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionState
from orchestrator.redaction import mask_text

log = structlog.get_logger(__name__)

PROGRAMME_STATES = (SessionState.STANDBY, SessionState.LIVE, SessionState.OVERRUN)  # a programme is running
ON_AIR_STATES = (SessionState.LIVE, SessionState.OVERRUN)
BEFORE_AIR_STATES = (SessionState.SCHEDULED, SessionState.PREPARING, SessionState.STANDBY)
# What a hold stops: every automatic changeover of the session, not its preparation. A
# destination's go-live is not held itself: it waits for the session's on-air (the plan says so),
# and once the session is on air its platforms must follow.
_HELD_KINDS = (
    ActionKind.ON_AIR,
    ActionKind.CUE,
    ActionKind.END_BROADCAST,
    ActionKind.STOP_PROGRAMME,
)
FLOOR = AudioSource(AudioKind.FLOOR)
SOURCES = ("segment", "standby", "slate")


class ControlError(Exception):
    """A command that does not fit; `status` is what the HTTP API answers (404, 409, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class OverrideJournal(Protocol):
    def record_override(
        self,
        *,
        who: str,
        command: str,
        args: Mapping[str, Any],
        at: str,
        outcome: str,
        session: str | None = None,
        detail: str | None = None,
    ) -> int: ...


@dataclass(frozen=True)
class Outcome:
    """What a command did: its journal number and a sentence for the operator."""

    seq: int
    command: str
    session: str | None
    detail: str
    at: datetime


@dataclass
class _Hold:
    paused: list[str] = field(default_factory=list)  # jobs paused in the scheduler
    withdrawn: list[Action] = field(default_factory=list)  # cues taken back from the programme
    watch: asyncio.TimerHandle | None = None  # until the planned end passes (an overrun)

    def close(self) -> None:
        if self.watch is not None:
            self.watch.cancel()


class Control:
    def __init__(
        self, runner: Runner, media: OperatorMedia, journal: OverrideJournal, bus: EventBus, clock: Clock
    ) -> None:
        self.runner = runner
        self.media = media
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self._holds: dict[str, _Hold] = {}
        self._acknowledged: dict[int, str] = {}  # alert number → who
        self._journalled: tuple[list[OverrideRecord], list[AlertRecord]] = ([], [])  # what `restore` took up
        self._replayed: list[str] = []  # what of it lasts, in words

    # ------------------------------------------------------------------ the commands

    async def take(
        self,
        who: str,
        session: str,
        source: str,
        segment: str | None = None,
        title: str | None = None,
        subtitle: str = "",
        note: str = "",
    ) -> Outcome:
        args = {"source": source, "segment": segment, "title": title, "subtitle": subtitle, "note": note}
        args = {k: v for k, v in args.items() if v not in (None, "")}
        with self._guard(who, "take", session, args):
            sheet = self._programme(session, "take a source")
            cue, what = _take_cue(sheet, f"{session}/take/{uuid.uuid4().hex[:8]}", self.clock.now(), args)
            self.media.arm(session, cue)
            return self._done(who, "take", session, args, f"took {what}")

    async def hold(self, who: str, session: str) -> Outcome:
        with self._guard(who, "hold", session, {}):
            self._programme(session, "hold")
            if session in self._holds:
                raise ControlError(409, f"session '{session}' is already held")
            hold = _Hold()
            pending = [a for a in self._pending(session) if a.kind in _HELD_KINDS]
            hold.paused = self.runner.pause_actions([a.id for a in pending])
            for cue in self._armed_cues(session):
                if self.media.withdraw(session, cue.id):
                    hold.withdrawn.append(cue)
            self._holds[session] = hold
            self._watch_overrun(session)
            held = len(hold.paused) + len(hold.withdrawn)
            return self._done(who, "hold", session, {}, f"held {held} automatic actions; the programme stays")

    async def resume(self, who: str, session: str) -> Outcome:
        with self._guard(who, "resume", session, {}):
            self._session(session)
            hold = self._holds.pop(session, None)
            if hold is None:
                raise ControlError(409, f"session '{session}' is not held: nothing to resume")
            hold.close()
            now = self.clock.now()
            plan = self.runner.plan
            paused = [plan.action(i) for i in hold.paused if not self.runner.is_done(i)]
            cues = sorted([a for a in paused if a.kind == ActionKind.CUE] + hold.withdrawn, key=Action.sort_key)
            stale = [c for c in cues if c.at <= now][:-1]  # fell due while held: only the latest is shown
            stale_ids = {c.id for c in stale}
            for cue in stale:
                self.runner.skip_action(cue.id, f"passed while held by {who}")
            for cue in hold.withdrawn:
                fresh = plan.action(cue.id).cue  # the plan's own, moved if the session was extended
                if cue.id not in stale_ids and fresh is not None:
                    self.media.arm(session, fresh)
            self.runner.release_actions([a.id for a in paused if a.id not in stale_ids])
            skipped = len(stale)
            detail = "automatic changeovers run again" + (f"; {skipped} cues passed while held" if skipped else "")
            return self._done(who, "resume", session, {}, detail)

    async def extend(self, who: str, session: str, seconds: float) -> Outcome:
        command = "extend" if seconds >= 0 else "shorten"
        args = {"seconds": seconds}
        with self._guard(who, command, session, args):
            state = self._session(session)
            if state not in ON_AIR_STATES:
                raise ControlError(409, f"session '{session}' is {state.value}: only a session on air is extended")
            if seconds == 0:
                raise ControlError(422, f"{command}: seconds must not be 0")
            now = self.clock.now()
            delta = timedelta(seconds=seconds)
            plan = self.runner.plan
            sheet = plan.cue_sheets[session]
            taken = self._taken(session)
            moving = [a for a in plan.for_session(session) if a.at > now and not self._finished_for_good(a, taken)]
            if not moving:
                raise ControlError(409, f"session '{session}' has nothing left to move (its end has passed)")
            new_end = sheet.end + delta
            if new_end <= now:
                raise ControlError(409, f"session '{session}': shortening by {-seconds:g} s would end it in the past")
            early = [a for a in moving if a.at + delta <= now]
            if early:
                raise ControlError(
                    409,
                    f"session '{session}': shortening by {-seconds:g} s moves {early[0].id} into the past; skip it first",
                )
            new_plan, moved = _extended(plan, session, moving, delta)
            self.runner.replace_plan(new_plan, list(moved.values()), f"{command} {session} by {abs(seconds):g} s")
            hold = self._holds.get(session)
            withdrawn = {c.id for c in hold.withdrawn} if hold is not None else set()
            for a in moved.values():  # a cue already handed to the programme is handed again, at its new time
                if (
                    a.kind == ActionKind.CUE
                    and a.cue is not None
                    and self.runner.is_done(a.id)
                    and a.id not in withdrawn
                ):
                    self.media.arm(session, a.cue)
            if hold is not None:
                hold.withdrawn = [moved.get(c.id, c) for c in hold.withdrawn]
                hold.close()
                self._watch_overrun(session)  # the end it waits for moved
            end = new_end.astimezone(self.runner.schedule.event.tz).strftime("%H:%M:%S")
            return self._done(who, command, session, args, f"ends at {end} now; {len(moved)} actions moved")

    async def skip(self, who: str, session: str) -> Outcome:
        with self._guard(who, "skip", session, {}):
            self._programme(session, "skip a segment")
            taken = self._taken(session)
            upcoming = [
                a
                for a in self.runner.plan.for_session(session)
                if a.kind == ActionKind.CUE and a.id not in taken and not self._skipped(a.id)
            ]
            if not upcoming:
                raise ControlError(409, f"session '{session}' has no segment left to skip")
            nxt = min(upcoming, key=Action.sort_key)
            self.media.withdraw(session, nxt.id)
            hold = self._holds.get(session)
            if hold is not None:
                hold.paused = [i for i in hold.paused if i != nxt.id]
                hold.withdrawn = [c for c in hold.withdrawn if c.id != nxt.id]
            self.runner.skip_action(nxt.id, f"skipped by {who}")
            return self._done(who, "skip", session, {}, f"skipped {nxt.label or nxt.id}")

    async def fallback(self, who: str, session: str) -> Outcome:
        with self._guard(who, "fallback", session, {}):
            self._programme(session, "force a fallback")
            now = self.clock.now()
            current = self.media.current_cue(session)
            cue = self.media.fallback_cue(session, f"{session}/fallback/{uuid.uuid4().hex[:8]}", now)
            if cue is None or current is None:
                raise ControlError(409, f"session '{session}': no live source is on the programme to fall back from")
            self.media.arm(session, cue)
            shown = "backup" if cue.video.kind == VideoKind.CLIP else "slate"
            person = current.video.speaker_id or current.video.kind.value
            self.bus.publish(FallbackChanged(session, person, True, now, shown=shown, reason=f"forced by {who}"))
            return self._done(who, "fallback", session, {}, f"{person}: showing the {shown}")

    async def route(self, who: str, session: str, language: str, mode: str) -> Outcome:
        args = {"language": language, "mode": mode}
        with self._guard(who, "route", session, args):
            sheet = self._programme(session, "route a language")
            if language not in sheet.languages:
                raise ControlError(
                    422, f"session '{session}' has no language {language!r} (it has {', '.join(sheet.languages)})"
                )
            booths = sorted({s.booth_id for c in sheet.cues for s in c.audio.values() if s.booth_id})
            if mode not in ("auto", "floor", *booths):
                raise ControlError(
                    422,
                    f"route: mode must be auto, floor or a booth of session '{session}' ({', '.join(booths) or 'none'})",
                )
            if not isinstance(self.media, LanguageRouter):
                raise ControlError(409, "this media plane cannot switch a language programme's source")
            self.media.route(session, language, mode)
            return self._done(who, "route", session, args, f"{language} programme: {mode}")

    async def restart_output(self, who: str, session: str, destination: str) -> Outcome:
        args = {"destination": destination}
        with self._guard(who, "restart_output", session, args):
            self._session(session)
            if destination not in self.runner.schedule.session(session).outputs:
                raise ControlError(404, f"session '{session}' has no destination '{destination}'")
            if not self.runner.attached(session, destination):
                raise ControlError(409, f"destination '{destination}' is not taking session '{session}' now")
            report = await self.runner.restart_output(session, destination)
            return self._done(
                who, "restart_output", session, args, f"{destination} restarted after {report.frames} frames"
            )

    async def cancel(self, who: str, session: str) -> Outcome:
        with self._guard(who, "cancel", session, {}):
            state = self._session(session)
            if state not in BEFORE_AIR_STATES or self.runner.is_done(action_id(ActionKind.ON_AIR, session)):
                raise ControlError(
                    409, f"session '{session}' is {state.value}: only a session not yet on air is cancelled"
                )
            cancelled_hold = self._holds.pop(session, None)
            if cancelled_hold is not None:
                cancelled_hold.close()
            prepared = {did for (sid, did) in self.runner.snapshot().outputs if sid == session}
            closing: list[str] = []
            for a in self._pending(session, include_paused=True):
                ends = a.kind == ActionKind.STOP_PROGRAMME or (
                    a.kind == ActionKind.END_BROADCAST and a.destination in prepared
                )
                if ends:
                    closing.append(a.id)
                else:
                    self.runner.skip_action(a.id, f"cancelled by {who}")
            for the_id in closing:  # outputs and programme already opened are closed now
                self.runner.run_now(the_id)
            return self._done(who, "cancel", session, {}, f"cancelled; {len(closing)} closing actions run now")

    async def acknowledge(self, who: str, alert: int) -> Outcome:
        args = {"alert": alert}
        with self._guard(who, "acknowledge", None, args):
            alerts = self.runner.snapshot().alerts
            if not 1 <= alert <= len(alerts):
                raise ControlError(404, f"no alert number {alert} (there are {len(alerts)})")
            if alert in self._acknowledged:
                raise ControlError(409, f"alert {alert} was acknowledged by {self._acknowledged[alert]} already")
            self._acknowledged[alert] = who
            a = alerts[alert - 1]
            return self._done(who, "acknowledge", a.session, args, f"acknowledged: {a.message[:120]}")

    def relay(self, who: str, command: str, args: Mapping[str, Any], carry_out: Callable[[], str]) -> Outcome:
        """A command another part carries out (the participants' text channel): `carry_out` does it and
        says what it did, or raises `ControlError`; journalled and announced like every other command."""
        with self._guard(who, command, None, args):
            return self._done(who, command, None, args, carry_out())

    def held(self) -> frozenset[str]:
        return frozenset(self._holds)

    def _watch_overrun(self, session: str) -> None:
        """While held, the session's planned end passing makes it an overrun (the lamp says so)."""
        hold = self._holds.get(session)
        if hold is None:
            return
        end = self.runner.plan.cue_sheets[session].end
        left = self.clock.to_wall(end) - self.clock.to_wall(self.clock.now())
        if left > 0:
            hold.watch = asyncio.get_running_loop().call_later(left + 0.01, self._watch_overrun, session)
        elif self.runner.mark_overrun(session):
            log.warning("session_overrun", session=session, planned_end=end.isoformat())

    def next_cue(self, session: str) -> Cue | None:
        """The session's next segment to take the programme (the preview shows it)."""
        taken = self._taken(session)
        upcoming = [
            a
            for a in self.runner.plan.for_session(session)
            if a.kind == ActionKind.CUE and a.cue is not None and a.id not in taken and not self._skipped(a.id)
        ]
        return min(upcoming, key=Action.sort_key).cue if upcoming else None

    # ------------------------------------------------------------------ after a restart

    def restore(self, overrides: Sequence[OverrideRecord], alerts: Sequence[AlertRecord]) -> None:
        """A (re)started run takes up what the control room had done, from the journal: the alerts
        so far (their numbers stand) and who acknowledged them, the commands on the page's list,
        and the effect of those that last: a hold keeps its session held, a route keeps its
        language's source, a take stays on the programme until a segment is due after it. An
        extend moved the plan (`replayed_plan` gave the runner the moved one); a skip, a cancel and
        a restart are in the actions' journal already; a forced fallback is not taken again (the
        live speaker's connection died with the process: the automatic fallback covers them until
        they are back)."""
        self._journalled = ([o for o in overrides if o.outcome == "ok"], list(alerts))
        self.runner.add_hooks(self)

    def restoring(self) -> None:
        """Runner hook: the jobs are scheduled and paused, nothing resumed yet."""
        oks, alerts = self._journalled
        for a in alerts:
            self.bus.publish(AlertRaised(a.level, a.message, a.session, a.destination, _instant(a.at), restored=True))
        held: dict[str, OverrideRecord] = {}
        for o in oks:
            self.bus.publish(
                OverrideApplied(
                    o.seq, o.who, o.command, o.session, dict(o.args), _instant(o.at), o.detail or "", restored=True
                )
            )
            alert = o.args.get("alert")
            if o.command == "acknowledge" and isinstance(alert, int):
                self._acknowledged[alert] = o.who
            if o.session is not None and o.command == "hold":
                held[o.session] = o
            elif o.session is not None and o.command in ("resume", "cancel"):
                held.pop(o.session, None)
        for sid, o in held.items():
            if sid not in self.runner.plan.cue_sheets or self.runner.session_state(sid) not in PROGRAMME_STATES:
                continue
            hold = _Hold()
            hold.paused = self.runner.pause_actions([a.id for a in self._pending(sid) if a.kind in _HELD_KINDS])
            self._holds[sid] = hold
            self._replayed.append(f"hold on {sid} (by {o.who})")

    def restored(self) -> None:
        """Runner hook: the sessions under way are back; the scheduler starts right after."""
        oks, _ = self._journalled
        for sid, hold in self._holds.items():
            for cue in self._armed_cues(sid):  # handed to the programme again by the resume: held back
                if self.media.withdraw(sid, cue.id):
                    hold.withdrawn.append(cue)
            self._watch_overrun(sid)
        routes: dict[tuple[str, str], str] = {}
        takes: dict[str, OverrideRecord] = {}
        for o in oks:
            if o.session is None:
                continue
            if o.command == "route":
                routes[(o.session, str(o.args.get("language")))] = str(o.args.get("mode"))
            elif o.command in ("take", "fallback"):
                takes[o.session] = o
        for (sid, language), mode in routes.items():
            if not self._on_programme(sid) or not isinstance(self.media, LanguageRouter):
                continue
            try:
                self.media.route(sid, language, mode)
            except Exception as exc:  # a booth gone from an edited schedule: the schedule's routing stands
                log.warning("override_not_replayed", command="route", session=sid, error=str(exc))
                continue
            self._replayed.append(f"route {sid} {language} → {mode}")
        now = self.clock.now()
        for sid, o in takes.items():
            at = _instant(o.at)
            later = [
                a
                for a in self.runner.plan.for_session(sid)
                if a.kind == ActionKind.CUE
                and at < a.at <= now
                and not self._skipped(a.id)
                and a.id not in self._held_ids(sid)
            ]
            if o.command != "take" or later or not self._on_programme(sid):
                continue  # a segment came due after it, or a fallback (see `restore`)
            try:
                taken, what = _take_cue(self.runner.plan.cue_sheets[sid], f"{sid}/take/r{o.seq}", at, o.args)
            except ControlError as exc:  # its segment is gone from an edited schedule
                log.warning("override_not_replayed", command="take", session=sid, error=exc.message)
                continue
            self.media.arm(sid, self.runner.cue_now(taken))
            self._replayed.append(f"{what} on {sid} (taken by {o.who})")
        if self._replayed:
            log.warning("overrides_replayed", overrides=self._replayed)
            self.bus.alert(
                "warning", "after the restart, kept as the operators left them: " + "; ".join(self._replayed)
            )

    def _on_programme(self, sid: str) -> bool:
        return sid in self.runner.plan.cue_sheets and self.runner.session_state(sid) in PROGRAMME_STATES

    def _held_ids(self, sid: str) -> set[str]:
        hold = self._holds.get(sid)
        return set(hold.paused) | {c.id for c in hold.withdrawn} if hold is not None else set()

    # ------------------------------------------------------------------ checks and records

    def _session(self, session: str) -> SessionState:
        try:
            state = self.runner.session_state(session)
        except KeyError:
            known = ", ".join(sorted(self.runner.plan.cue_sheets)) or "none"
            raise ControlError(404, f"no session '{session}' in this run (it runs: {known})") from None
        if not self.runner.running:
            raise ControlError(409, "the run is not under way (not started yet, or over): nothing to override")
        return state

    def _programme(self, session: str, what: str) -> CueSheet:
        state = self._session(session)
        if state not in PROGRAMME_STATES:
            raise ControlError(
                409, f"cannot {what}: session '{session}' is {state.value}, its programme is not running"
            )
        return self.runner.plan.cue_sheets[session]

    def _pending(self, session: str, include_paused: bool = False) -> list[Action]:
        """The session's actions not yet run (their job waits), in plan order."""
        held = set(self._holds[session].paused) if session in self._holds and include_paused else set()
        return [
            a
            for a in self.runner.plan.for_session(session)
            if not self.runner.is_done(a.id) and (self.runner.pending_job(a.id) or a.id in held)
        ]

    def _taken(self, session: str) -> set[str]:
        """Cues of the session that reached the programme (applied on a frame)."""
        results = self.runner.snapshot().results
        return {i for i, r in results.items() if r.action.session == session and r.detail.get("applied") == "on_frame"}

    def _skipped(self, the_id: str) -> bool:
        result = self.runner.snapshot().results.get(the_id)
        return result is not None and result.outcome == "skipped"

    def _finished_for_good(self, action: Action, taken: set[str]) -> bool:
        """Done and not to be redone: anything but a cue that is armed and not yet taken."""
        if not self.runner.is_done(action.id):
            return False
        return not (action.kind == ActionKind.CUE and action.id not in taken and not self._skipped(action.id))

    def _armed_cues(self, session: str) -> list[Action]:
        taken = self._taken(session)
        return [
            a
            for a in self.runner.plan.for_session(session)
            if a.kind == ActionKind.CUE and self.runner.is_done(a.id) and a.id not in taken and not self._skipped(a.id)
        ]

    def _guard(self, who: str, command: str, session: str | None, args: Mapping[str, Any]) -> _Guard:
        return _Guard(self, who, command, session, args)

    def _record(
        self, who: str, command: str, session: str | None, args: Mapping[str, Any], outcome: str, detail: str
    ) -> int:
        return self.journal.record_override(
            who=who,
            command=command,
            args=args,
            at=self.clock.now().isoformat(),
            outcome=outcome,
            session=session,
            detail=self.bus.secrets.redact(detail),
        )

    def _done(self, who: str, command: str, session: str | None, args: Mapping[str, Any], detail: str) -> Outcome:
        """Journal first, then tell every observer: the page sees it on its next push."""
        detail = self.bus.secrets.redact(detail)
        seq = self._record(who, command, session, args, "ok", detail)
        at = self.clock.now()
        self.bus.publish(OverrideApplied(seq, who, command, session, dict(args), at, detail))
        log.info("override_applied", who=who, command=command, session=session, detail=detail, seq=seq)
        return Outcome(seq, command, session, detail, at)


class _Guard:
    """Journals a refused or failed command (and logs it) on the way out of its `with` block."""

    def __init__(self, control: Control, who: str, command: str, session: str | None, args: Mapping[str, Any]):
        self.c, self.who, self.command, self.session, self.args = control, who, command, session, args

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        if isinstance(exc, ControlError):
            self.c._record(self.who, self.command, self.session, self.args, "refused", exc.message)
            log.info("override_refused", who=self.who, command=self.command, session=self.session, why=exc.message)
            return
        if isinstance(exc, Exception):
            message = self.c.bus.secrets.redact(str(exc) or type(exc).__name__)
            self.c._record(self.who, self.command, self.session, self.args, "failed", message)
            log.error("override_failed", who=self.who, command=self.command, session=self.session, error=message)
            raise ControlError(409, f"{self.command} on session '{self.session}' failed: {message}") from None


def _slate_cue(cue_id: str, at: datetime, slate: Slate, sheet: CueSheet, label: str) -> Cue:
    return Cue(
        cue_id,
        at,
        segment_id="override",
        label=label,
        video=VideoSource(VideoKind.SLATE, slate=slate),
        audio={lang: FLOOR for lang in sheet.languages},
    )


def _take_cue(sheet: CueSheet, cue_id: str, at: datetime, args: Mapping[str, Any]) -> tuple[Cue, str]:
    """The cue a `take` puts on the programme at `at`, and what it is in words."""
    source, segment, title = args.get("source"), args.get("segment"), args.get("title")
    if source == "segment":
        if not segment:
            raise ControlError(422, "take: source 'segment' needs the segment's id")
        wanted = next((c for c in sheet.cues if c.segment_id == segment), None)
        if wanted is None:
            known = ", ".join(c.segment_id for c in sheet.cues) or "none"
            raise ControlError(404, f"session '{sheet.session_id}' has no segment '{segment}' (it has: {known})")
        return replace(wanted, id=cue_id, at=at, fade_s=0.0), f"segment {segment} ({wanted.label})"
    if source == "standby":
        return _slate_cue(cue_id, at, sheet.standby, sheet, "stand-by slate"), "the stand-by slate"
    if source == "slate":
        if not isinstance(title, str) or not title.strip():
            raise ControlError(422, "take: a named slate needs a title")
        slate = Slate(title.strip(), str(args.get("subtitle", "")), str(args.get("note", "")))
        return _slate_cue(cue_id, at, slate, sheet, f"slate {title.strip()}"), f"the slate '{title.strip()}'"
    raise ControlError(422, f"take: source must be one of {', '.join(SOURCES)}, not {source!r}")


def _extended(plan: Plan, session: str, moving: list[Action], delta: timedelta) -> tuple[Plan, dict[str, Action]]:
    """`plan` with the session ending `delta` later and its `moving` actions `delta` later."""
    sheet = plan.cue_sheets[session]
    moved = {a.id: _moved(a, delta) for a in moving}
    new_sheet = replace(
        sheet,
        end=sheet.end + delta,
        cues=tuple(moved[c.id].cue or c if c.id in moved else c for c in sheet.cues),
    )
    return Plan(tuple(moved.get(a.id, a) for a in plan.actions), {**plan.cue_sheets, session: new_sheet}), moved


def replayed_plan(plan: Plan, overrides: Sequence[OverrideRecord], actions: Sequence[ActionRecord]) -> Plan:
    """The plan as the operators left it before a restart: every extend and shorten the journal has
    as done applied again, in order, to what was still to come when it was given (the actions after
    its moment, less any that had already run early)."""
    ran_at = {r.id: _instant(r.executed) for r in actions if r.executed and r.kind != ActionKind.CUE.value}
    for o in overrides:
        if o.outcome != "ok" or o.command not in ("extend", "shorten") or o.session not in plan.cue_sheets:
            continue
        seconds = o.args.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            log.warning("override_not_replayed", seq=o.seq, command=o.command, why="no seconds in its arguments")
            continue
        at = _instant(o.at)
        moving = [a for a in plan.for_session(o.session) if a.at > at and not (a.id in ran_at and ran_at[a.id] < at)]
        if moving:
            plan, _ = _extended(plan, o.session, moving, timedelta(seconds=seconds))
    return plan


def _moved(action: Action, delta: timedelta) -> Action:
    cue = replace(action.cue, at=action.cue.at + delta) if action.cue is not None else None
    return replace(action, at=action.at + delta, cue=cue)


# ---------------------------------------------------------------------- the as-run log

AS_RUN_FIELDS = (
    "at",
    "who",
    "what",
    "id",
    "session",
    "destination",
    "scheduled",
    "executed",
    "outcome",
    "late_ms",
    "detail",
)


@dataclass(frozen=True)
class AsRunRow:
    """One line of the as-run log: an automatic action, an operator's command or an alert."""

    at: str  # when it was done (or, for what never ran, when it was due)
    who: str  # "automatic", "system" (an alert) or the operator's name
    what: str  # the action kind, the command, or alert:<level>
    id: str
    session: str | None
    destination: str | None
    scheduled: str | None
    executed: str | None
    outcome: str
    late_ms: float | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in AS_RUN_FIELDS}


class AsRunSource(Protocol):
    def actions(self) -> list[ActionRecord]: ...

    def overrides(self) -> list[OverrideRecord]: ...

    def alerts(self) -> list[AlertRecord]: ...


def as_run(journal: AsRunSource, tz: tzinfo | None = None) -> list[AsRunRow]:
    """Everything the journal holds, in the order it happened, its times in `tz` (the event's time
    zone, so the log reads like the schedule; as journalled when None); every text masked once more."""
    rows = _as_run(journal)
    if tz is None:
        return rows

    def local(iso: str | None) -> str | None:
        return _instant(iso).astimezone(tz).isoformat(timespec="milliseconds") if iso else iso

    return [replace(r, at=local(r.at) or r.at, scheduled=local(r.scheduled), executed=local(r.executed)) for r in rows]


def _as_run(journal: AsRunSource) -> list[AsRunRow]:
    rows: list[AsRunRow] = []
    for a in journal.actions():
        bits = [f"{k}: {a.detail[k]}" for k in ("error", "why", "fallback") if a.detail.get(k)]
        rows.append(
            AsRunRow(
                a.executed or a.scheduled,
                "automatic",
                a.kind,
                a.id,
                a.session,
                a.destination,
                a.scheduled,
                a.executed,
                a.outcome,
                a.error_ms,
                mask_text("; ".join(bits)),
            )
        )
    for o in journal.overrides():
        args = ", ".join(f"{k}={v}" for k, v in o.args.items())
        detail = " — ".join(x for x in (args, o.detail or "") if x)
        rows.append(
            AsRunRow(
                o.at,
                o.who,
                o.command,
                f"override/{o.seq}",
                o.session,
                None,
                None,
                o.at,
                o.outcome,
                None,
                mask_text(detail),
            )
        )
    for al in journal.alerts():
        rows.append(
            AsRunRow(
                al.at,
                "system",
                f"alert:{al.level}",
                f"alert/{al.seq}",
                al.session,
                al.destination,
                None,
                al.at,
                al.level,
                None,
                mask_text(al.message),
            )
        )
    rows.sort(key=lambda r: _instant(r.at))
    return rows


def as_run_csv(rows: list[AsRunRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=AS_RUN_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.to_json().items()})
    return out.getvalue()


def _instant(iso: str) -> datetime:
    t = datetime.fromisoformat(iso)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
