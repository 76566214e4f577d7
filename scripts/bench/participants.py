"""Benchmark `participants`: how many 360p30 remote participants one orchestrator holds while the
Korean and English programmes stay real time.

For each count N (0, then rising), two child processes: the orchestrator (the participants adapter
on a web server, the media plane's live registry, and one programme with KO + EN outputs to files,
showing the first participant on air) and the senders (N aiortc peers relaying a pre-encoded
640x360 30 fps VP8 + Opus file, joining by their real links over HTTP, in their own process so
their CPU is not counted and no sender spends CPU encoding).
Once all have joined, the programme runs `--seconds`; it is real time when every frame was made
(no output short of frames), media seconds per wall second ≥ 0.97 (start-up included) and no frame
came more than 0.5 s after its time (frames a little late are caught up, not lost: their share,
`late_pct`, is printed with the load average of each run, since this machine is shared).
`cpu_s_per_participant_s` = (orchestrator CPU with N − with 0) / (N × seconds), at the largest N
that stayed real time. The senders share this 2-core machine with the orchestrator (and with
whatever else runs on it), so a count is capped by the machine, not only by the orchestrator.
Last line: JSON with `participants_max_realtime`, `cpu_s_per_participant_s`.

    python scripts/bench/participants.py [--seconds 20] [--counts 0,2,4,6,8,10,12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SECRET = "bench-link-secret-0123456789abcdef"
REALTIME_FACTOR = 0.97  # media seconds made per wall second, start-up included
MAX_LATE_S = 0.5  # no frame made later than this after its time (late frames are caught up, not lost)


def schedule_yaml(n: int, start: datetime) -> str:
    speakers = "\n".join(
        f"  - {{id: p{i}, name: Guest {i}, languages: [en], appearance: live}}" for i in range(max(1, n))
    )
    rundown = "\n".join(f"      - {{kind: remote, speaker: p{i}, duration: 5m}}" for i in range(max(1, n)))
    end = start + timedelta(minutes=5 * max(1, n) + 10)
    return f"""
event: {{id: bench, name: Bench, timezone: UTC}}
speakers:
{speakers}
interpreters:
  - {{id: i0, name: Interpreter A, languages: [ko, en]}}
booths:
  - {{id: b, languages: [ko, en], interpreters: [i0]}}
destinations:
  - {{id: rec-ko, kind: file, language: ko}}
  - {{id: rec-en, kind: file, language: en}}
