"""Benchmark `pacing`: does a live programme keep 30 frames a wall second, leave the event loop
free, ride out a hung ingest, and republish soon after its server comes back?

1. Realtime pacing to two file outputs for `--seconds`: frames made against 30 per wall second,
   late frames (made more than one frame interval after their time), and how late the event loop
   wakes from 50 ms sleeps meanwhile (media work must run off the loop). Targets: within a few
   frames; loop lag well under 250 ms.
2. A hung ingest (a TCP server that accepts and never answers the RTMP handshake) next to a file
   output, for `--stuck-s`: frames made against 30 per wall second. Target: within 10 frames.
3. An nginx-rtmp restart (down for 1 s, back on the same port) under a live output: wall seconds
   from the server going down to the programme publishing again. Target: under 6 s.

Last line: JSON with `bench`, `seconds`, `rate_error_frames`, `late_frames`, `dropped_frames`,
`max_late_ms`, `loop_lag_ms_max`, `loop_lag_ms_p99`, `stuck_ingest_rate_error_frames`, `republish_s`.

    python scripts/bench/pacing.py [--seconds 10] [--stuck-s 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import mkdtemp

import numpy as np

from orchestrator.clock import SystemClock
from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.logconfig import configure_logging
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.planning.cues import CueSheet, Slate
from orchestrator.standins import nginx as rtmp_module
from orchestrator.standins.nginx import RtmpServer

FPS = 30


def standby_programme() -> CueSheet:
    now = datetime.now(UTC)
    return CueSheet(
        "s1", "Pacing", now, now + timedelta(hours=1), ("ko", "en"), Slate("Pacing", "Seoul", "Please stand by"), ()
    )


def file_output(work: Path, dest: str, lang: str) -> OutputSpec:
    return OutputSpec(dest, "s1", lang, "file", IngestTarget(str(work / f"{dest}.flv")))


def rtmp_output(dest: str, url: str, key: str) -> OutputSpec:
    from pydantic import SecretStr

    return OutputSpec(dest, "s1", "ko", "rtmp", IngestTarget(url, SecretStr(key)))


async def realtime(work: Path, seconds: float) -> dict[str, float]:
    media = AvMediaPlane(SystemClock(), MediaSettings(pacing="realtime"))
    await media.prepare(standby_programme())
    await media.attach_output(file_output(work, "ko-file", "ko"))
    await media.attach_output(file_output(work, "en-file", "en"))
    await media.start("s1")
    lags = []
    for _ in range(int(seconds / 0.05)):
        t = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - t - 0.05)
    pipeline = media.programme("s1")
    made, elapsed = pipeline.stats.frames, time.time() - pipeline.t0
    await media.stop("s1")
    if pipeline.error:
        raise SystemExit(pipeline.error)
    arr = np.array(lags) * 1000
    return {
        "rate_error_frames": round(made - elapsed * FPS, 1),
        "late_frames": pipeline.stats.late_frames,
        "dropped_frames": pipeline.stats.dropped_frames,
        "max_late_ms": round(pipeline.stats.max_late_s * 1000, 1),
        "loop_lag_ms_max": round(float(arr.max()), 1),
        "loop_lag_ms_p99": round(float(np.percentile(arr, 99)), 1),
    }


async def stuck_ingest(work: Path, seconds: float) -> float:
    peers: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)

    silent = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    media = AvMediaPlane(SystemClock(), MediaSettings(output_queue_s=2.0))
    await media.prepare(standby_programme())
    await media.attach_output(rtmp_output("stuck", f"rtmp://127.0.0.1:{port}/live", "stuck-key"))
    await media.attach_output(file_output(work, "rec", "ko"))
    await media.start("s1")
    pipeline = media.programme("s1")
    await asyncio.sleep(seconds)
    made, elapsed = pipeline.stats.frames, time.time() - pipeline.t0
    await media.stop("s1")
    silent.close()
    for w in peers:
        w.close()
    if pipeline.error:
        raise SystemExit(pipeline.error)
    return round(made - elapsed * FPS, 1)


async def republish(work: Path) -> float:
    server = RtmpServer(record_dir=work / "recorded")
    await server.start()
    media = AvMediaPlane(SystemClock(), MediaSettings(reconnect_initial_s=0.25))
    await media.prepare(standby_programme())
    await media.attach_output(rtmp_output("live", server.url, "restart-key"))
    await media.start("s1")
    await server.wait_for_publisher("restart-key", timeout=10)
    await asyncio.sleep(1.5)
    ports = iter([server.port, server.http_port])
    free_port = rtmp_module.free_port
    rtmp_module.free_port = lambda host="127.0.0.1": next(ports)  # back on the same port
    try:
        await server.stop()
        down_at = time.monotonic()
        await asyncio.sleep(1.0)
        await server.start()
        await server.wait_for_publisher("restart-key", timeout=30)
        back_after = time.monotonic() - down_at
    finally:
        rtmp_module.free_port = free_port
        await media.stop("s1")
        await server.stop()
    return round(back_after, 2)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--stuck-s", type=float, default=5.0)
    args = parser.parse_args()
    configure_logging("console", "warning")
    work = Path(mkdtemp(prefix="bench-pacing-"))

    paced = await realtime(work, args.seconds)
    stuck = await stuck_ingest(work, args.stuck_s)
    back = await republish(work)
    print(
        f"realtime {args.seconds:g} s to 2 files: {paced['rate_error_frames']:+} frames against 30/s, "
        f"{paced['late_frames']} late (max {paced['max_late_ms']} ms), {paced['dropped_frames']} dropped; "
        f"event loop lag max {paced['loop_lag_ms_max']} ms, p99 {paced['loop_lag_ms_p99']} ms"
    )
    print(f"hung ingest for {args.stuck_s:g} s: {stuck:+} frames against 30/s")
    print(f"nginx restart (1 s down): publishing again after {back} s")
    print(
        json.dumps(
            {
                "bench": "pacing",
                "seconds": args.seconds,
                **paced,
                "stuck_ingest_rate_error_frames": stuck,
                "republish_s": back,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
