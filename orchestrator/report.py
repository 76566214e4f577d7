"""The rehearsal report: a typed model of `report.json` (same keys as ever), built from the
journal, the run's snapshot and the recordings read back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from orchestrator.engine.events import AlertRaised, FallbackChanged, ParticipantChanged, RunEvent, RunFinished
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.view import RunSnapshot
from orchestrator.media.probe import probe
from orchestrator.outputs import Recordings
from orchestrator.schedule.model import Schedule


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionEntry(_Model):
    id: str
    kind: str
    session: str
    destination: str | None
    scheduled: str  # event time, ISO 8601
    executed: str | None
    error_ms: float | None  # how late it really ran, in wall milliseconds
    outcome: str  # ok | failed | skipped | not_run
    detail: dict[str, Any] | None = None  # only when there is one


class SessionEntry(_Model):
    id: str
    title: str
    scheduled_start: str
    scheduled_end: str
    on_air: str | None
    off_air: str | None
    state: str


class OutputEntry(_Model):
    destination: str
    session: str
    path: str | None
    duration_s: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    keyframe_interval_s: float | None = None
    error: str | None = None


class AlertEntry(_Model):
    level: str
    message: str
    session: str | None
    destination: str | None


class FallbackEntry(_Model):
    session: str
    at: str  # event time the fallback ended (or began, when it never ended)
    shown: str | None
    frames: int  # frames the fallback lasted
    reason: str | None
    ended: bool


class ParticipantEntry(_Model):
    person: str
    role: str
    joins: int
    drops: int
    on_air_s: float  # event seconds on air (the programme showed them, or they were the booth on duty)
    last_state: str
    device: str | None = None
    fallbacks: list[FallbackEntry] = []


class ParticipantTally:
    """Folds every `ParticipantChanged` of a run into joins, drops and time on air per person (the
    snapshot keeps only the latest); subscribe it to the system's bus."""

    _CONNECTED = frozenset({"connecting", "green_room", "on_air", "dropped"})

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, RunFinished):
            for row in self.rows.values():
                self._close_air(row, event.at)
            return
        if not isinstance(event, ParticipantChanged):
            return
        row = self.rows.setdefault(
            event.person,
            {"role": event.role, "joins": 0, "drops": 0, "on_air_s": 0.0, "state": "not_joined", "since": None},
        )
        before = row["state"]
        if event.state == before:
            return
        if event.state in ("connecting", "green_room", "on_air") and before not in self._CONNECTED:
            row["joins"] += 1
        if event.state == "dropped":
            row["drops"] += 1
        if before == "on_air":
            self._close_air(row, event.at)
        if event.state == "on_air":
            row["since"] = event.at
        row["state"] = event.state
        row["device"] = event.device or row.get("device")

    @staticmethod
    def _close_air(row: dict[str, Any], at: datetime) -> None:
        if row["since"] is not None:
            row["on_air_s"] += (at - row["since"]).total_seconds()
            row["since"] = None

    def entries(self, snapshot: RunSnapshot) -> list[ParticipantEntry]:
        out = []
        for person, row in self.rows.items():
            fallbacks = [
                FallbackEntry(
                    session=f.session,
                    at=f.at.isoformat(),
                    shown=f.shown,
                    frames=f.frames,
                    reason=f.reason,
                    ended=not f.active,
                )
                for f in snapshot.fallbacks
                if f.person == person and (not f.active or f is _last_of(snapshot, person, f.session))
            ]
            out.append(
                ParticipantEntry(
                    person=person,
                    role=row["role"],
                    joins=row["joins"],
                    drops=row["drops"],
                    on_air_s=round(row["on_air_s"], 1),
                    last_state=row["state"],
                    device=row.get("device"),
                    fallbacks=fallbacks,
                )
            )
        return out


def _last_of(snapshot: RunSnapshot, person: str, session: str) -> FallbackChanged | None:
    mine = [f for f in snapshot.fallbacks if f.person == person and f.session == session]
    return mine[-1] if mine else None


class Summary(_Model):
    actions: int
    ok: int
    failed: int
    skipped: int
    not_run: int
    max_error_ms: float | None
    mean_error_ms: float | None
    sessions: int
    outputs: int
    alerts: int


