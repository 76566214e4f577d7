"""Live edits: the difference between the plan being run and the plan of an edited schedule.

Actions are compared by their stable id (`planning.actions.action_id`): an id only in the new plan
is added, one only in the old plan removed, one in both with another time, order, label or cue is
changed. The runner (`Runner.reload`) decides what of it may be applied without disturbing what is
on air; this module only says what differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.planning.actions import Action
from orchestrator.planning.plan import Plan


@dataclass(frozen=True)
class ActionChange:
    old: Action
    new: Action

    def what(self) -> list[str]:
        """What changed, in words a producer reads: `at 10:00:00 → 10:05:00`, `cue`, …"""
        out: list[str] = []
        if self.old.at != self.new.at:
            out.append(f"at {self.old.at:%Y-%m-%d %H:%M:%S} → {self.new.at:%Y-%m-%d %H:%M:%S}Z")
        if self.old.after != self.new.after:
            out.append("dependencies")
        if self.old.label != self.new.label:
            out.append(f"label {self.old.label!r} → {self.new.label!r}")
        if self.old.cue != self.new.cue:
            out.append("cue content")
        return out


@dataclass(frozen=True)
class PlanDiff:
    added: tuple[Action, ...] = ()
    removed: tuple[Action, ...] = ()
    changed: tuple[ActionChange, ...] = ()
    sessions_added: tuple[str, ...] = ()
    sessions_removed: tuple[str, ...] = ()
    unchanged: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        """The diff as text, one line per action: `+ id  at  label`, `- id`, `~ id: what`."""
        out = [f"+ session {s}" for s in self.sessions_added] + [f"- session {s}" for s in self.sessions_removed]
        out += [f"+ {a.id}  {a.at:%Y-%m-%d %H:%M:%S}Z  {a.label}" for a in self.added]
        out += [f"- {a.id}  {a.at:%Y-%m-%d %H:%M:%S}Z  {a.label}" for a in self.removed]
        out += [f"~ {c.new.id}: {', '.join(c.what())}" for c in self.changed]
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "added": [a.to_json() for a in self.added],
            "removed": [a.to_json() for a in self.removed],
            "changed": [
                {"id": c.new.id, "what": c.what(), "old": c.old.to_json(), "new": c.new.to_json()} for c in self.changed
            ],
            "sessions_added": list(self.sessions_added),
            "sessions_removed": list(self.sessions_removed),
            "unchanged": self.unchanged,
        }


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    before = {a.id: a for a in old.actions}
    after = {a.id: a for a in new.actions}
    old_sessions = {a.session for a in old.actions}
    new_sessions = {a.session for a in new.actions}
    changed = tuple(ActionChange(before[i], a) for i, a in after.items() if i in before and before[i] != a)
    return PlanDiff(
        added=tuple(a for i, a in after.items() if i not in before),
        removed=tuple(a for i, a in before.items() if i not in after),
        changed=changed,
        sessions_added=tuple(sorted(new_sessions - old_sessions)),
        sessions_removed=tuple(sorted(old_sessions - new_sessions)),
        unchanged=sum(1 for i, a in after.items() if i in before and before[i] == a),
    )
