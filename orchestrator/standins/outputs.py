"""The rehearsal's outputs strategy: the real platform adapters against local stand-ins.

A local nginx-rtmp is the ingest of both platform emulators (YouTube, Facebook) and of every generic
RTMP destination (redirected to `<server>/<destination id>`); it records everything that arrives.
After the run the emulators say which recording belongs to which broadcast, and each output's
recording is moved to `recordings/<session>/<destination>.flv`: nothing parses a file name for a
stream key, and no key is unmasked.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.view import RunSnapshot
from orchestrator.outputs import OutputsContext, Recordings, Wiring, file_recordings
from orchestrator.planning.actions import ActionKind
from orchestrator.platforms.factory import close_platforms, for_destinations
from orchestrator.standins.local_platforms import LocalPlatforms, RecordedOutput, start_local_platforms
from orchestrator.standins.nginx import RtmpServer


@dataclass
class EmulatedOutputs:
    record_dir: Path  # where nginx records what arrives
    name: str = "platforms"
    _local: LocalPlatforms | None = field(default=None, init=False)
    _ctx: OutputsContext | None = field(default=None, init=False)

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        # Generic destinations are redirected here under their id: a name anyone may read.
        server = RtmpServer(record_dir=self.record_dir, public_names=[d.id for d in ctx.schedule.destinations])
        await server.start()
        stack.push_async_callback(server.stop)
        # Polls and platform-side delays short enough for a compressed clock.
        local = await start_local_platforms(
            ctx.schedule.destinations,
            server=server,
            clock=ctx.clock,
            transition_delay_s=0.2,
            youtube={
                "poll_interval_s": 0.2,
                "stream_active_timeout_s": 20.0,
                "healthy_timeout_s": 2.0,
                "backoff_initial_s": 0.2,
            },
            facebook={"poll_interval_s": 0.2, "media_timeout_s": 20.0, "backoff_initial_s": 0.2},
        )
        stack.push_async_callback(local.close)
        by_kind = local.platforms(
            ctx.journal,
            recordings_dir=ctx.recordings_dir,
            event_id=ctx.schedule.event.id,
            clock=ctx.clock,
            notifier=ctx.notifier,
            secrets=ctx.secrets,
        )
        stack.push_async_callback(close_platforms, by_kind)
        self._local, self._ctx = local, ctx
        destinations = {d.id: d for d in ctx.schedule.destinations}
        return Wiring(destinations, for_destinations(by_kind, ctx.schedule.destinations))

    @property
    def local(self) -> LocalPlatforms | None:
        """The stand-ins serving this run (once opened): their emulators, nginx, credentials."""
        return self._local

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        assert self._local is not None and self._ctx is not None, "recordings() before open()"
        clock = self._ctx.clock
        wanted = []
        for (sid, did), out in snapshot.outputs.items():
            kind = snapshot.destinations[did].kind
            if kind == "file":
                continue
            attached = snapshot.result(ActionKind.ATTACH_OUTPUT, sid, did)
            ended = snapshot.result(ActionKind.END_BROADCAST, sid, did)
            wanted.append(
                RecordedOutput(
                    session=sid,
                    destination=did,
                    kind=kind,
                    platform_ids=dict(out.platform_ids),
                    attached_wall=clock.to_wall(attached.executed) if attached and attached.executed else None,
                    ended_wall=clock.to_wall(ended.executed) if ended and ended.executed else None,
                )
            )
        # It waits for nginx to close the last files (the publishers are gone by now).
        moved = await self._local.collect_recordings(wanted, self._ctx.recordings_dir)
        return file_recordings(snapshot) | {key: str(path) for key, path in moved.items()}