class RehearsalReport(_Model):
    event: str
    speed: float
    outputs_mode: str
    wall_seconds: float
    run_dir: str
    summary: Summary
    actions: list[ActionEntry]
    sessions: list[SessionEntry]
    outputs: list[OutputEntry]
    alerts: list[AlertEntry]
    participants: list[ParticipantEntry] = []  # only when people could join

    def to_json(self) -> dict[str, Any]:
        """The report as written: fields that were never set (an output's codecs before it was
        probed, an action's empty detail) are left out, as they always were."""
        return self.model_dump(mode="json", exclude_unset=True)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False))


def build_report(
    schedule: Schedule,
    snapshot: RunSnapshot,
    journal: SqliteJournal,
    recordings: Recordings,
    *,
    speed: float,
    mode: str,
    wall_s: float,
    run_dir: Path,
    participants: ParticipantTally | None = None,
) -> RehearsalReport:
    records = {r.id: r for r in journal.actions()}
    actions: list[ActionEntry] = []
    for a in snapshot.plan.actions:
        r = records.get(a.id)
        entry = ActionEntry(
            id=a.id,
            kind=a.kind.value,
            session=a.session,
            destination=a.destination,
            scheduled=a.at.isoformat(),
            executed=r.executed if r else None,
            error_ms=r.error_ms if r else None,
            outcome=r.outcome if r else "not_run",
        )
        if r and r.detail:
            entry.detail = r.detail
        actions.append(entry)
    states = journal.states()
    sessions = []
    for sid, sheet in snapshot.plan.cue_sheets.items():
        history = dict(states.get(sid, []))
        sessions.append(
            SessionEntry(
                id=sid,
                title=sheet.title,
                scheduled_start=sheet.start.isoformat(),
                scheduled_end=sheet.end.isoformat(),
                on_air=history.get("live"),
                off_air=history.get("ended"),
                state=snapshot.state(sid).value,
            )
        )
    outputs = [_output(sid, did, recordings.get((sid, did)), mode) for sid, did in sorted(snapshot.outputs)]
    errors = [a.error_ms for a in actions if a.error_ms is not None]
    alerts = [AlertEntry(**_alert(a)) for a in snapshot.alerts]
    report = RehearsalReport(
        event=schedule.event.id,
        speed=speed,
        outputs_mode=mode,
        wall_seconds=round(wall_s, 1),
        run_dir=str(run_dir),
        summary=Summary(
            actions=len(actions),
            ok=sum(a.outcome == "ok" for a in actions),
            failed=sum(a.outcome == "failed" for a in actions),
            skipped=sum(a.outcome == "skipped" for a in actions),
            not_run=sum(a.outcome == "not_run" for a in actions),
            max_error_ms=round(max(errors), 1) if errors else None,
            mean_error_ms=round(sum(errors) / len(errors), 1) if errors else None,
            sessions=len(sessions),
            outputs=len(outputs),
            alerts=len(alerts),
        ),
        actions=actions,
        sessions=sessions,
        outputs=outputs,
        alerts=alerts,
    )
    if participants is not None:
        report.participants = participants.entries(snapshot)
    return report


def _alert(a: AlertRaised) -> dict[str, Any]:
    return {"level": a.level, "message": a.message, "session": a.session, "destination": a.destination}


def _output(sid: str, did: str, path: str | None, mode: str) -> OutputEntry:
    # Codecs and duration are always in the report (None until read back); the picture's size and
    # keyframe interval only once a recording was probed.
    entry = OutputEntry(destination=did, session=sid, path=path, duration_s=None, video_codec=None, audio_codec=None)
    if path is None or mode == "rtmp":  # nothing arrived, or it went to the user's server
        if path is None:
            entry.error = "nothing was recorded for this output"
        return entry
    try:
        info = probe(path)
    except Exception as exc:  # a missing or broken recording is a finding, not a crash
        entry.error = str(exc)
        return entry
    entry.duration_s = info.get("duration_s")
    entry.video_codec = info.get("video_codec")
    entry.audio_codec = info.get("audio_codec")
    entry.width = info.get("width")
    entry.height = info.get("height")
    entry.keyframe_interval_s = info.get("keyframe_interval_s")
    return entry
