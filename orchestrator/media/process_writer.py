"""Network outputs in their own process.

libavformat keeps the GIL while it opens an RTMP connection (PyAV calls `avio_open` and
`avformat_write_header` without releasing it): measured 175 ms for the handshake with nginx on
loopback, longer against a distant ingest, up to the TCP timeout for a host that does not answer.
In-process, every (re)connect of one destination would freeze the programme and every other
output. So each RTMP target runs its `Publisher` in a child process (forkserver, preloaded with
this module: a child starts in milliseconds), fed with encoded packets over a pipe. The stream key
travels in the pickled arguments, never on a command line."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import multiprocessing.spawn
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from orchestrator.engine.ports import IngestTarget, OutputReport
from orchestrator.media import fork_server
from orchestrator.media.encoder import EncodedPacket
from orchestrator.media.publisher import Emit, Publisher, Samples, drain, log_emit, queue_limit
from orchestrator.media.settings import MediaSettings
from orchestrator.redaction import mask_text

log = structlog.get_logger(__name__)

_STOP = object()
_OVERFLOW = object()
# Packets cross to the publisher process in batches gathered over this long. Each hand-over costs
# a wake-up on both sides (measured ~0.1 ms of CPU each); at one per frame that made an extra
# destination cost 5 % of the encode, at one per 0.1 s it is under 2 %. 0.1 s more latency is
# nothing next to a platform's seconds of buffering.
BATCH_S = 0.1
_prep_lock = threading.Lock()


def _mp() -> multiprocessing.context.ForkServerContext:
    return fork_server.context()


class _Popen(multiprocessing.popen_forkserver.Popen):
    """Starts a child without re-running the parent's main module in it. A publisher needs only
    this module (preloaded in the fork server); re-running `__main__` (the `summit` script, a
    benchmark) would import the whole application again in every output's process."""

    def _launch(self, process_obj: Any) -> None:
        with _prep_lock:  # the patch is process-wide for the few milliseconds of a launch
            original = multiprocessing.spawn.get_preparation_data

            def without_main(name: str) -> dict[str, Any]:
                data = original(name)
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
                return data

            multiprocessing.spawn.get_preparation_data = without_main
            try:
                super()._launch(process_obj)  # type: ignore[misc]  # private in the stdlib (no stub), unchanged since 3.4
            finally:
                multiprocessing.spawn.get_preparation_data = original


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


def warm_up() -> None:
    """Start the fork server now (it imports the publisher's media stack once, about half a second),
    so that the first network output does not wait for it. `summit run` calls `fork_server.warm_up`
    earlier still, before its own imports; this is a no-op then."""
    fork_server.warm_up()


