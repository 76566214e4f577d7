"""One session's programme: a thread that makes 30 frames a second in wall time, asks the switcher
what each frame shows and sounds like (`switcher.Switcher`), encodes once and hands packets to the
outputs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import structlog
from av.video.frame import VideoFrame

from orchestrator.clock import Clock
from orchestrator.engine.events import RunEvent
from orchestrator.engine.ports import CueApplied, Notifier, OutputReport, OutputSpec
from orchestrator.media.encoder import AudioEncoder, EncodedPacket, VideoEncoder
from orchestrator.media.loudness import LoudnessChain
from orchestrator.media.publisher import Samples
from orchestrator.media.returns import FrameTap
from orchestrator.media.settings import MediaSettings
from orchestrator.media.sinks import OutputSink
from orchestrator.media.sources import LiveSources, Tick
from orchestrator.media.switcher import Composed, Switcher
from orchestrator.planning.cues import Cue, CueSheet

__all__ = ["MAX_BEHIND_S", "LiveSources", "PipelineStats", "Programme"]  # LiveSources lives in sources

log = structlog.get_logger(__name__)

OUTPUT_ALARM_EVERY_S = 60.0  # an output failing over and over raises one alert a minute
MAX_BEHIND_S = 2.0  # further behind the wall clock than this, frames are skipped to catch up


@dataclass
class PipelineStats:
    frames: int = 0
    max_late_s: float = 0.0  # how far behind its wall time the latest frame was ever made
    late_frames: int = 0  # frames made more than one frame interval after their time
    busy_s: float = 0.0  # wall time spent making frames (pacing waits excluded)
    dropped_frames: int = 0  # frames skipped because the machine fell more than MAX_BEHIND_S behind
    publisher_cpu_s: float = 0.0  # CPU seconds of the closed outputs' publisher processes
    fallbacks: list[str] = field(default_factory=list)


class Programme:
    def __init__(
        self,
        cue_sheet: CueSheet,
        clock: Clock,
        settings: MediaSettings,
        *,
        preroll: Executor,
        on_cue: Callable[[CueApplied], None],
        live: LiveSources | None = None,
        publish: Callable[[RunEvent], None] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.cue_sheet = cue_sheet
        self.session_id = cue_sheet.session_id
        self._notifier = notifier
        self._clock = clock
        self._settings = settings
        # What every frame shows and sounds like; its sources and inputs are opened on the thread.
        self._switcher = Switcher(
            cue_sheet, clock, settings, preroll=preroll, on_cue=on_cue, live=live, publish=publish, notifier=notifier
        )
        # Sound per (language, loudness target): None is the language's programme sound as mixed.
        self._audio_keys: dict[str, tuple[str, float | None]] = {}  # destination → its sound
        self._chains: dict[tuple[str, float], tuple[LoudnessChain, AudioEncoder]] = {}
        self._taps: list[FrameTap] = []
        self._taps_lock = threading.Lock()
        self._samples = Samples()
        self._sinks: dict[str, OutputSink] = {}
        self._sinks_lock = threading.Lock()
        self._want_keyframe = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.stats = PipelineStats(fallbacks=self._switcher.fallbacks)  # the switcher's records
        self.error: str | None = None

    # -- called from the event loop --------------------------------------------------------

    @property
    def t0(self) -> float:
        """Wall time of frame 0 (frame n stands for t0 + n / fps)."""
        return self._t0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread and wait until its encoders are open, so that frame 0 is on time
        (blocks for some 0.1 s: call it off the event loop)."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"programme {self.session_id}", daemon=True
        )
        self._thread.start()
        ready.wait()
        log.info(
            "programme_started",
            session=self.session_id,
            languages=list(self.cue_sheet.languages),
            rendition=f"{self._settings.width}x{self._settings.height}@{self._settings.fps}",
            pacing=self._settings.pacing,
        )

    def arm(self, cue: Cue) -> None:
        self._switcher.arm(cue)

    def route(self, language: str, mode: str) -> None:
        self._switcher.route(language, mode)

    def add_tap(self, tap: FrameTap) -> None:
        """Feed `tap` every frame from now on (return feeds); ended taps are dropped by themselves."""
        with self._taps_lock:
            self._taps.append(tap)

    def attach(self, spec: OutputSpec, loudness_lufs: float | None = None) -> None:
        if spec.language not in self.cue_sheet.languages:
            raise ValueError(
                f"session {self.session_id}: destination {spec.destination_id} wants language {spec.language!r}, "
                f"but the programme has {list(self.cue_sheet.languages)}"
            )
        with self._sinks_lock:
            if spec.destination_id in self._sinks:
                return
            self._audio_keys[spec.destination_id] = (spec.language, loudness_lufs)
            self._sinks[spec.destination_id] = OutputSink(
                spec, self._samples, self._settings, self.request_keyframe, self._output_alarm(spec.destination_id)
            )
        self.request_keyframe()  # the new output starts at the next frame, not up to 2 s later

    def _output_alarm(self, destination_id: str) -> Callable[[str], None] | None:
        """An output's write or connect error as an alert while it happens (a full disk, a refused
        ingest), not only in its report at the end; at most one a minute per output."""
        notifier = self._notifier
        if notifier is None:
            return None
        last = [-1e9]

        def alarm(message: str) -> None:
            now = time.monotonic()
            if now - last[0] >= OUTPUT_ALARM_EVERY_S:
                last[0] = now
                notifier.alert("error", message, session=self.session_id, destination=destination_id)

        return alarm

    def detach(self, destination_id: str) -> OutputReport | None:
        with self._sinks_lock:
            sink = self._sinks.pop(destination_id, None)
            self._audio_keys.pop(destination_id, None)
        if sink is None:
            return None
        report = sink.close()
        self.stats.publisher_cpu_s += sink.cpu_s
        return report

    def request_keyframe(self) -> None:
        self._want_keyframe.set()

    def stop(self) -> list[OutputReport]:
        """Stop making frames, flush the encoders into the outputs, close every output cleanly."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._sinks_lock:
            sinks, self._sinks = list(self._sinks.values()), {}
        reports = [s.close() for s in sinks]
        self.stats.publisher_cpu_s += sum(s.cpu_s for s in sinks)
        self._switcher.close()  # closed by the thread already, unless it never started
        log.info(
            "programme_stopped",
            session=self.session_id,
            frames=self.stats.frames,
            max_late_ms=round(self.stats.max_late_s * 1000, 1),
            late_frames=self.stats.late_frames,
        )
        return reports

    # -- the pipeline thread ---------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        s = self._settings
        try:
            try:
                venc = VideoEncoder(s)
                aencs = {lang: AudioEncoder(s) for lang in self.cue_sheet.languages}
                for lang, enc in aencs.items():
                    self._samples.audio[lang] = enc.sample
                self._switcher.warm_up()  # draw the stand-by card before frame 0 is due
                self._t0 = time.time()
            finally:
                ready.set()
            n = 0
            while not self._stop.is_set():
                wall = self._t0 + n / s.fps
                if s.pacing == "realtime":
                    delay = wall - time.time()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    late = time.time() - wall
                    if late > MAX_BEHIND_S:
                        n = self._skip(n, late, aencs)
                        continue
                    self.stats.max_late_s = max(self.stats.max_late_s, late)
                    if late > 1 / s.fps:
                        self.stats.late_frames += 1
                began = time.monotonic()
                self._frame(n, wall, venc, aencs)
                self.stats.busy_s += time.monotonic() - began
                n += 1
            flushed: dict[tuple[str, float | None], list[EncodedPacket]] = {
                (lang, None): enc.flush() for lang, enc in aencs.items()
            }
            flushed.update({key: enc.flush() for key, (_, enc) in self._chains.items()})
            self._fan_out(venc.flush(), flushed)
        except Exception as exc:  # the thread must say why the programme stopped
            self.error = f"session {self.session_id}: programme failed: {exc!r}"
            log.exception("programme_failed", session=self.session_id)
        finally:
            self._switcher.close()

    def _skip(self, n: int, late: float, aencs: dict[str, AudioEncoder]) -> int:
        """Far behind the wall clock (the machine is overloaded): skip frames rather than drift,
        so that cues stay on time. The audio clocks skip with the picture, keeping them in sync."""
        skipped = int(late * self._settings.fps)
        for enc in [*aencs.values(), *(enc for _, enc in self._chains.values())]:
            enc.skip(skipped * self._settings.samples_per_frame)
        self.stats.dropped_frames += skipped
        log.error("frames_dropped", session=self.session_id, frames=skipped, behind_s=round(late, 2))
        return n + skipped

    def _frame(self, n: int, wall: float, venc: VideoEncoder, aencs: dict[str, AudioEncoder]) -> None:
        tick = Tick(n, wall, self._clock.to_event(wall), self._settings.samples_per_frame)
        composed = self._switcher.frame(tick)
        picture, sounds = composed.video, composed.sounds
        key = self._want_keyframe.is_set()
        if key:
            self._want_keyframe.clear()
        video = venc.encode(picture, n, force_keyframe=key)
        if self._samples.video is None:
            self._samples.video = venc.sample  # before the first keyframe reaches any output
        audio: dict[tuple[str, float | None], list[EncodedPacket]] = {
            (lang, None): aencs[lang].encode(sound) for lang, sound in sounds.items()
        }
        with self._sinks_lock:
            keys = set(self._audio_keys.values())
        for lang, target in keys:
            if target is None or lang not in sounds:
                continue
            chain = self._chains.get((lang, target))
            if chain is None:  # a new target: its encoder starts on this frame's timestamp
                enc = AudioEncoder(self._settings)
                enc.skip(n * self._settings.samples_per_frame)
                chain = self._chains[(lang, target)] = (LoudnessChain(target, self._settings), enc)
            audio[(lang, target)] = chain[1].encode(chain[0].process(sounds[lang]))
        self._fan_out(video, audio)
        self.stats.frames = n + 1
        self._feed_taps(composed, n, wall, picture)

    def _feed_taps(self, composed: Composed, n: int, wall: float, picture: VideoFrame) -> None:
        with self._taps_lock:
            self._taps = [t for t in self._taps if not t.ended]
            taps = list(self._taps)
        if not taps:
            return
        floor = composed.floor if composed.floor is not None else next(iter(composed.sounds.values()))
        for tap in taps:
            tap.feed(n, wall, picture, floor, composed.speaker)

    # -- fan-out ------------------------------------------------------------------------------

    def _fan_out(self, video: list[EncodedPacket], audio: dict[tuple[str, float | None], list[EncodedPacket]]) -> None:
        """Hand one frame's packets to every output: the shared video, and its language's audio
        (at its destination's loudness)."""
        with self._sinks_lock:
            sinks = [(s, self._audio_keys.get(d, (s.language, None))) for d, s in self._sinks.items()]
        for sink, key in sinks:
            packets = video + audio.get(key, [])
            if packets:
                sink.feed(packets)
