"""A real RTMP server on loopback: Debian's nginx with the rtmp module, started and stopped by us.

Used by the platform emulators (their ingest URLs point here, and a stream counts as `active` only
when nginx reports a publisher) and by media tests that need a real sink.

    async with RtmpServer(record_dir=tmp_path) as server:
        server.url                      # rtmp://127.0.0.1:PORT/live
        server.backup_url               # rtmp://127.0.0.1:PORT/backup (a second application)
        await server.publishers()       # {"streamName", ...} publishing now on `live`
        await server.streams()          # {"streamName": PublishedStream(...)} with codec details
        await server.wait_for_publisher("streamName", timeout=10)

Stable API (other tests rely on it): the constructor's keyword arguments, `start()`, `stop()`,
`url`, `backup_url`, `stat_url`, `port`, `publishers()`, `streams()`, `wait_for_publisher()`,
`wait_until_gone()`, `recordings_of()` and the async context manager.

Recordings (with `record_dir`): nginx-rtmp tells us of every finished recording (`on_record_done`
and `on_publish_done` notifications to a loopback endpoint we serve: application, stream name and
the file's path), so what was recorded is known without reading file names:

        server.recordings(app="live", name="cam1")   # [Recording(app, name, path, started, ended)]
        await server.wait_recordings_done()          # every publish so far has its file closed
        server.name_recordings(namer)                # namer(app, name, started, ended) -> file stem
        server.move_recording(recording.path, target)

nginx names a recording after its stream (`<name>-<unix time>.flv`); a stream name is often a
stream key. Whoever issued the name (a platform emulator) registers a namer, and the finished file
is renamed to the stem it gives (e.g. the broadcast id) — no key stays in a file name, also for a
file whose notification never came (nginx stopped or killed mid-publish: named at `stop()`). Names
no namer claims keep nginx's name when they are `public_names` (generic destinations, pushed under
their id) — or when the server was given no `public_names` at all; any other becomes
`unidentified-<started, UTC>.flv`.

After a SIGKILL of the process that ran it, nobody renames anything: nginx dies with its parent and
the files keep their key-based names. So while recording, the server asks the namers about every
publisher it sees (its statistics, twice a second) and writes the answer to a ledger in the record
folder (`.names.json`, mode 0600: salted digests of the stream names → file stems, never a name);
a server started on a folder that holds such leftovers renames them at once, before nginx starts —
by the ledger, else as `unidentified-<started>.flv` (or nginx's own name for a public name).

nginx runs in the foreground (`daemon off; master_process off;` — the live module shares state only
within one worker) with every path (pid, logs, temp dirs) in a private work directory, and is
stopped by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from orchestrator.standins.children import die_with_parent

log = structlog.get_logger(__name__)

NGINX = "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


class RtmpServerError(RuntimeError):
    """nginx could not be started (binary or module missing, port taken, bad config)."""


@dataclass(frozen=True)
class PublishedStream:
    """One stream a publisher is pushing, as nginx-rtmp's statistics report it."""

    app: str
    name: str
    seconds: float  # how long it has been publishing
    bytes_in: int
    video_codec: str | None = None  # "H264"
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    video_profile: str | None = None
    audio_codec: str | None = None  # "AAC"
    audio_channels: int | None = None
    sample_rate: int | None = None
    video_bitrate: int | None = None  # bits per second, as nginx last measured (0 at first)
    audio_bitrate: int | None = None

    @property
    def has_media(self) -> bool:
        """Media has arrived: nginx has read the stream's codec headers."""
        return self.video_codec is not None or self.audio_codec is not None


@dataclass(frozen=True)
class Recording:
    """One finished recording: a publish on `app` as `name`, kept in the file at `path`.

    `ended` is when nginx told us the file was closed (`on_record_done`), `started` that less the
    media's duration in the file (when its first frame arrived); both are wall-clock seconds
    (`time.time()`). `name` is the stream name as published, often a stream key: keep it in
    memory, never in a file name or a log.

    (Not `on_publish` for the start: nginx holds the publish until that notification is answered,
    and an in-process PyAV publisher holds the GIL while it waits for nginx — a deadlock.)"""

    app: str
    name: str
    path: Path
    started: float
    ended: float


