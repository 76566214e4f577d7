"""How an emulator learns that media really arrives at an ingest URL it handed out.

And which recordings the RTMP server made of what arrived (`RecordingFeed`, an `RtmpServer` with
a `record_dir`): an emulator that is given one reports the recordings of each of its broadcasts
and names their files after them (no stream key in a file name).

Two monitors, one question (`await monitor.stream(app_url, name)` → `PublishedStream | None`):

- `StatMonitor`: asks nginx-rtmp's statistics (an `RtmpServer`, or any nginx `rtmp_stat` URL).
  Exact and cheap; the default whenever the RTMP server is ours.
- `ProbeMonitor`: plays the stream with `ffprobe` for RTMP servers whose statistics we cannot see.
  A probe takes about a second when media flows (longer when not), so results are refreshed in the
  background and the first answer for a new name is "not yet".
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from orchestrator.standins.children import die_with_parent
from orchestrator.standins.nginx import PublishedStream, Recording, RecordingNamer, RtmpServer, parse_stat


class IngestMonitor(Protocol):
    async def stream(self, app_url: str, name: str) -> PublishedStream | None:
        """The stream publishing as `name` on the application at `app_url`, if media arrives."""


class RecordingFeed(Protocol):
    """What an RTMP server recorded (`RtmpServer` is one)."""

    def recordings(self, *, app: str | None = None, name: str | None = None) -> list[Recording]:
        """Finished recordings of `app` as `name` (None: any), oldest first."""

    def name_recordings(self, namer: RecordingNamer) -> None:
        """Have `namer(app, name, started, ended)` give each finished recording's file stem."""


def backup_application(url: str) -> str:
    """The default backup ingest beside a primary one: the same server, a second application
    (`rtmp://h:1935/live` → `rtmp://h:1935/live-backup`). YouTube's backup is another server with the
    same stream name (`b.rtmp.youtube.com`); on one nginx application the two publishes of one
    name would collide ("already publishing") and keep knocking each other off."""
    parts = urlsplit(url)
    app = app_of(url) or "live"
    return urlunsplit((parts.scheme, parts.netloc, f"/{app}-backup", "", ""))


def app_of(url: str) -> str:
    """The RTMP application named by an ingest URL: rtmp://host:port/live?backup=1 → "live"."""
    return urlsplit(url).path.strip("/").split("/", 1)[0]


class StatMonitor:
    """Publishers as nginx-rtmp reports them (`rtmp_stat all`), cached for `ttl` seconds."""

    def __init__(self, fetch: Callable[[], Awaitable[list[PublishedStream]]], ttl: float = 0.25) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._cached: list[PublishedStream] = []
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def for_server(cls, server: RtmpServer, ttl: float = 0.25) -> StatMonitor:
        return cls(server.all_streams, ttl)

    @classmethod
    def for_url(cls, stat_url: str, ttl: float = 0.25) -> StatMonitor:
        async def fetch() -> list[PublishedStream]:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
                http.get(stat_url) as resp,
            ):
                resp.raise_for_status()
                return parse_stat(await resp.text())

        return cls(fetch, ttl)

    async def stream(self, app_url: str, name: str) -> PublishedStream | None:
        async with self._lock:
            if time.monotonic() - self._at > self._ttl:
                self._cached = await self._fetch()
                self._at = time.monotonic()
        app = app_of(app_url)
        return next((s for s in self._cached if s.app == app and s.name == name), None)


class ProbeMonitor:
    """Probes `app_url/name` with ffprobe in the background; answers from the last result."""

    def __init__(self, *, refresh: float = 2.0, timeout: float = 3.0, ffprobe: str = "ffprobe") -> None:
        self._refresh = refresh
        self._timeout = timeout
        self._ffprobe = ffprobe
        self._results: dict[str, tuple[float, PublishedStream | None]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    async def stream(self, app_url: str, name: str) -> PublishedStream | None:
        url = app_url.rstrip("/") + "/" + name
        at, result = self._results.get(url, (float("-inf"), None))
        if time.monotonic() - at > self._refresh and url not in self._running:
            task = asyncio.create_task(self._probe(url, app_of(app_url), name))
            self._running[url] = task
            task.add_done_callback(lambda _t: self._running.pop(url, None))
        return result

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()

    async def _probe(self, url: str, app: str, name: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            self._ffprobe,
            "-v",
            "error",
            "-rw_timeout",
            str(int(self._timeout * 1e6)),
            "-show_entries",
            "stream=codec_type,codec_name,width,height,avg_frame_rate,sample_rate,channels",
            "-of",
            "json",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self._timeout + 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            out = b""
        streams = json.loads(out or b"{}").get("streams", []) if proc.returncode == 0 else []
        self._results[url] = (time.monotonic(), _from_probe(app, name, streams) if streams else None)


def _from_probe(app: str, name: str, streams: list[dict[str, Any]]) -> PublishedStream:  # ffprobe's JSON
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    rate = str(video.get("avg_frame_rate") or "0/0")
    num, _, den = rate.partition("/")
    fps = float(num) / float(den) if den not in ("", "0") else None
    return PublishedStream(
        app=app,
        name=name,
        seconds=0.0,
        bytes_in=0,
        video_codec={"h264": "H264"}.get(str(video.get("codec_name")), video.get("codec_name")),
        width=video.get("width"),
        height=video.get("height"),
        frame_rate=fps,
        audio_codec={"aac": "AAC"}.get(str(audio.get("codec_name")), audio.get("codec_name")),
        audio_channels=audio.get("channels"),
        sample_rate=int(str(audio["sample_rate"])) if audio.get("sample_rate") else None,
    )


@dataclass
class Ingest:
    """Where a standalone emulator's ingest URLs point, and how it sees media arrive there."""

    url: str
    backup_url: str | None
    monitor: IngestMonitor
    server: RtmpServer | None = None  # ours to stop, when we started it

    async def close(self) -> None:
        if isinstance(self.monitor, ProbeMonitor):
            await self.monitor.close()
        if self.server is not None:
            await self.server.stop()


async def open_ingest(
    rtmp_url: str | None, *, rtmp_stat_url: str | None = None, backup_rtmp_url: str | None = None
) -> Ingest:
    """`rtmp_url=None`: start our own nginx-rtmp (a primary and a backup application) and read its
    statistics; else read the statistics at `rtmp_stat_url` when given, or probe streams with
    ffprobe; the backup ingest is `backup_rtmp_url` (None: the emulator's own default)."""
    if rtmp_url is None:
        server = RtmpServer()
        await server.start()
        return Ingest(server.url, server.backup_url, StatMonitor.for_server(server), server)
    monitor: IngestMonitor = StatMonitor.for_url(rtmp_stat_url) if rtmp_stat_url else ProbeMonitor()
    return Ingest(rtmp_url, backup_rtmp_url, monitor)
