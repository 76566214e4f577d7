"""Helpers and fixtures for the platform tests: a real nginx-rtmp server, both emulators on
loopback, an in-memory journal, log capture, and a PyAV pusher that sends real H.264 + AAC in FLV.
(Named uniquely because test directories here are not packages.)"""

from __future__ import annotations

import asyncio
import fractions
import threading
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import structlog
from structlog.testing import LogCapture

from orchestrator.clock import Clock, ManualClock, SystemClock
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.platforms.settings import FacebookSettings, YouTubeSettings
from orchestrator.schedule.model import FacebookDestination, Session, YouTubeDestination
from orchestrator.standins.emulators.facebook import FacebookEmulator, FacebookEmulatorConfig, start_facebook_emulator
from orchestrator.standins.emulators.ingest import StatMonitor
from orchestrator.standins.emulators.youtube import YouTubeEmulator, YouTubeEmulatorConfig, start_youtube_emulator
from orchestrator.standins.nginx import RtmpServer

CLIENT_ID = "123456-emulated.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-emulated-client-secret"
REFRESH_TOKEN = "1//0emulated-refresh-token-abcdefghijklmnop"
REFRESH_TOKEN_KO = "1//0emulated-ko-channel-refresh-token-qrstuv"  # a second channel, same OAuth client
PAGE_ID = "104857600000001"
PAGE_TOKEN = "EAAGemulatedpagetoken0123456789abcdefghijklmnop"