# What nginx calls a recording with `record_unique on`: "<stream name>-<unix seconds>.flv".
_NGINX_RECORDING = re.compile(r"^(?P<name>.+)-(?P<started>\d{9,11})\.flv$")

# namer(app, name, started, ended) → the recording's file stem, or None to leave it to another.
RecordingNamer = Callable[[str, str, float, float], str | None]

# nginx closes a recording and tells us a few milliseconds after the publish ends (publish_done);
# a publish whose record_done never comes (nginx refused it) stops counting after this long.
_RECORD_DONE_GRACE_S = 1.0

# How often the statistics are read to learn each publisher's file stem before nginx could be killed.
_LEDGER_POLL_S = 0.5
LEDGER_FILE = ".names.json"


class NameLedger:
    """What each recorded stream's file is to be called, kept on disk for after a crash: salted
    SHA-256 digests of (application, stream name) → file stem. A stream name is often a key, so it
    is never written, only its digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._salt = secrets.token_hex(16)
        self._stems: dict[str, str] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self._salt = str(data["salt"])
            self._stems = {str(k): str(v) for k, v in dict(data["stems"]).items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError):  # unreadable: start afresh, say so
            log.warning("rtmp_name_ledger_unreadable", file=str(path))

    def _digest(self, app: str, name: str) -> str:
        return hmac.new(self._salt.encode(), f"{app}/{name}".encode(), hashlib.sha256).hexdigest()

    def stem(self, app: str, name: str) -> str | None:
        return self._stems.get(self._digest(app, name))

    def remember(self, app: str, name: str, stem: str) -> None:
        digest = self._digest(app, name)
        if self._stems.get(digest) == stem:
            return
        self._stems[digest] = stem
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"salt": self._salt, "stems": self._stems}, f)
        os.replace(tmp, self.path)  # a kill mid-write leaves the previous ledger whole


def unidentified_stem(started: float) -> str:
    """A neutral name for a recording whose stream nobody can identify (never its key); its time
    is not nginx's `-<unix seconds>` form, so it is never taken for a stream name again."""
    return f"unidentified-{datetime.fromtimestamp(started, UTC):%Y%m%dT%H%M%SZ}"


