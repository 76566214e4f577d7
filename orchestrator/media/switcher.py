"""Armed cues, waiting for their frame.

Cues arrive ahead of time from the runner's thread and are taken by the pipeline's thread on the
first frame whose event time reaches them; nothing here reads a clock."""

from __future__ import annotations

import threading
from datetime import datetime

from orchestrator.planning.cues import Cue


class CueQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, Cue] = {}
        self._taken: set[str] = set()

    def arm(self, cue: Cue) -> bool:
        """Add a cue, or replace the armed cue with the same id. A cue already taken is ignored
        (arming is idempotent: a retry or a re-plan must not replay a cut)."""
        with self._lock:
            if cue.id in self._taken:
                return False
            self._armed[cue.id] = cue
            return True

    def due(self, event_time: datetime) -> list[Cue]:
        """Take every armed cue whose time has come, oldest first."""
        with self._lock:
            ready = sorted((c for c in self._armed.values() if c.at <= event_time), key=lambda c: (c.at, c.id))
            for cue in ready:
                del self._armed[cue.id]
                self._taken.add(cue.id)
            return ready

    def upcoming(self, until: datetime) -> list[Cue]:
        """Armed cues due at or before `until`, without taking them."""
        with self._lock:
            return sorted((c for c in self._armed.values() if c.at <= until), key=lambda c: (c.at, c.id))

    def __len__(self) -> int:
        with self._lock:
            return len(self._armed)