class ProcessWriter:
    """The parent's side of a `Publisher` running in a child process (same interface as `ThreadWriter`)."""

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
        self._emit = emit  # the publisher process's log lines come back through here
        self.session_id = session_id
        self.destination_id = destination_id
        self.label = label
        self._targets = targets
        self._kind = kind
        self._language = language
        self._samples = samples
        self._settings = settings
        self._request_keyframe = request_keyframe
        self._queue: queue.Queue[object] = queue.Queue()
        self._max_queue = queue_limit(settings)
        self._report: OutputReport | None = None
        self._reported = threading.Event()
        self.errors: list[str] = []
        self.restarts = 0
        self.cpu_s = 0.0  # CPU seconds the publisher process(es) used (they are not our children)
        self._receiver: threading.Thread | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        # When each unanswered batch was sent, and its size: an ack counts its bytes as delivered.
        self._unacked: collections.deque[tuple[float, int]] = collections.deque()
        self.bytes = 0  # acknowledged by the publisher process (written to its output)
        # Starting the process is left to the sender thread: the caller may be the event loop.
        self._thread = threading.Thread(target=self._send_loop, name=f"output {label}", daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return " | ".join(mask_text(t.publish_url().get_secret_value()) for t in self._targets)

    def feed(self, packets: list[EncodedPacket]) -> None:
        oldest = self._unacked[0][0] if self._unacked else None
        if self._queue.qsize() >= self._max_queue or (
            oldest is not None and time.monotonic() - oldest > self._settings.output_queue_s
        ):
            # The child has not finished a batch for that long: it hangs in libavformat (a connect
            # or a write to a peer that vanished without a reset; no timeout can be set there).
            # Kill it; the sender thread starts a fresh one, which reconnects.
            self._drop(f"publisher stuck for {self._settings.output_queue_s:g} s; packets dropped, restarting it")
            self._unacked.clear()
            proc = self._proc
            if proc is not None and proc.is_alive():
                proc.kill()
        self._queue.put(packets)

    def close(self, timeout: float = 15.0) -> OutputReport:
        self._queue.put(_STOP)
        self._thread.join(timeout)
        report = self._report or OutputReport(self.destination_id, self.session_id, self.target)
        if self._report is None:
            report.errors.append(f"{self.label}: the publisher process did not report")
        report.errors[:0] = self.errors
        return report

    # -- the sender thread ---------------------------------------------------------------------

    def _send_loop(self) -> None:
        stopping = False
        while not stopping:
            try:
                proc, conn = self._spawn()
            except Exception as exc:
                self._error(f"cannot start the publisher process: {exc!r}")
                self._discard_until_stop()
                return
            stopping = self._forward(conn)
            if stopping:
                # A trailer takes milliseconds; a child that does not answer in seconds is stuck
                # (e.g. connecting to a host that never replies) and is killed.
                self._reported.wait(5)
            proc.join(1 if stopping else 0.5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            if self._receiver is not None:
                self._receiver.join(5)  # the child's exit closed its end: the receiver has its EOF
            conn.close()
            self._unacked.clear()
            if not stopping:
                self.restarts += 1
                self._error(f"publisher process ended (exit code {proc.exitcode}); starting another")
                time.sleep(min(self._settings.reconnect_max_s, self._settings.reconnect_initial_s * 2**self.restarts))

    def _spawn(self) -> tuple[multiprocessing.process.BaseProcess, multiprocessing.connection.Connection]:
        ctx = _mp()
        parent, child = ctx.Pipe(duplex=True)
        config = {
            "session_id": self.session_id,
            "destination_id": self.destination_id,
            "label": self.label,
            "targets": self._targets,
            "kind": self._kind,
            "language": self._language,
            "settings": self._settings.model_dump(),
        }
        proc = _Process(target=_child_main, args=(child, config), name=f"publisher {self.label}", daemon=True)
        proc.start()
        self._proc = proc
        child.close()
        self._receiver = threading.Thread(
            target=self._receive_loop, args=(parent,), name=f"output {self.label} receiver", daemon=True
        )
        self._receiver.start()
        return proc, parent

    def _forward(self, conn: multiprocessing.connection.Connection) -> bool:
        """Forward packets until told to stop (True) or the child dies (False)."""
        samples_sent = False
        first = True  # the first batch goes at once: it holds the keyframe the child connects on

        def send_packets(packets: list[EncodedPacket]) -> None:
            nonlocal samples_sent
            if not samples_sent and self._samples.video is not None:
                conn.send(("samples", self._samples.video, self._samples.audio.get(self._language)))
                samples_sent = True
            # before sending: the ack may come back at once
            self._unacked.append((time.monotonic(), sum(len(p.data) for p in packets)))
            conn.send(("packets", packets))

        try:
            while True:
                items = [self._queue.get()]
                if items[0] is not _STOP and not first:
                    time.sleep(BATCH_S)
                    items += _take_all(self._queue)
                first = False
                packets: list[EncodedPacket] = []
                for item in items:
                    if item is _STOP or item is _OVERFLOW:
                        if packets:
                            send_packets(packets)
                            packets = []
                        if item is _STOP:
                            conn.send(("close",))
                            return True
                        conn.send(("lost",))
                        continue
                    assert isinstance(item, list)
                    packets += item
                if packets:
                    send_packets(packets)
        except (OSError, EOFError, ValueError):
            return False

    def _receive_loop(self, conn: multiprocessing.connection.Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == "ack":
                if self._unacked:
                    self.bytes += self._unacked.popleft()[1]
            elif kind == "keyframe":
                self._request_keyframe()
            elif kind == "log":
                _level, event, fields = message[1:]
                self._emit(_level, event, fields)
            elif kind == "report":
                self._report, cpu_s = message[1], message[2]
                self.cpu_s += cpu_s
                self._reported.set()

    def _drop(self, why: str) -> None:
        drain(self._queue, _STOP)
        self._queue.put(_OVERFLOW)
        self._error(why)

    def _discard_until_stop(self) -> None:
        while self._queue.get() is not _STOP:
            pass

    def _error(self, message: str) -> None:
        text = mask_text(f"{self.label}: {message}")
        self.errors.append(text)
        log.warning("output_error", output=self.label, error=text)


def _take_all(q: queue.Queue[object]) -> list[object]:
    items: list[object] = []
    try:
        while True:
            items.append(q.get_nowait())
    except queue.Empty:
        return items


_PR_SET_PDEATHSIG = 1


def _die_with_fork_server() -> None:
    """SIGKILL this publisher when its parent, the fork server, dies. The fork server exits as soon
    as the orchestrator is gone, even killed -9 (`forkserver_guard`); a publisher hung in a connect
    would not read its pipe's end-of-file, and would keep pushing to a platform with nobody to stop it."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent or parent == 1:  # orphaned before the prctl took hold
        os._exit(1)


def _child_main(conn: multiprocessing.connection.Connection, config: dict[str, Any]) -> None:
    """The publisher process: a `Publisher` fed from the pipe; events and the report go back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it closes us cleanly
    _die_with_fork_server()
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(message)

    samples = Samples()
    language = config["language"]
    # The publisher runs right here, on the receiving thread: when the network blocks it, the pipe
    # fills and the parent's queue limit takes over.
    publisher = Publisher(
        session_id=config["session_id"],
        destination_id=config["destination_id"],
        label=config["label"],
        targets=config["targets"],
        kind=config["kind"],
        language=language,
        samples=samples,
        settings=MediaSettings(**config["settings"]),
        request_keyframe=lambda: send(("keyframe",)),
        emit=lambda level, event, fields: send(("log", level, event, fields)),
    )
    try:
        while True:
            message = conn.recv()
            kind = message[0]
            if kind == "packets":
                for packet in message[1]:
                    publisher.handle(packet)
                send(("ack",))  # the parent's proof that we are not hanging
            elif kind == "samples":
                samples.video = message[1]
                if message[2] is not None:
                    samples.audio[language] = message[2]
            elif kind == "lost":
                publisher.lost("packets were dropped on the way to the publisher process")
            elif kind == "close":
                break
    except (EOFError, OSError):
        pass  # the parent is gone: close what we have
    report = publisher.close()
    send(("report", report, time.process_time()))
    conn.close()