def flv_duration(path: Path) -> float | None:
    """Seconds of media in an FLV file: the timestamp of its last tag (nginx-rtmp starts each
    recording at 0), read from the end of the file; None if it is not a complete FLV."""
    try:
        with path.open("rb") as f:
            if f.read(3) != b"FLV":
                return None
            end = f.seek(0, 2)
            if end < 13 + 15:
                return 0.0
            f.seek(end - 4)
            last = int.from_bytes(f.read(4), "big")  # PreviousTagSize of the last tag
            if last < 11 or last > end - 13:
                return None
            f.seek(end - 4 - last)
            header = f.read(11)
    except OSError:
        return None
    ts = int.from_bytes(header[4:7], "big") | (header[7] << 24)
    return ts / 1000.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free at this moment (the caller retries if someone takes it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def parse_stat(xml_text: str) -> list[PublishedStream]:
    """Streams with a publisher, from nginx-rtmp's `rtmp_stat all` XML."""
    root = ET.fromstring(xml_text)
    found: list[PublishedStream] = []
    for app in root.iter("application"):
        app_name = app.findtext("name") or ""
        for stream in app.iter("stream"):
            # A stream entry also exists while only players wait for it; only <publishing/> counts.
            if stream.find("publishing") is None:
                continue
            video = stream.find("meta/video")
            audio = stream.find("meta/audio")
            found.append(
                PublishedStream(
                    app=app_name,
                    name=stream.findtext("name") or "",
                    seconds=_num(stream.findtext("time"), float, 0.0) / 1000.0,
                    bytes_in=_num(stream.findtext("bytes_in"), int, 0),
                    video_codec=video.findtext("codec") if video is not None else None,
                    width=_num(video.findtext("width"), int) if video is not None else None,
                    height=_num(video.findtext("height"), int) if video is not None else None,
                    frame_rate=_num(video.findtext("frame_rate"), float) if video is not None else None,
                    video_profile=video.findtext("profile") if video is not None else None,
                    audio_codec=audio.findtext("codec") if audio is not None else None,
                    audio_channels=_num(audio.findtext("channels"), int) if audio is not None else None,
                    sample_rate=_num(audio.findtext("sample_rate"), int) if audio is not None else None,
                    video_bitrate=_num(stream.findtext("bw_video"), int),
                    audio_bitrate=_num(stream.findtext("bw_audio"), int),
                )
            )
    return found


def _num(text: str | None, kind: Callable[[str], Any], default: Any = None) -> Any:
    try:
        return kind(text) if text not in (None, "") else default
    except ValueError:
        return default


class RtmpServer:
    """nginx-rtmp on free loopback ports, with a statistics endpoint for who is publishing.

    `app` and `backup_app` are two live applications: YouTube hands out one stream name for the
    primary and the backup ingest, so pushing both at once needs two applications on one server.
    `record_dir`, when given, keeps everything published (`record all`) as FLV files there.
    """

    def __init__(
        self,
        *,
        app: str = "live",
        backup_app: str = "backup",
        record_dir: Path | str | None = None,
        workdir: Path | str | None = None,
        host: str = "127.0.0.1",
        nginx: str = NGINX,
        module: str = RTMP_MODULE,
        start_timeout: float = 10.0,
        public_names: Iterable[str] | None = None,
    ) -> None:
        self.app = app
        self.backup_app = backup_app
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.host = host
        self._nginx = nginx
        self._module = module
        self._start_timeout = start_timeout
        self._given_workdir = Path(workdir) if workdir is not None else None
        self._workdir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._notify_runner: web.AppRunner | None = None
        # (app, name, clientid) → when its publish ended, while its record_done has not come yet
        self._closing: dict[tuple[str, str, str], float] = {}
        self._recordings: list[Recording] = []
        self._namers: list[RecordingNamer] = []
        self._done: set[tuple[str, str, str]] = set()  # publishes whose record_done came
        # Stream names that are no secret (destination ids): None = unknown, keep unclaimed names.
        self._public = frozenset(public_names) if public_names is not None else None
        self._ledger = NameLedger(self.record_dir / LEDGER_FILE) if self.record_dir is not None else None
        self._ledgered: set[tuple[str, str]] = set()
        self._leftovers: set[Path] = set()  # renamed at start: a previous server's, not this one's
        self._watcher: asyncio.Task[None] | None = None
        self.port = 0
        self.http_port = 0
        self.notify_port = 0

    @staticmethod
    def available(nginx: str = NGINX, module: str = RTMP_MODULE) -> bool:
        """Whether Debian's nginx and its RTMP module are installed here."""
        return Path(nginx).exists() and Path(module).exists()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The primary application: publish to `url + "/" + stream_name`."""
        self._require_started()
        return f"rtmp://{self.host}:{self.port}/{self.app}"

    @property
    def backup_url(self) -> str:
        self._require_started()
        return f"rtmp://{self.host}:{self.port}/{self.backup_app}"

    @property
    def stat_url(self) -> str:
        self._require_started()
        return f"http://{self.host}:{self.http_port}/stat"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.running:
            return
        for path in (self._nginx, self._module):
            if not Path(path).exists():
                raise RtmpServerError(
                    f"{path} is missing: install it with `apt-get install -y nginx libnginx-mod-rtmp`"
                )
        self._workdir = self._given_workdir or Path(tempfile.mkdtemp(prefix="summit-rtmp-"))
        self._workdir.mkdir(parents=True, exist_ok=True)
        for app in (self.app, self.backup_app):
            folder = self.recordings_of(app)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        self._rename_leftovers()
        if self.record_dir is not None and self._notify_runner is None:
            await self._serve_notifications()
        last_error = ""
        # Free ports are picked before nginx binds them; another process may win the race.
        for _attempt in range(3):
            self.port, self.http_port = free_port(self.host), free_port(self.host)
            conf = self._workdir / "nginx.conf"
            conf.write_text(self._config())
            self._proc = await asyncio.create_subprocess_exec(
                self._nginx,
                "-p",
                str(self._workdir),
                "-c",
                str(conf),
                "-e",
                str(self._workdir / "error.log"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                # Its own session: the terminal's Ctrl-C or hang-up (SIGHUP is "reload" to nginx)
                # goes to us, who stop it in order; and it dies with us if we are killed.
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
            if await self._wait_ready():
                log.info("rtmp_server_started", url=self.url, stat=self.stat_url, pid=self._proc.pid)
                if self._ledger is not None:
                    self._watcher = asyncio.create_task(self._watch_publishers())
                return
            last_error = self._error_tail()
            await self._kill()
        await self._stop_notifications()
        raise RtmpServerError(f"nginx did not start: {last_error or 'no error logged'}")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self.record_dir is not None and self.running:
            # nginx's fast shutdown closes files without telling us: end the publishes first, so
            # their recordings are finished (and renamed) as usual.
            with contextlib.suppress(Exception):
                if await self._drop_publishers():
                    await self.wait_recordings_done(timeout=3.0)
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._proc is not None:
            pid = self._proc.pid
            await self._kill()
            log.info("rtmp_server_stopped", pid=pid)
        await self._stop_notifications()
        self._adopt_unreported()
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    async def __aenter__(self) -> RtmpServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- who is publishing -------------------------------------------------------------------

    async def streams(self, app: str | None = None) -> dict[str, PublishedStream]:
        """Streams publishing now on `app` (default: the primary application), by name."""
        wanted = app or self.app
        return {s.name: s for s in await self.all_streams() if s.app == wanted}

    async def publishers(self, app: str | None = None) -> set[str]:
        """Names of the streams publishing now on `app` (default: the primary application)."""
        return set(await self.streams(app))

    async def all_streams(self) -> list[PublishedStream]:
        self._require_started()
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        async with self._http.get(self.stat_url) as resp:
            resp.raise_for_status()
            return parse_stat(await resp.text())

    async def wait_for_publisher(
        self, name: str, *, app: str | None = None, timeout: float = 10.0, interval: float = 0.1, media: bool = True
    ) -> PublishedStream:
        """Until `name` publishes; with `media`, also until its codecs are known (the first media
        arrived), which follows the publish command by a few tens of milliseconds."""
        deadline = time.monotonic() + timeout
        while True:
            streams = await self.streams(app)
            found = streams.get(name)
            if found is not None and (not media or found.has_media):
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing published to {app or self.app}/<stream> within {timeout:g} s")
            await asyncio.sleep(interval)

    async def wait_until_gone(
        self, name: str, *, app: str | None = None, timeout: float = 10.0, interval: float = 0.1
    ) -> None:
        deadline = time.monotonic() + timeout
        while name in await self.publishers(app):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"a stream on {app or self.app} still publishing after {timeout:g} s")
            await asyncio.sleep(interval)

    # -- what was recorded -------------------------------------------------------------------

    def recordings(self, *, app: str | None = None, name: str | None = None) -> list[Recording]:
        """Finished recordings (of `app`, as `name`, when given; any otherwise), oldest first."""
        return [
            r
            for r in sorted(self._recordings, key=lambda r: r.started)
            if (app is None or r.app == app) and (name is None or r.name == name)
        ]

    def name_recordings(self, namer: RecordingNamer) -> None:
        """Ask `namer` what to call each finished recording (the first namer with an answer wins)."""
        self._namers.append(namer)

    def move_recording(self, path: Path | str, target: Path | str) -> Path:
        """Move a finished recording's file to `target`; `recordings()` follows it there."""
        path, target = Path(path), Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        self._recordings = [replace(r, path=target) if r.path == path else r for r in self._recordings]
        return target

    async def wait_recordings_done(self, timeout: float = 5.0, interval: float = 0.1) -> bool:
        """Until nothing publishes on a recorded application and every publish that ended has its
        recording finished (nginx closes the file and tells us a moment after the publisher
        leaves); False if some are still open at `timeout`."""
        if self.record_dir is None:
            return True
        deadline = time.monotonic() + timeout
        while True:
            publishing = self.running and any(s.app in (self.app, self.backup_app) for s in await self.all_streams())
            now = time.time()
            closing = [k for k, done in self._closing.items() if now - done < _RECORD_DONE_GRACE_S]
            if not publishing and not closing:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)

    # -- nginx-rtmp notifications ------------------------------------------------------------

    @property
    def notify_url(self) -> str:
        return f"http://{self.host}:{self.notify_port}"

    async def _serve_notifications(self) -> None:
        app = web.Application()
        app.router.add_post("/publish_done", self._on_publish_done)
        app.router.add_post("/record_done", self._on_record_done)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._notify_runner = runner
        self.notify_port = int(runner.addresses[0][1])

    async def _stop_notifications(self) -> None:
        if self._notify_runner is not None:
            await self._notify_runner.cleanup()
            self._notify_runner = None

    async def _on_publish_done(self, request: web.Request) -> web.Response:
        form = await request.post()
        key = (str(form.get("app", "")), str(form.get("name", "")), str(form.get("clientid", "")))
        if key not in self._done:
            self._closing[key] = time.time()
        return web.Response(text="ok")

    async def _on_record_done(self, request: web.Request) -> web.Response:
        form = await request.post()
        app, name, client = str(form.get("app", "")), str(form.get("name", "")), str(form.get("clientid", ""))
        ended = time.time()
        self._closing.pop((app, name, client), None)
        self._done.add((app, name, client))
        path = Path(str(form.get("path", "")))
        folder = self.recordings_of(app)
        if folder is None or path.parent.resolve() != folder.resolve() or not path.is_file():
            log.warning("rtmp_recording_unexpected", app=app, folder=str(path.parent))
            return web.Response(text="ok")
        started = ended - (flv_duration(path) or 0.0)
        path = self._rename(path, self._final_stem(app, name, started, ended))
        self._recordings.append(Recording(app, name, path, started, ended))
        log.info("rtmp_recording_done", app=app, file=path.name, seconds=round(ended - started, 2))
        return web.Response(text="ok")

    def _adopt_unreported(self) -> None:
        """Recordings whose `record_done` never came — nginx ended with the publish still open
        (stopped before its publishers left, killed, crashed) — are named by the namers now, like
        any other: otherwise they would keep nginx's name, the stream key (`backup/<key>-<time>.flv`)."""
        known = {r.path for r in self._recordings} | self._leftovers
        for app in dict.fromkeys((self.app, self.backup_app)):
            folder = self.recordings_of(app)
            if folder is None or not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.flv")):
                found = _NGINX_RECORDING.match(path.name)
                if found is None or path in known:
                    continue
                name, started = found["name"], float(found["started"])
                ended = max(path.stat().st_mtime, started)
                stem = self._final_stem(app, name, started, ended)
                renamed = self._rename(path, stem)
                self._recordings.append(Recording(app, name, renamed, started, ended))
                log.info("rtmp_recording_adopted", app=app, file=renamed.name, named=stem is not None)

    def _rename_leftovers(self) -> None:
        """Recordings a previous server left under nginx's name (its process was killed with
        ours): named now, before anyone lists the folder — by the ledger, else neutrally."""
        for app in dict.fromkeys((self.app, self.backup_app)):
            folder = self.recordings_of(app)
            if folder is None or not folder.is_dir():
                continue
            ours = {r.path for r in self._recordings}  # a server started again keeps what it knew
            for path in sorted(folder.glob("*.flv")):
                found = _NGINX_RECORDING.match(path.name)
                if found is None or path in ours:
                    continue
                name, started = found["name"], float(found["started"])
                known = self._ledger.stem(app, name) if self._ledger is not None else None
                public = self._public is not None and name in self._public
                stem = known or (None if public else unidentified_stem(started))
                renamed = self._rename(path, stem)
                self._leftovers.add(renamed)
                log.info("rtmp_recording_left_over", app=app, file=renamed.name, identified=known is not None)

    async def _watch_publishers(self) -> None:
        """Ask the namers about each publisher as soon as it shows, and keep the answer on disk:
        if we are killed mid-publish, the next start still knows what to call its file."""
        assert self._ledger is not None
        while True:
            await asyncio.sleep(_LEDGER_POLL_S)
            try:
                streams = await self.all_streams()
            except Exception:  # the statistics page is briefly unavailable under load
                continue
            now = time.time()
            for s in streams:
                key = (s.app, s.name)
                if s.app not in (self.app, self.backup_app) or key in self._ledgered:
                    continue
                if self._public is not None and s.name in self._public:
                    self._ledgered.add(key)
                    continue
                stem = self._stem(s.app, s.name, now - s.seconds, now)
                if stem is None:
                    continue  # not (yet) claimed: asked again next time
                self._ledgered.add(key)
                try:
                    self._ledger.remember(s.app, s.name, stem)
                except OSError as err:
                    log.warning("rtmp_name_ledger_unwritable", file=str(self._ledger.path), error=err.strerror)

    def _final_stem(self, app: str, name: str, started: float, ended: float) -> str | None:
        """The namers' answer, else the ledger's; an unclaimed name stays as nginx wrote it only
        when it is public (or nobody said what is public), otherwise it is neutral."""
        stem = self._stem(app, name, started, ended)
        if stem is None and self._ledger is not None:
            stem = self._ledger.stem(app, name)
        if stem is None and self._public is not None and name not in self._public:
            stem = unidentified_stem(started)
        return stem

    def _stem(self, app: str, name: str, started: float, ended: float) -> str | None:
        for namer in self._namers:
            try:
                stem = namer(app, name, started, ended)
            except Exception:  # a namer's bug must not lose the recording
                log.exception("rtmp_recording_namer_failed", app=app)
                continue
            if stem:
                return stem
        return None

    @staticmethod
    def _rename(path: Path, stem: str | None) -> Path:
        if stem is None:
            return path
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).lstrip(".") or "recording"
        target, n = path.with_name(f"{stem}{path.suffix}"), 1
        while target.exists():
            n += 1
            target = path.with_name(f"{stem}-{n}{path.suffix}")
        path.rename(target)
        return target

    async def _drop_publishers(self) -> int:
        """Disconnect whoever publishes on a recorded application (nginx-rtmp's control API)."""
        url = f"http://{self.host}:{self.http_port}/control/drop/publisher"
        dropped = 0
        for s in await self.all_streams():
            if s.app in (self.app, self.backup_app):
                assert self._http is not None
                async with self._http.get(url, params={"app": s.app, "name": s.name}) as resp:
                    await resp.read()
                dropped += 1
        return dropped

    # -- internals ---------------------------------------------------------------------------

    def recordings_of(self, app: str | None = None) -> Path | None:
        """Where an application's recordings go: one folder per application, because a backup
        ingest publishes under the same stream name as its primary."""
        return self.record_dir / (app or self.app) if self.record_dir is not None else None

    def _record(self, app: str) -> str:
        folder = self.recordings_of(app)
        if folder is None:
            return ""
        # nginx names recordings after the stream; `record_unique` keeps each publish apart, and
        # the notifications tell us of each publish and finished file (renamed then, see `_stem`).
        n = self.notify_url
        return (
            f"record all; record_path {folder.absolute()}; record_unique on; "
            f"on_publish_done {n}/publish_done; on_record_done {n}/record_done;"
        )

    def _config(self) -> str:
        assert self._workdir is not None
        w = self._workdir
        apps = "\n".join(
            f"    application {name} {{ live on; allow publish 127.0.0.1; deny publish all; allow play all; {self._record(name)} }}"
            for name in (self.app, self.backup_app)
        )
        return f"""
load_module {self._module};
daemon off;
master_process off;
pid {w}/nginx.pid;
error_log {w}/error.log info;
events {{ worker_connections 512; }}
rtmp {{
  server {{
    listen {self.host}:{self.port};
    chunk_size 4096;
{apps}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {w}/body;
  proxy_temp_path {w}/proxy;
  fastcgi_temp_path {w}/fastcgi;
  uwsgi_temp_path {w}/uwsgi;
  scgi_temp_path {w}/scgi;
  server {{
    listen {self.host}:{self.http_port};
    location /stat {{ rtmp_stat all; }}
    location /control {{ rtmp_control all; }}
  }}
}}
"""

    async def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                return False
            if await _accepts(self.host, self.port) and await _accepts(self.host, self.http_port):
                return True
            await asyncio.sleep(0.05)
        return False

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        # SIGTERM is nginx's fast shutdown; a graceful SIGQUIT would wait for publishers to leave.
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def _error_tail(self) -> str:
        if self._workdir is None:
            return ""
        try:
            lines = (self._workdir / "error.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if "[emerg]" in line or "[alert]" in line or "[error]" in line]
        return (errors or lines[-1:] or [""])[-1]

    def _require_started(self) -> None:
        if not self.port:
            raise RtmpServerError("the RTMP server is not started: call `await server.start()` first")


async def _accepts(host: str, port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
