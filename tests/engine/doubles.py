"""Test doubles for the engine's ports: they record what the engine asked, on which clock time.
(The real adapters are tested in tests/media and tests/platforms.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from pydantic import SecretStr

from orchestrator.clock import Clock
from orchestrator.engine.ports import CueApplied, IngestTarget, OutputReport, OutputSpec, PreparedDestination
from orchestrator.planning.cues import Cue, CueSheet


class RecordingMediaPlane:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, str, datetime]] = []
        self._applied: list[CueApplied] = []
        self._listeners: list[Callable[[CueApplied], None]] = []
        self.prepare_problems: list[str] = []

    def _note(self, what: str, target: str) -> None:
        self.calls.append((what, target, self.clock.now()))

    async def prepare(self, cue_sheet: CueSheet) -> list[str]:
        self._note("prepare", cue_sheet.session_id)
        return list(self.prepare_problems)

    async def start(self, session_id: str) -> None:
        self._note("start", session_id)

    async def attach_output(self, output: OutputSpec) -> None:
        self._note("attach", f"{output.session_id}/{output.destination_id}")

    async def detach_output(self, session_id: str, destination_id: str) -> OutputReport:
        self._note("detach", f"{session_id}/{destination_id}")
        return OutputReport(destination_id, session_id, "x")

    def arm(self, session_id: str, cue: Cue) -> None:
        self._note("arm", cue.id)
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.clock.to_wall(cue.at) - time.time())

        def apply() -> None:
            wall = time.time()
            applied = CueApplied(cue.id, session_id, cue.at, self.clock.to_event(wall), wall, 0)
            self._applied.append(applied)
            for listener in self._listeners:
                listener(applied)

        loop.call_later(delay, apply)

    async def stop(self, session_id: str) -> list[OutputReport]:
        self._note("stop", session_id)
        return []

    def applied_cues(self) -> list[CueApplied]:
        return list(self._applied)

    def on_cue(self, listener: Callable[[CueApplied], None]) -> None:
        self._listeners.append(listener)

    async def close(self) -> None:
        pass


class RecordingPlatform:
    kind = "test"

    def __init__(self, fail_prepare_for: set[str] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_prepare_for = fail_prepare_for or set()

    async def prepare(self, action_id, session, destination) -> PreparedDestination:  # type: ignore[no-untyped-def]
        self.calls.append(("prepare", action_id))
        if destination.id in self.fail_prepare_for:
            raise RuntimeError(
                f"destination '{destination.id}' refused rtmp://127.0.0.1:1935/live/sk-SECRET-123456?token=abc"
            )
        return PreparedDestination(
            destination.id, session.id, IngestTarget("rtmp://127.0.0.1:1/live", SecretStr("key-" + session.id))
        )

    async def go_live(self, action_id, session, destination) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("go_live", action_id))

    async def end(self, action_id, session, destination) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("end", action_id))

    async def health(self, session, destination):  # type: ignore[no-untyped-def]
        raise NotImplementedError