class MemoryJournal:
    """The `Journal` port in memory (the engine's SQLite journal is tested elsewhere)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.records: dict[str, dict[str, Any]] = {}

    def done(self, action_id: str) -> bool:
        return action_id in self.records

    def record(self, action_id: str, **fields: Any) -> None:
        self.records[action_id] = fields

    def remember(self, key: str, value: str) -> None:
        self.values[key] = value

    def recall(self, key: str) -> str | None:
        return self.values.get(key)


@dataclass
class RecordingNotifier:
    alerts: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)

    def alert(self, level: str, message: str, *, session: str | None = None, destination: str | None = None) -> None:
        self.alerts.append((level, message, session, destination))

    def state(self, session_id: str, state: str, at: datetime) -> None:
        pass


# -- media -------------------------------------------------------------------------------------


def push_flv(
    url: str, seconds: float, stop: threading.Event | None = None, *, width: int = 320, height: int = 180
) -> int:
    """Publish `seconds` of synthetic H.264 + AAC (FLV) to `url` in real time; returns frames sent."""
    out = av.open(url, "w", format="flv", options={"flvflags": "no_duration_filesize"})
    try:
        video = out.add_stream(
            "libx264", rate=30, options={"tune": "zerolatency", "preset": "ultrafast", "g": "30", "bf": "0"}
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        silence = np.zeros((2, 1024), dtype=np.float32)
        start = time.monotonic()
        frames = int(seconds * 30)
        samples = 0
        for i in range(frames):
            if stop is not None and stop.is_set():
                break
            picture = np.full((height, width, 3), (i * 5) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, 30)
            for packet in video.encode(frame):
                out.mux(packet)
            while samples < (i + 1) * 1600:  # 48000 / 30 samples per video frame
                chunk = av.AudioFrame.from_ndarray(silence, format="fltp", layout="stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, samples, fractions.Fraction(1, 48000)
                for packet in audio.encode(chunk):
                    out.mux(packet)
                samples += 1024
            ahead = start + (i + 1) / 30 - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        for packet in video.encode(None):
            out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
        return i + 1
    finally:
        out.close()


class Pusher:
    """Pushes media in a thread until `seconds` pass or `stop()`."""

    def __init__(self, url: str, seconds: float = 30.0) -> None:
        self._stop = threading.Event()
        self.task = asyncio.ensure_future(asyncio.to_thread(push_flv, url, seconds, self._stop))

    async def stop(self) -> int:
        self._stop.set()
        return await self.task


# -- sessions ----------------------------------------------------------------------------------


def make_session(
    sid: str = "s1", *, start: datetime | None = None, minutes: float = 90, title: str = "Climate"
) -> Session:
    start = start or datetime.now(UTC) + timedelta(minutes=30)
    return Session.model_validate(
        {
            "id": sid,
            "title": {"en": f"{title} (EN)", "ko": f"{title} (KO)"},
            "description": {"en": "An English description", "ko": "한국어 설명"},
            "start": start,
            "end": start + timedelta(minutes=minutes),
            "floor_language": "ko",
            "outputs": ["yt-en"],
            "rundown": [{"kind": "slate", "duration": "1m"}],
        }
    )


def youtube_destination(did: str = "yt-en", credentials: str = "seoul-en", **extra: Any) -> YouTubeDestination:
    return YouTubeDestination(
        kind="youtube", id=did, language="en", channel="Seoul EN", credentials=credentials, **extra
    )


def facebook_destination(did: str = "fb-en", credentials: str = "seoul-fb") -> FacebookDestination:
    return FacebookDestination(kind="facebook", id=did, language="en", page=PAGE_ID, credentials=credentials)


# -- servers -----------------------------------------------------------------------------------


@pytest.fixture
async def rtmp_server(tmp_path: Path) -> AsyncIterator[RtmpServer]:
    async with RtmpServer(workdir=tmp_path / "nginx") as server:
        yield server


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yaml"
    youtube_fields = f"client_id: '{CLIENT_ID}', client_secret: '{CLIENT_SECRET}', refresh_token: '{REFRESH_TOKEN}'"
    path.write_text(
        "credentials:\n"
        f"  seoul-en: {{{youtube_fields}}}\n"
        f"  seoul-ko: {{{youtube_fields.replace(REFRESH_TOKEN, REFRESH_TOKEN_KO)}}}\n"
        f"  wrong-yt: {{client_id: '{CLIENT_ID}', client_secret: '{CLIENT_SECRET}', refresh_token: 'not-the-token'}}\n"
        f"  seoul-fb: {{page_id: {PAGE_ID}, page_token: '{PAGE_TOKEN}'}}\n"
        f"  wrong-fb: {{page_id: {PAGE_ID}, page_token: 'EAAGnottherighttoken'}}\n"
        "  arirang: {key: 'arirang-secret-key-0042'}\n"
    )
    path.chmod(0o600)
    return path


@dataclass
class YouTubeWorld:
    emulator: YouTubeEmulator
    base_url: str
    settings: YouTubeSettings
    credentials: CredentialStore
    server: RtmpServer


@dataclass
class FacebookWorld:
    emulator: FacebookEmulator
    base_url: str
    settings: FacebookSettings
    credentials: CredentialStore
    server: RtmpServer


# Short polls and backoffs: the emulators answer at once, and tests must stay quick.
FAST_YOUTUBE: dict[str, Any] = dict(
    poll_interval_s=0.1,
    stream_active_timeout_s=10,
    healthy_timeout_s=0.5,
    transition_timeout_s=5,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    retries=3,
    request_timeout_s=5,
    health_cache_s=0,
)
FAST_FACEBOOK: dict[str, Any] = dict(
    poll_interval_s=0.1,
    media_timeout_s=10,
    live_timeout_s=5,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    retries=3,
    request_timeout_s=5,
)


def fast_youtube_settings(base_url: str, **overrides: Any) -> YouTubeSettings:
    return YouTubeSettings(**{"api_base": base_url, "token_url": base_url + "/token", **FAST_YOUTUBE, **overrides})


def fast_facebook_settings(base_url: str, **overrides: Any) -> FacebookSettings:
    return FacebookSettings(**{"graph_base": base_url, **FAST_FACEBOOK, **overrides})


@pytest.fixture
def clock() -> Clock:
    return SystemClock()


@pytest.fixture
async def youtube(rtmp_server: RtmpServer, secrets_file: Path, clock: Clock) -> AsyncIterator[YouTubeWorld]:
    config = YouTubeEmulatorConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        rtmp_url=rtmp_server.url,
        backup_rtmp_url=rtmp_server.backup_url,
        transition_delay_s=0.2,
        more_channels={REFRESH_TOKEN_KO: "Emulated Korean channel"},
    )
    emulator, runner, base_url = await start_youtube_emulator(
        config, monitor=StatMonitor.for_server(rtmp_server), clock=clock
    )
    try:
        yield YouTubeWorld(
            emulator, base_url, fast_youtube_settings(base_url), CredentialStore(secrets_file), rtmp_server
        )
    finally:
        await runner.cleanup()


@pytest.fixture
async def facebook(rtmp_server: RtmpServer, secrets_file: Path, clock: Clock) -> AsyncIterator[FacebookWorld]:
    config = FacebookEmulatorConfig(
        page_id=PAGE_ID,
        page_token=PAGE_TOKEN,
        rtmp_url=rtmp_server.url,
        backup_rtmp_url=rtmp_server.backup_url,
        watch_interval_s=0.1,
    )
    emulator, runner, base_url = await start_facebook_emulator(
        config, monitor=StatMonitor.for_server(rtmp_server), clock=clock
    )
    try:
        yield FacebookWorld(
            emulator, base_url, fast_facebook_settings(base_url), CredentialStore(secrets_file), rtmp_server
        )
    finally:
        await runner.cleanup()


@pytest.fixture
def journal() -> MemoryJournal:
    return MemoryJournal()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    yield ManualClock(datetime(2020, 6, 2, 12, 0, tzinfo=UTC))


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event at any level (the suite's logging config filters below warning)."""
    saved = structlog.get_config()
    capture = LogCapture()
    structlog.configure(processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(0))
    try:
        yield capture.entries
    finally:
        structlog.configure(**saved)


def events(entries: list[MutableMapping[str, Any]]) -> list[str]:
    return [e["event"] for e in entries]


async def eventually(check: Any, timeout: float = 5.0, interval: float = 0.1) -> Any:
    """Await `check()` until it returns something truthy (platforms report media with a delay)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval)