sessions:
  - id: s
    title: Bench
    start: {start.isoformat()}
    end: {end.isoformat()}
    floor_language: en
    outputs: [rec-ko, rec-en]
    booths: [b]
    rundown:
{rundown}
"""


async def orchestrator(n: int, seconds: float) -> None:
    from aiohttp import web
    from pydantic import SecretStr

    from orchestrator.clock import SystemClock
    from orchestrator.engine.events import EventBus
    from orchestrator.engine.journal import SqliteJournal
    from orchestrator.engine.ports import IngestTarget, OutputSpec
    from orchestrator.logconfig import configure_logging
    from orchestrator.media import AvMediaPlane, MediaSettings
    from orchestrator.media.live import RemoteSourceRegistry
    from orchestrator.participants.http import participant_routes
    from orchestrator.participants.service import Participants
    from orchestrator.participants.settings import ParticipantSettings
    from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, Slate, VideoKind, VideoSource
    from orchestrator.planning.plan import PlanSettings, plan
    from orchestrator.schedule.loader import parse_schedule_text

    configure_logging("console", "warning")
    now = datetime.now(UTC)
    schedule = parse_schedule_text(schedule_yaml(n, now + timedelta(minutes=1)))
    tmp = Path(tempfile.mkdtemp(prefix="bench-participants-"))
    clock = SystemClock()
    bus = EventBus(clock)
    journal = SqliteJournal(":memory:")
    settings = MediaSettings()
    live = RemoteSourceRegistry(settings)
    participants = Participants(
        schedule,
        plan(schedule, PlanSettings(media_root=str(tmp))),
        clock,
        bus,
        journal,
        live,
        ParticipantSettings(link_secret=SecretStr(SECRET), host_addresses=("127.0.0.1",)),
    )
    participants.start()
    app = web.Application()
    participant_routes(participants)(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    links = [link.url(base) for p, link in participants.book.links() if p.role == "speaker"][:n]
    print("READY " + json.dumps(links), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the senders have joined

    audio = {lang: AudioSource(AudioKind.FLOOR) for lang in ("ko", "en")}
    start = datetime.now(UTC)
    cue = Cue(
        "on",
        start + timedelta(seconds=0.5),
        "seg",
        "p0",
        VideoSource(VideoKind.REMOTE, speaker_id="p0", slate=Slate("p0")),
        audio,
    )
    sheet = CueSheet("bench", "bench", start, start + timedelta(hours=1), ("ko", "en"), Slate("bench"), (cue,))
    media = AvMediaPlane(clock, settings, live=live)
    await media.prepare(sheet)
    media.arm("bench", cue)
    for lang in ("ko", "en"):
        await media.attach_output(
            OutputSpec(f"rec-{lang}", "bench", lang, "file", IngestTarget(str(tmp / f"{lang}.flv")))
        )
    frames = int(seconds * settings.fps)
    cpu0, wall0 = time.process_time(), time.monotonic()
    await media.start("bench")
    pipeline = media.programme("bench")
    while pipeline.stats.frames < frames and pipeline.error is None:
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    connected = sum(1 for p in participants.presence.values() if p.state in ("green_room", "on_air"))
    reports = await media.stop("bench")
    await media.close()
    await participants.close()
    await runner.cleanup()
    await live.close()
    print(
        json.dumps(
            {
                "n": n,
                "connected_at_end": connected,
                "cpu_s": round(cpu, 2),
                "wall_s": round(wall, 2),
                "frames": pipeline.stats.frames,
                "late_frames": pipeline.stats.late_frames,
                "max_late_s": round(pipeline.stats.max_late_s, 3),
                "output_frames": [r.frames for r in reports],
                "error": pipeline.error,
            }
        ),
        flush=True,
    )


def sender_clip() -> Path:
    """A 360p30 VP8 + Opus WebM, about 1.2 Mb/s, keyframe every 2 s (cached)."""
    path = Path(tempfile.gettempdir()) / "summit-bench-participant-360p30.webm"
    if not path.exists():
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=30",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
             "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1200k", "-g", "60",
             "-c:a", "libopus", "-b:a", "64k", str(path)],
            check=True,
        )  # fmt: skip
    return path


async def senders(links: list[str]) -> None:
    import aiohttp

    from orchestrator.logconfig import configure_logging
    from orchestrator.standins.bots import Bot

    configure_logging("console", "warning")
    from aiortc.contrib.media import MediaPlayer

    from orchestrator.participants.ice import gather_host_addresses

    gather_host_addresses(["127.0.0.1"])
    clip = sender_clip()
    bots = []
    for i, url in enumerate(links):
        bot = Bot(f"p{i}", f"Guest {i}", "speaker", url)
        # each sender relays a pre-encoded 360p30 VP8 + Opus file (no encoding per sender), so the
        # senders leave the machine to the orchestrator being measured
        player = MediaPlayer(str(clip), decode=False, loop=True)
        bot.video, bot.audio = player.video, player.audio
        bots.append(bot)
    async with aiohttp.ClientSession() as http:
        for bot in bots:
            await bot.join(http)
        print("JOINED", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for bot in bots:
            await bot.leave(http)


def measure(n: int, seconds: float) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, str(HERE), "orchestrator", str(n), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin and server.stdout
    line = server.stdout.readline()
    links = json.loads(line.removeprefix("READY "))
    sender = None
    if n:
        sender = subprocess.Popen(
            [sys.executable, str(HERE), "senders", json.dumps(links)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sender.stdout
        if sender.stdout.readline().strip() != "JOINED":
            raise SystemExit("the senders could not join")
        time.sleep(3.0)  # let the pictures settle (first frames, bitrate ramp)
    server.stdin.write("go\n")
    server.stdin.flush()
    result: dict[str, Any] = json.loads(server.stdout.readline())
    server.wait(60)
    if sender is not None:
        assert sender.stdin
        sender.stdin.write("stop\n")
        sender.stdin.flush()
        try:
            sender.wait(30)
        except subprocess.TimeoutExpired:
            sender.kill()
    expected = int(seconds * 30)
    result["realtime_factor"] = round(result["frames"] / 30 / result["wall_s"], 3)
    result["late_pct"] = round(100 * result["late_frames"] / max(1, result["frames"]), 1)
    result["load_avg"] = os.getloadavg()[0]
    result["realtime"] = (
        result["error"] is None
        and min(result["output_frames"]) >= expected - 2
        and result["realtime_factor"] >= REALTIME_FACTOR
        and result["max_late_s"] <= MAX_LATE_S
        and result["connected_at_end"] >= n
    )
    return result


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "orchestrator":
        asyncio.run(orchestrator(int(sys.argv[2]), float(sys.argv[3])))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "senders":
        asyncio.run(senders(json.loads(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--counts", default="0,2,4,6,8,10,12")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    if counts[0] != 0:
        counts.insert(0, 0)
    results = []
    for n in counts:
        r = measure(n, args.seconds)
        results.append(r)
        print(json.dumps(r), flush=True)
        if n and not r["realtime"]:
            break
    base = results[0]["cpu_s"]
    held = [r for r in results if r["n"] and r["realtime"]]
    best = held[-1] if held else None
    costed = best or next((r for r in reversed(results) if r["n"]), None)
    print(
        json.dumps(
            {
                "bench": "participants",
                "seconds": args.seconds,
                "participants_max_realtime": best["n"] if best else 0,
                # at the largest count held (or, when none was, the last one measured)
                "cpu_s_per_participant_s": round((costed["cpu_s"] - base) / (costed["n"] * args.seconds), 4)
                if costed
                else None,
                "runs": [
                    {
                        k: r[k]
                        for k in (
                            "n",
                            "cpu_s",
                            "realtime_factor",
                            "late_pct",
                            "max_late_s",
                            "output_frames",
                            "load_avg",
                            "realtime",
                        )
                    }
                    for r in results
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
