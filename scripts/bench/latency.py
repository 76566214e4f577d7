"""Benchmark `latency`: how late are people on the programme, and the floor in interpreters' ears?

Real aiortc peer connections on loopback, the programme live (wall-clock pacing):

- glass to programme: a speaker's camera writes its frame number into each picture (12 black or
  white blocks) and notes when it hands the picture to its peer connection (VP8 encode, RTP,
  jitter buffer, decode, the registry's feed); the programme reads the number back from each
  frame it has just encoded and handed to its outputs. Latency = first programme frame carrying
  picture n − when picture n left the camera.
- floor to interpreter: the speaker's microphone sends a tone burst every second; the programme
  notes the frame whose floor starts each burst as it leaves, and the interpreter — a second
  peer connection receiving `floor_feed` (Opus) — notes when the burst's first samples reach it.
  That listener is aiortc in this process, whose audio receivers the registry makes release each
  packet at once (`live.prompt_audio_jitter_buffers`); an interpreter's browser adds its own
  playout buffer on top.

- voice to programme (the path an interpreter's voice takes back): from a burst leaving the
  microphone to the programme frame whose floor starts it.

- lip-sync (A/V offset): the camera flashes and the microphone clicks (starts a burst) at the same
  instant once a second (`tests/media/avsync.py`); the programme is recorded as the FLV an RTMP
  output sends, read back with PyAV, and offset = the click's media time − the flash's (positive:
  the sound is late). Broadcast tolerance (EBU R37): −40 … +60 ms.

Last line: JSON with `bench`, `glass_to_programme_ms_p50/p95` (target p95 ≤ 150),
`floor_to_interpreter_ms_p50/p95` (target p95 ≤ 200), `av_offset_ms_p50/p95` (and min/max; target
within −40 … +60), and the sample counts.

    python scripts/bench/latency.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "media"))  # the test peers
from avsync import ClickingMicrophone, Epoch, SyncReader, flashing_camera
from peers import Listener, PeerPair

from orchestrator.clock import CompressedClock, Window
from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.logconfig import configure_logging
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.media.frames import Audio, yuv_planes
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, Slate, VideoKind, VideoSource

T = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
BITS = 12
BLOCK = 20  # camera pixels per bit (320x240 camera: 12 blocks across the top 240 px)
CAMERA = (320, 240)
RENDITION = (640, 360)
THRESHOLD = 0.05  # RMS above which a burst has begun


def stamp(picture: np.ndarray, n: int) -> np.ndarray:
    out = picture.copy()
    for bit in range(BITS):
        out[:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 255 if (n >> bit) & 1 else 0
    return out


def read_stamp(frame: VideoFrame) -> int:
    """The frame number a camera picture carries, where the programme shows it (pillar-boxed)."""
    y, _, _ = yuv_planes(frame.to_ndarray(), frame.height)
    scale = min(RENDITION[0] / CAMERA[0], RENDITION[1] / CAMERA[1])
    x0 = (RENDITION[0] - CAMERA[0] * scale) / 2
    row = int(BLOCK * scale / 2)
    n = 0
    for bit in range(BITS):
        x = int(x0 + (bit * BLOCK + BLOCK / 2) * scale)
        if y[row, x] > 128:
            n |= 1 << bit
    return n


class Observer:
    """Reads every programme frame as it leaves (a `FrameTap`)."""

    ended = False

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.onsets: list[float] = []
        self._loud = False

    def feed(self, index: int, wall: float, picture: VideoFrame, floor: Audio, speaker: str | None) -> None:
        now = time.time()
        self.seen.setdefault(read_stamp(picture), now)
        loud = float(np.sqrt(np.mean(floor[0] ** 2))) > THRESHOLD
        if loud and not self._loud:
            self.onsets.append(now)
        self._loud = loud


def onsets(frames: list[tuple[float, np.ndarray]]) -> list[float]:
    """Arrival time of each burst's first samples: the frame that has them, less what follows them."""
    out, loud = [], False
    for arrived, pcm in frames:
        hot = np.flatnonzero(np.abs(pcm) > THRESHOLD * 1.4)
        if hot.size and not loud:
            out.append(arrived - (pcm.size - hot[0]) / 48_000)
        loud = bool(hot.size) and float(np.sqrt(np.mean(pcm**2))) > THRESHOLD
    return out


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


