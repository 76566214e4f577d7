"""A kill drill: `summit run` (a real child process) against the real YouTube adapter on the local
YouTube emulator, and a generic RTMP destination, both ingesting into a local nginx-rtmp; the
process is killed with SIGKILL at given moments of a short event and started again with the same
command each time.

Per kill it measures how long the restarted process takes to have every output back on the RTMP
server (`restart_to_air_s`); at the end it counts duplicates (a second broadcast, an action done
twice) and checks the journal is complete. Used by tests/faults/test_kill_resume.py (a few kill
points) and scripts/bench/recovery.py (20 random ones).

The event (times from T0, the first session's start; the first process starts `lead_s` before):

    a: T0 … T0+16   slate 4 s, a 12 s clip (so a kill in it proves the clip resumes at its offset)
    b: T0+22 … T0+32  slate 10 s
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from orchestrator.engine.journal import SqliteJournal
from orchestrator.planning.plan import Plan, PlanSettings, plan
from orchestrator.schedule.loader import load_schedule
from orchestrator.schedule.model import YouTubeDestination
from orchestrator.standins.local_platforms import LocalPlatforms, start_local_platforms
from orchestrator.standins.nginx import RtmpServer

EVENT_ID = "kill-drill"
SESSION_A = (0.0, 16.0)
SESSION_B = (22.0, 32.0)
OUTPUTS = 2  # yt-en (its primary ingest) and cdn-en, both on the server's primary application
CDN_KEY = "cdn-drill-key-7f3a9c"  # a fake stream key: it must appear in no log line


@dataclass
class Kill:
    at_s: float  # from T0
    phase: str  # what the event was doing
    killed_on_air: bool  # every output was on the server when the process was killed
    restart_to_air_s: float | None = None  # from the restart to every output back on the server
    orphans_s: float | None = None  # how long the killed process's publishes lingered on the server


@dataclass
class DrillResult:
    kills: list[Kill]
    exit_code: int
    summary: dict[str, Any]
    duplicates: int
    duplicate_notes: list[str]
    incomplete: list[str]  # plan actions the journal does not have as done
    interrupted: list[str]  # attempts left open at the end
    alerts: list[str]
    failures: list[str]  # actions that failed in any of the processes, and resumes that failed
    log_text: str
    wall_s: float
    restarts: int = field(default=0)


EARLIEST_S = -7.5  # the first process starts 9 s before the first session
LATEST_S = SESSION_B[1] - 5.0
SPACING_S = 4.0  # a restarted process has its outputs back (and its journal caught up) before the next kill


def kill_points(rng: random.Random, n: int) -> list[float]:
    """n sorted moments in [EARLIEST_S, LATEST_S] (seconds from T0), at least SPACING_S apart."""
    slack = (LATEST_S - EARLIEST_S) - SPACING_S * (n - 1)
    if slack < 0:
        raise ValueError(f"{n} kills do not fit in one event {SPACING_S:g} s apart")
    cuts = sorted(rng.uniform(0, slack) for _ in range(n))
    return [round(EARLIEST_S + c + i * SPACING_S, 2) for i, c in enumerate(cuts)]


def phase_at(t: float) -> str:
    """What the event is doing t seconds after T0."""
    if t < 0:
        return "preparing" if t < -5 else "standby"
    if t < SESSION_A[1]:
        return "on air (slate)" if t < 4 else "on air (clip)"
    if t < SESSION_A[1] + 1:
        return "ending"
    if t < SESSION_B[0]:
        return "between sessions"
    return "on air (second session)" if t < SESSION_B[1] else "over"


class KillDrill:
    def __init__(self, root: Path, *, lead_s: float = 9.0, extra_args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.lead_s = lead_s
        self.extra_args = extra_args  # more options for `summit run` (e.g. --dashboard PORT)
        self.server = RtmpServer()
        self.local: LocalPlatforms | None = None
        self.t0 = datetime.now(UTC)
        self.schedule_path = root / "drill.yaml"
        self.log_path = root / "summit.jsonl"
        self.env: dict[str, str] = {}

    async def __aenter__(self) -> KillDrill:
        await self.server.start()
        youtube = YouTubeDestination(id="yt-en", kind="youtube", language="en", channel="Drill", credentials="yt-main")
        self.local = await start_local_platforms([youtube], server=self.server, transition_delay_s=0.2)
        _make_clip(self.root / "media" / "drill" / "talk.mp4", 12.0)
        yt = self.local.youtube.config
        secrets = {
            "credentials": {
                "yt-main": {
                    "client_id": yt.client_id,
                    "client_secret": yt.client_secret,
                    "refresh_token": yt.refresh_token,
                },
                "cdn": {"key": CDN_KEY},
            }
        }
        secrets_file = self.root / "secrets.yaml"
        secrets_file.write_text(yaml.safe_dump(secrets))
        secrets_file.chmod(0o600)
        self.env = {
            **os.environ,
            "SUMMIT_YOUTUBE_API_BASE": self.local.youtube_url,
            "SUMMIT_YOUTUBE_TOKEN_URL": self.local.youtube_url + "/token",
            "SUMMIT_YOUTUBE_POLL_INTERVAL_S": "0.2",
            "SUMMIT_YOUTUBE_STREAM_ACTIVE_TIMEOUT_S": "20",
            "SUMMIT_YOUTUBE_HEALTHY_TIMEOUT_S": "1",
            "SUMMIT_YOUTUBE_BACKOFF_INITIAL_S": "0.2",
            "SUMMIT_SECRETS_FILE": str(secrets_file),
        }
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.local is not None:
            await self.local.close()
        await self.server.stop()

    def write_schedule(self) -> None:
        self.t0 = datetime.now(UTC) + timedelta(seconds=self.lead_s)

        def at(s: float) -> str:
            return (self.t0 + timedelta(seconds=s)).isoformat()

        doc = {
            "event": {"id": EVENT_ID, "name": {"en": "Kill drill"}, "timezone": "UTC"},
            "speakers": [
                {"id": "guest", "name": "Guest", "languages": ["en"], "appearance": "prerecorded", "clip": "talk"}
            ],
            "clips": [{"id": "talk", "path": "drill/talk.mp4", "duration": "12s", "language": "en"}],
            "destinations": [
                {"id": "yt-en", "kind": "youtube", "language": "en", "channel": "Drill", "credentials": "yt-main"},
                {"id": "cdn-en", "kind": "rtmp", "language": "en", "url": self.server.url, "key": "cdn"},
            ],
            "sessions": [
                {
                    "id": "a",
                    "title": {"en": "First"},
                    "start": at(SESSION_A[0]),
                    "end": at(SESSION_A[1]),
                    "floor_language": "en",
                    "outputs": ["yt-en", "cdn-en"],
                    "rundown": [
                        {"kind": "slate", "text": "Welcome", "duration": "4s"},
                        {"kind": "clip", "clip": "talk", "speaker": "guest", "duration": "12s"},
                    ],
                },
                {
                    "id": "b",
                    "title": {"en": "Second"},
                    "start": at(SESSION_B[0]),
                    "end": at(SESSION_B[1]),
                    "floor_language": "en",
                    "outputs": ["yt-en", "cdn-en"],
                    "rundown": [{"kind": "slate", "text": "Panel", "duration": "10s"}],
                },
            ],
        }
        self.schedule_path.write_text(yaml.safe_dump(doc, allow_unicode=True))

    def plan(self) -> Plan:
        return plan(load_schedule(self.schedule_path), PlanSettings(media_root=str(self.root / "media")))

    def spawn(self) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "orchestrator.cli", "--log-format", "json", "run", str(self.schedule_path),
                "--state-dir", str(self.root / "state"), "--recordings-dir", str(self.root / "rec"),
                "--media-dir", str(self.root / "media"), *self.extra_args]  # fmt: skip
        with self.log_path.open("a") as log:
            return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, env=self.env, cwd=self.root)

    async def on_air(self) -> bool:
        try:
            return len(await self.server.publishers()) >= OUTPUTS
        except Exception:  # the statistics page is briefly unavailable under load
            return False

    async def _wait_on_air(self, proc: subprocess.Popen[str], kill: Kill, timeout: float) -> None:
        """Until every output is published anew (a publish older than the restart is the killed
        process's, lingering until nginx notices it is gone)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout and proc.poll() is None:
            elapsed = time.monotonic() - started
            try:
                streams = list((await self.server.streams()).values())
            except Exception:  # the statistics page is briefly unavailable under load
                streams = []
            old = [st for st in streams if st.seconds > elapsed + 0.25]
            if not old and kill.orphans_s is None:
                kill.orphans_s = round(elapsed, 3)
            if len([st for st in streams if st.seconds <= elapsed + 0.25]) >= OUTPUTS:
                kill.restart_to_air_s = round(elapsed, 3)
                return
            await asyncio.sleep(0.05)

    def _since_t0(self) -> float:
        return (datetime.now(UTC) - self.t0).total_seconds()

    async def run(self, kill_at: list[float]) -> DrillResult:
        """Start the event, kill the process at each of `kill_at` (seconds from T0, ascending, each
        at least ~3 s after the previous), restart it each time, and let the last one finish."""
        wall = time.monotonic()
        self.write_schedule()
        kills: list[Kill] = []
        proc = self.spawn()
        for at_s in kill_at:
            await asyncio.sleep(max(0.0, at_s - self._since_t0()))
            on_air = await self.on_air()
            proc.kill()  # SIGKILL
            proc.wait(10)
            kill = Kill(at_s=round(self._since_t0(), 2), phase=phase_at(at_s), killed_on_air=on_air)
            proc = self.spawn()
            await self._wait_on_air(proc, kill, timeout=15.0)
            kills.append(kill)
        out, _ = await asyncio.get_running_loop().run_in_executor(None, lambda: proc.communicate(timeout=120))
        lines = out.strip().splitlines()
        summary = json.loads(lines[-1]) if lines else {}
        return self._result(kills, proc.returncode, summary, time.monotonic() - wall)

    def _result(self, kills: list[Kill], code: int, summary: dict[str, Any], wall_s: float) -> DrillResult:
        assert self.local is not None
        the_plan = self.plan()
        journal = SqliteJournal(self.root / "state" / f"{EVENT_ID}.sqlite")
        try:
            incomplete = [a.id for a in the_plan.actions if not journal.done(a.id)]
            interrupted = [a.action for a in journal.interrupted()]
            notes: list[str] = []
            ok_attempts: dict[str, int] = {}
            for attempt in journal.attempts():
                if attempt.outcome == "ok":
                    ok_attempts[attempt.action] = ok_attempts.get(attempt.action, 0) + 1
            notes += [f"{a} done {n} times" for a, n in ok_attempts.items() if n > 1]
            alerts = [a.message for a in journal.alerts()]
        finally:
            journal.close()
        broadcasts = self.local.youtube.broadcast_ids
        sessions = {a.session for a in the_plan.actions}
        if len(broadcasts) != len(sessions):
            notes.append(f"{len(broadcasts)} YouTube broadcasts for {len(sessions)} sessions")
        log_text = self.log_path.read_text() if self.log_path.exists() else ""
        failures = []
        for line in log_text.splitlines():
            if '"action_failed"' in line or '"session_resume_failed"' in line or '"output_resume_failed"' in line:
                entry = json.loads(line)
                failures.append(f"{entry.get('action') or entry.get('session')}: {entry.get('error')}")
        recreated = log_text.count('"youtube_broadcast_recreated"')
        if recreated:
            notes.append(f"{recreated} YouTube broadcast(s) recreated")
        return DrillResult(
            kills=kills,
            exit_code=code,
            summary=summary,
            duplicates=len(notes),
            duplicate_notes=notes,
            incomplete=incomplete,
            interrupted=interrupted,
            alerts=alerts,
            failures=failures,
            log_text=log_text,
            wall_s=round(wall_s, 1),
            restarts=len(kills),
        )


def _make_clip(path: Path, seconds: float) -> None:
    """A small moving test picture with a tone (ffmpeg's testsrc2), made once per drill."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "30", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
