"""The engine's recording media double, grown the control room's operator hooks: armed cues can be
withdrawn before their time, the cue on the programme is known, and a live source has a fallback."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime

from orchestrator.clock import Clock
from orchestrator.engine.ports import CueApplied, Meter, OutputStats
from orchestrator.planning.cues import Cue, VideoKind, VideoSource
from tests.engine.doubles import RecordingMediaPlane


class OperatorMediaDouble(RecordingMediaPlane):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.armed: dict[str, asyncio.TimerHandle] = {}
        self.current: dict[str, Cue] = {}
        self.withdrawn: list[str] = []
        self.routes: list[tuple[str, str, str]] = []

    def arm(self, session_id: str, cue: Cue) -> None:
        self._note("arm", cue.id)
        old = self.armed.pop(cue.id, None)
        if old is not None:  # the same id again replaces it, like the programme's queue
            old.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.clock.to_wall(cue.at) - time.time())

        def apply() -> None:
            self.armed.pop(cue.id, None)
            self.current[session_id] = cue
            wall = time.time()
            applied = CueApplied(cue.id, session_id, cue.at, self.clock.to_event(wall), wall, 0)
            self._applied.append(applied)
            for listener in self._listeners:
                listener(applied)

        self.armed[cue.id] = loop.call_later(delay, apply)

    def withdraw(self, session_id: str, cue_id: str) -> bool:
        handle = self.armed.pop(cue_id, None)
        if handle is None:
            return False
        handle.cancel()
        self.withdrawn.append(cue_id)
        return True

    def current_cue(self, session_id: str) -> Cue | None:
        return self.current.get(session_id)

    def fallback_cue(self, session_id: str, cue_id: str, at: datetime) -> Cue | None:
        cue = self.current.get(session_id)
        if cue is None or cue.video.kind not in (VideoKind.REMOTE, VideoKind.STUDIO):
            return None
        shown = cue.video.backup or VideoSource(VideoKind.SLATE, slate=cue.video.slate)
        return replace(cue, id=cue_id, at=at, video=shown)

    def thumbnail(self, session_id: str) -> bytes | None:
        return None

    def preview(self, cue: Cue) -> bytes | None:
        return None

    def meters(self, session_id: str) -> list[Meter]:
        return []

    def output_stats(self, session_id: str) -> list[OutputStats]:
        return []

    def route(self, session_id: str, language: str, mode: str) -> None:
        self.routes.append((session_id, language, mode))