async def run(seconds: float, workdir: Path) -> dict[str, object]:
    registry = RemoteSourceRegistry()
    clock = CompressedClock([Window(T - timedelta(seconds=1), T + timedelta(hours=1))], speed=1, wall_start=time.time())
    media = AvMediaPlane(clock, MediaSettings(width=RENDITION[0], height=RENDITION[1]), live=registry)
    epoch = Epoch()  # the flash and the click leave the speaker together
    camera = flashing_camera(epoch)
    camera.stamp = stamp
    voice = ClickingMicrophone(epoch)
    recording = workdir / "programme.flv"
    speaker, interpreter = PeerPair(), Listener()
    speaker.send(camera)
    speaker.send(voice)
    observer = Observer()
    try:
        got = await speaker.connect()
        feed = registry.register("speaker", got["video"], got["audio"])
        cue = Cue(
            "c1",
            T,
            "seg",
            "talk",
            VideoSource(VideoKind.REMOTE, slate=Slate("Speaker"), speaker_id="speaker"),
            {"ko": AudioSource(AudioKind.FLOOR)},
            "ko",
        )
        await media.prepare(CueSheet("s1", "Latency", T, T + timedelta(hours=1), ("ko",), Slate("Latency"), (cue,)))
        media.arm("s1", cue)
        # What an RTMP output sends, as a file: the same encoders, timestamps and FLV muxer.
        await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(recording))))
        await media.start("s1")
        media.programme("s1").add_tap(observer)
        floor = media.floor_feed("s1")
        assert floor is not None
        await interpreter.start(floor)
        # Decoded frames must never queue up: sample the receiving tracks' queues (aiortc's own,
        # drained by the registry) all along.
        queued = 0
        deadline = time.time() + seconds
        while time.time() < deadline:
            queued = max(queued, *(t._queue.qsize() for t in got.values()))
            await asyncio.sleep(0.01)
        stats = media.programme("s1").stats
        await media.stop("s1")
    finally:
        await interpreter.close()
        await speaker.close()
        await media.close()
        await registry.close()
    settle = time.time() - seconds + 2.0  # the first two seconds: joining, buffers filling
    glass = [(observer.seen[n] - sent) * 1000 for n, sent in camera.sent if n in observer.seen and sent > settle]
    ears = []
    programme_onsets = sorted(observer.onsets)
    for heard in onsets(interpreter.frames):
        before = [t for t in programme_onsets if t <= heard and heard - t < 0.8]
        if before and heard > settle:
            ears.append((heard - before[-1]) * 1000)
    # The same path an interpreter's voice takes to the programme: microphone → Opus → the
    # registry's jitter buffer → the next programme frame.
    mic = []
    for sent in (t for t in voice.burst_sent if t > settle):
        after = [t for t in programme_onsets if t >= sent and t - sent < 0.8]
        if after:
            mic.append((after[0] - sent) * 1000)
    reader = SyncReader()
    reader.read(str(recording))
    if reader.error:
        raise SystemExit(f"latency: cannot read the programme recording {recording}: {reader.error}")
    av_offsets = reader.offsets_ms(after_s=2.0)
    return {
        "bench": "latency",
        "seconds": seconds,
        "glass_to_programme_ms_p50": percentile(glass, 50),
        "glass_to_programme_ms_p95": percentile(glass, 95),
        "glass_samples": len(glass),
        "floor_to_interpreter_ms_p50": percentile(ears, 50),
        "floor_to_interpreter_ms_p95": percentile(ears, 95),
        "floor_samples": len(ears),
        "voice_to_programme_ms_p50": percentile(mic, 50),
        "voice_to_programme_ms_p95": percentile(mic, 95),
        "av_offset_ms_p50": percentile(av_offsets, 50),
        "av_offset_ms_p95": percentile(av_offsets, 95),
        "av_offset_ms_min": min(av_offsets, default=None),
        "av_offset_ms_max": max(av_offsets, default=None),
        "av_samples": len(av_offsets),
        "decoded_frames_queued_max": queued,
        "live_sound_underruns": feed.underruns,
        "live_sound_cushion_ms": feed.cushion_ms,
        "programme_late_frames": stats.late_frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(prefix="latency-") as workdir:
        print(json.dumps(asyncio.run(run(args.seconds, Path(workdir)))))


if __name__ == "__main__":
    main()
