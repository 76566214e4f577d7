"""Properties of live edits (Hypothesis): the plan diff accounts for every action, and a reload
is refused exactly when it would touch an action that has begun."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.clock import SystemClock
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.reload import diff_plans
from orchestrator.engine.runner import Runner
from orchestrator.planning.plan import Plan, plan
from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.schedule.model import Schedule
from tests.engine.doubles import RecordingMediaPlane, RecordingPlatform

BASE = {
    "event": {"id": "props", "name": {"en": "Props"}, "timezone": "UTC"},
    "destinations": [
        {"id": "rec-en", "kind": "file", "language": "en"},
        {"id": "rec-b", "kind": "file", "language": "en"},
    ],
}

segment = st.integers(min_value=1, max_value=20).map(lambda m: {"kind": "slate", "text": "S", "duration": f"{m}m"})
session_spec = st.tuples(
    st.lists(segment, min_size=1, max_size=5),
    st.integers(min_value=0, max_value=30),  # minutes of slack after the rundown
    st.sampled_from([["rec-en"], ["rec-b"], ["rec-en", "rec-b"]]),
)
event_spec = st.lists(session_spec, min_size=1, max_size=4)


def _event(spec: list[tuple[list[dict[str, str]], int, list[str]]], drop: int | None = None) -> Schedule:
    sessions, start = [], 0
    for i, (rundown, slack, outputs) in enumerate(spec):
        length = sum(int(s["duration"][:-1]) for s in rundown) + slack
        if i != drop:
            sessions.append({
                "id": f"s{i}", "title": {"en": f"S{i}"}, "floor_language": "en", "outputs": outputs, "rundown": rundown,
                "start": f"2026-06-03T{8 + start // 60:02d}:{start % 60:02d}:00+00:00",
                "end": f"2026-06-03T{8 + (start + length) // 60:02d}:{(start + length) % 60:02d}:00+00:00",
            })  # fmt: skip
        start += length + 15
    return parse_schedule_text(yaml.safe_dump({**BASE, "sessions": sessions}), "props.yaml")


def _plan(spec: list[tuple[list[dict[str, str]], int, list[str]]], drop: int | None = None) -> Plan:
    return plan(_event(spec, drop))


@given(event_spec, event_spec, st.booleans())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_diff_accounts_for_every_action(old_spec, new_spec, drop_one) -> None:  # type: ignore[no-untyped-def]
    old = _plan(old_spec)
    new = _plan(new_spec, drop=0 if drop_one and len(new_spec) > 1 else None)
    diff = diff_plans(old, new)
    old_ids, new_ids = {a.id for a in old.actions}, {a.id for a in new.actions}
    assert {a.id for a in diff.added} == new_ids - old_ids
    assert {a.id for a in diff.removed} == old_ids - new_ids
    assert {c.new.id for c in diff.changed} <= old_ids & new_ids
    assert len(diff.added) + len(diff.changed) + diff.unchanged == len(new.actions)
    assert all(c.what() for c in diff.changed)  # a change always says what changed
    assert diff_plans(new, new).empty
    assert len(diff.lines()) == len(diff.added) + len(diff.removed) + len(diff.changed) + len(
        diff.sessions_added
    ) + len(diff.sessions_removed)


@given(event_spec, event_spec, st.data())
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_refused_exactly_when_a_begun_action_would_change(old_spec, new_spec, data) -> None:  # type: ignore[no-untyped-def]
    schedule = _event(old_spec)
    old, new = plan(schedule), _plan(new_spec)
    clock = SystemClock()
    platforms = {"rec-en": RecordingPlatform(), "rec-b": RecordingPlatform()}
    runner = Runner(schedule, old, clock=clock, media=RecordingMediaPlane(clock), platforms=platforms,
                    journal=SqliteJournal(":memory:"))  # fmt: skip
    begun = data.draw(st.sets(st.sampled_from([a.id for a in old.actions])))
    runner._begun |= begun
    result = runner.check_reload(new)
    touched = {c.old.id for c in result.diff.changed} | {a.id for a in result.diff.removed}
    assert bool(result.refused) == bool(touched & begun)
    assert all(any(i in r for r in result.refused) for i in touched & begun)
