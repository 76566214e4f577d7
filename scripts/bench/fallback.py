"""Benchmark `fallback`: how long does a dead live speaker stay on air, and how soon do they return?

A live speaker (green camera over a real aiortc peer connection on loopback) is on the
programme, with a blue pre-recorded backup. `--drops` times, the peer stops sending — camera and
microphone at once, no goodbye, the connection stays up, as when a home uplink dies — for
`--down-s`, then sends again. The programme is read frame by frame as it leaves (a `FrameTap`):

- fallback frames: programme frames made after the peer's last picture left it and before the
  first backup frame (the frozen last picture, then the cut; target ≤ 15, half a second);
- return: from the peer sending again to the first live frame (the switcher waits for
  `live_return_s` of stable pictures, default 2 s).

Then `--holdups` times, with the peer sending steadily, OUR event loop is held up for
`--holdup-s` (a blocking callback, as CPU starvation or a slow callback would): a speaker whose
pictures were only late on our side must not be cut away from (`holdup_fallbacks`: hold-ups
after which the backup was shown anyway; target 0). The test peer shares our loop, so its
pictures wait too: the whole gap is ours.

Last line: JSON with `bench`, `drops`, `fallback_frames_max`, `fallback_frames_p50`,
`return_s_max`, `return_s_p50`, `missed` (drops never covered, or never returned from),
`holdups`, `holdup_fallbacks`.

    python scripts/bench/fallback.py [--drops 50] [--down-s 0.8] [--holdups 10] [--holdup-s 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "media"))  # the test peers
from media_clips import make_clip
from peers import Camera, Microphone, PeerPair

from orchestrator.clock import CompressedClock, Window
from orchestrator.logconfig import configure_logging
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.media.frames import Audio, yuv_planes
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, Slate, VideoKind, VideoSource

T = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
GREEN, BLUE = (20, 200, 40), (20, 40, 220)


class Watcher:
    """What each programme frame shows (live, backup or something else), and when it left."""

    ended = False

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: list[tuple[int, float, str]] = []

    def feed(self, index: int, wall: float, picture: VideoFrame, floor: Audio, speaker: str | None) -> None:
        _, u, v = yuv_planes(picture.to_ndarray(), picture.height)
        h, w = u.shape
        cu, cv = float(u[h // 3 : h // 2, w // 3 : w // 2].mean()), float(v[h // 3 : h // 2, w // 3 : w // 2].mean())
        # Green has U and V well below 128; this blue has U far above it.
        shown = "live" if cu < 110 and cv < 110 else "backup" if cu > 160 else "other"
        with self.lock:
            self.frames.append((index, time.time(), shown))

    def since(self, t: float) -> list[tuple[int, float, str]]:
        with self.lock:
            return [f for f in self.frames if f[1] >= t]


async def wait_for(watcher: Watcher, since: float, shown: str, timeout: float) -> tuple[int, float] | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for index, at, what in watcher.since(since):
            if what == shown:
                return index, at
        await asyncio.sleep(0.01)
    return None


async def hold_up_loop(seconds: float) -> None:
    """Block this event loop for `seconds` inside one of its callbacks."""
    asyncio.get_running_loop().call_soon(time.sleep, seconds)
    await asyncio.sleep(0)


async def run(drops: int, down_s: float, holdups: int, holdup_s: float, workdir: Path) -> dict[str, object]:
    backup = make_clip(workdir / "backup.mp4", rgb=BLUE, seconds=drops * 6 + 30, tone_hz=700, size=(320, 180))
    registry = RemoteSourceRegistry()
    clock = CompressedClock([Window(T - timedelta(seconds=1), T + timedelta(hours=2))], speed=1, wall_start=time.time())
    media = AvMediaPlane(clock, MediaSettings(), live=registry)
    camera, voice = Camera(GREEN), Microphone(440)
    pair = PeerPair()
    pair.send(camera)
    pair.send(voice)
    watcher = Watcher()
    fallback_frames: list[int] = []
    returns: list[float] = []
    missed: list[str] = []
    holdup_fallbacks = 0
    try:
        got = await pair.connect()
        registry.register("speaker", got["video"], got["audio"])
        video = VideoSource(
            VideoKind.REMOTE,
            slate=Slate("Speaker"),
            speaker_id="speaker",
            backup=VideoSource(VideoKind.CLIP, clip_path=str(backup)),
        )
        cue = Cue("c1", T, "seg", "talk", video, {"ko": AudioSource(AudioKind.FLOOR)}, "ko")
        sheet = CueSheet("s1", "Fallback", T, T + timedelta(hours=2), ("ko",), Slate("Fallback"), (cue,))
        await media.prepare(sheet)
        media.arm("s1", cue)
        await media.start("s1")
        media.programme("s1").add_tap(watcher)
        if await wait_for(watcher, time.time(), "live", 10) is None:
            raise SystemExit("fallback bench: the speaker never came on air")
        await asyncio.sleep(1.0)
        for _ in range(drops):
            camera.paused = voice.paused = True
            last_sent = camera.sent[-1][1]  # the peer's last picture left then
            lost = await wait_for(watcher, last_sent, "backup", 5)
            if lost is None:
                missed.append(f"drop {len(fallback_frames) + len(missed)}: no backup within 5 s")
            else:
                fallback_frames.append(sum(1 for i, _, s in watcher.since(last_sent) if i < lost[0]))
            await asyncio.sleep(max(0.0, down_s - (time.time() - last_sent)))
            camera.paused = voice.paused = False
            resumed = time.time()
            back = await wait_for(watcher, resumed, "live", 10)
            if back is None:
                missed.append(f"drop {len(returns) + len(missed)}: not back on air within 10 s")
            else:
                returns.append(back[1] - resumed)
            await asyncio.sleep(0.3)
        await asyncio.sleep(2.5)  # the speaker is back on air for good
        for _ in range(holdups):
            began = time.time()
            await hold_up_loop(holdup_s)
            await asyncio.sleep(1.5)
            holdup_fallbacks += any(shown == "backup" for _, _, shown in watcher.since(began))
            await asyncio.sleep(2.5)  # a fallback shown would be over by now: the next one counts alone
        stats = media.programme("s1").stats
        await media.stop("s1")
    finally:
        await pair.close()
        await media.close()
        await registry.close()
    return {
        "bench": "fallback",
        "drops": drops,
        "fallback_frames_max": max(fallback_frames, default=None),
        "fallback_frames_p50": float(np.median(fallback_frames)) if fallback_frames else None,
        "return_s_max": round(max(returns), 2) if returns else None,
        "return_s_p50": round(float(np.median(returns)), 2) if returns else None,
        "missed": missed,
        "holdups": holdups,
        "holdup_fallbacks": holdup_fallbacks,
        "programme_late_frames": stats.late_frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drops", type=int, default=50)
    parser.add_argument("--down-s", type=float, default=0.8, help="how long each drop lasts")
    parser.add_argument("--holdups", type=int, default=10, help="times our event loop is held up")
    parser.add_argument("--holdup-s", type=float, default=0.5, help="how long each hold-up lasts")
    args = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(prefix="bench-fallback-") as tmp:
        print(json.dumps(asyncio.run(run(args.drops, args.down_s, args.holdups, args.holdup_s, Path(tmp)))))


if __name__ == "__main__":
    main()
