"""Mux many: each destination copies the session's encoded packets into its own FLV container (a
file, or an RTMP/RTMPS publish).

`Publisher` is the synchronous core: join at a keyframe, re-base timestamps to start near zero
(they stay the programme's frame and sample counts, shifted by the joining keyframe), and after an
error reconnect with exponential backoff, rejoining at a fresh keyframe asked of the pipeline.
`ThreadWriter` runs a publisher on its own thread (files); `publisher.ProcessWriter` runs one in
its own process (network outputs). Either way a slow or dead destination only stalls itself.

Packets travel in per-frame batches (a video packet and its audio): one hand-over per frame keeps
the per-output cost to a fraction of a per-cent of the encode."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.error
import structlog
from av.container import OutputContainer
from av.stream import Stream

from orchestrator.engine.ports import IngestTarget, OutputReport
from orchestrator.media.encoder import EncodedPacket, StreamSample
from orchestrator.media.settings import MediaSettings
from orchestrator.redaction import mask_text

log = structlog.get_logger(__name__)

# How a publisher reports what happened: (level, event, fields). In-process it logs; in a
# publisher process it sends the event to the parent, which logs it with the app's configuration.
Emit = Callable[[str, str, dict[str, Any]], None]


def log_emit(level: str, event: str, fields: dict[str, Any]) -> None:
    getattr(log, level)(event, **fields)


def queue_limit(settings: MediaSettings) -> int:
    """Per-frame batches an output may fall behind before it is cut."""
    return int(settings.output_queue_s * settings.fps)


@dataclass
class Samples:
    """What an output needs to describe its streams: filled by the pipeline as encoders start."""

    video: StreamSample | None = None
    audio: dict[str, StreamSample] = field(default_factory=dict)


@dataclass
class _Connection:
    container: OutputContainer
    video: Stream
    audio: Stream
    video_offset: int  # programme frame index of the keyframe this connection starts with
    audio_offset: int  # the same instant in audio samples
    opened_at: float


class Publisher:
    """Publishes one language programme to one place (synchronous: the caller owns the thread)."""

    def __init__(
        self,
        *,
        session_id: str,
        destination_id: str,
        label: str,
        targets: list[IngestTarget],
        kind: str,
        language: str,
        samples: Samples,
        settings: MediaSettings,
        request_keyframe: Callable[[], None],
        emit: Emit = log_emit,
    ) -> None:
        self.session_id = session_id
        self.destination_id = destination_id
        self.label = label  # "<session>/<destination>[/backup]"
        self._targets = targets  # one, or [primary, backup] for failover
        self._current = 0
        self._kind = kind
        self._language = language
        self._samples = samples
        self._settings = settings
        self._request_keyframe = request_keyframe
        self._emit = emit
        self._conn: _Connection | None = None
        self._backoff = settings.reconnect_initial_s
        self._retry_at = 0.0
        self._keyframe_asked = False
        self._gave_up = False
        self.frames = 0
        self.bytes = 0
        self.connects = 0
        self.errors: list[str] = []

    @property
    def target(self) -> str:
        return mask_text(self._targets[self._current].publish_url().get_secret_value())

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def handle(self, packet: EncodedPacket) -> None:
        if self._conn is None:
            if self._gave_up or time.monotonic() < self._retry_at:
                return
            if not (packet.kind == "video" and packet.keyframe):
                if not self._keyframe_asked:
                    self._keyframe_asked = True
                    self._request_keyframe()
                return
            self._connect(packet)
            if self._conn is None:
                return
        conn = self._conn
        try:
            if packet.kind == "video":
                conn.container.mux(packet.to_av(conn.video, conn.video_offset))
                self.frames += 1
            else:
                # AAC priming puts the first packet 1024 samples before the frame it belongs to.
                if packet.pts < conn.audio_offset - 1024:
                    return
                conn.container.mux(packet.to_av(conn.audio, conn.audio_offset))
            self.bytes += len(packet.data)
            if self._backoff > self._settings.reconnect_initial_s and time.monotonic() - conn.opened_at > 10:
                self._backoff = self._settings.reconnect_initial_s  # a stable connection resets the backoff
        except (av.error.FFmpegError, OSError) as exc:
            self._error(f"write failed: {exc}")
            self._disconnect(trailer=False)
            self._schedule_retry()

    def lost(self, why: str) -> None:
        """Packets were dropped before reaching us: the stream cannot go on without a gap, so
        close this connection and rejoin at the next keyframe."""
        self._error(why)
        self._disconnect(trailer=False)

    def close(self) -> OutputReport:
        self._disconnect(trailer=True)
        return OutputReport(
            self.destination_id, self.session_id, self.target, self.frames, self.bytes, list(self.errors)
        )

    def _connect(self, keyframe: EncodedPacket) -> None:
        url = self._targets[self._current].publish_url().get_secret_value()
        video_sample = self._samples.video
        audio_sample = self._samples.audio.get(self._language)
        if video_sample is None or audio_sample is None:
            return  # the encoders have not started yet; the next keyframe will do
        try:
            if self._kind == "file":
                Path(url).parent.mkdir(parents=True, exist_ok=True)
                # Every packet straight to disk: a killed process keeps what it recorded.
                container = av.open(url, "w", format="flv", options={"flush_packets": "1"})
            else:
                # PyAV opens output I/O without options, so no write timeout can be set: a peer
                # that vanishes without a reset blocks this publisher until TCP gives up, and the
                # queue limit in front of it cuts the output meanwhile.
                container = av.open(url, "w", format="flv", options={"flvflags": "no_duration_filesize"})
            try:
                video = video_sample.add_to(container)
                audio = audio_sample.add_to(container)
                container.start_encoding()
            except BaseException:
                container.close()
                raise
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self._error(f"cannot open: {exc}")
            self._schedule_retry()
            return
        spf = self._settings.samples_per_frame
        self._conn = _Connection(container, video, audio, keyframe.pts, keyframe.pts * spf, time.monotonic())
        self.connects += 1
        self._keyframe_asked = False
        self._emit(
            "info",
            "output_opened",
            {
                "output": self.label,
                "target": self.target,
                "language": self._language,
                "first_frame": keyframe.pts,
                "connection": self.connects,
            },
        )

    def _disconnect(self, trailer: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.container.close()  # writes the trailer; on a dead connection this fails, which is fine
        except (av.error.FFmpegError, OSError) as exc:
            if trailer:
                self._error(f"close failed: {exc}")
        self._emit(
            "info",
            "output_closed",
            {"output": self.label, "target": self.target, "frames": self.frames, "bytes": self.bytes},
        )

    def _schedule_retry(self) -> None:
        if self._kind == "file":
            self._gave_up = True  # a file that cannot be written will not heal by retrying
            return
        if len(self._targets) > 1:
            self._current = (self._current + 1) % len(self._targets)  # failover: try the other ingest
        self._retry_at = time.monotonic() + self._backoff
        self._emit(
            "warning",
            "output_reconnect_scheduled",
            {"output": self.label, "target": self.target, "in_s": round(self._backoff, 2)},
        )
        self._backoff = min(self._backoff * 2, self._settings.reconnect_max_s)

    def _error(self, message: str) -> None:
        text = mask_text(f"{self.label} → {self.target}: {message}")
        self.errors.append(text)
        self._emit("warning", "output_error", {"output": self.label, "error": text})


_STOP = object()


class ThreadWriter:
    """A publisher on its own thread, fed per-frame batches through a bounded queue."""

    cpu_s = 0.0  # in-process: counted with the programme

    def __init__(self, **kwargs: Any) -> None:
        self._publisher = Publisher(**kwargs)
        self.label: str = kwargs["label"]
        self._queue: queue.Queue[object] = queue.Queue()
        self._limit = queue_limit(kwargs["settings"])
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"output {self.label}", daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return self._publisher.target

    def feed(self, packets: list[EncodedPacket]) -> None:
        if self._queue.qsize() >= self._limit:
            drain(self._queue)
            self._queue.put(f"fell more than {self._limit} frames behind; packets dropped")
        self._queue.put(packets)

    def close(self, timeout: float = 15.0) -> OutputReport:
        self._queue.put(_STOP)
        self._thread.join(timeout)
        report = self._publisher.close() if not self._thread.is_alive() else None
        if report is None:
            report = OutputReport(
                self._publisher.destination_id,
                self._publisher.session_id,
                self.target,
                self._publisher.frames,
                self._publisher.bytes,
                list(self._publisher.errors),
            )
            report.errors.append(f"{self.label}: did not finish writing within {timeout:g} s")
        return report

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            if isinstance(item, str):
                self._publisher.lost(item)
                continue
            assert isinstance(item, list)
            for packet in item:
                self._publisher.handle(packet)


def drain(q: queue.Queue[object], stop_marker: object = _STOP) -> None:
    """Empty a queue, keeping a stop request if there is one."""
    stop = False
    try:
        while True:
            stop = q.get_nowait() is stop_marker or stop
    except queue.Empty:
        pass
    if stop:
        q.put(stop_marker)
