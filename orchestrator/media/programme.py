"""One session's programme: a thread that makes 30 frames a second in wall time, applies armed cues
on their frame, mixes every language's sound, encodes once and hands packets to the outputs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np
import structlog
from av.video.frame import VideoFrame

from orchestrator.clock import Clock
from orchestrator.engine.ports import CueApplied, OutputReport, OutputSpec
from orchestrator.media.audio import FLOOR, AudioInput, LanguageMix, feed_input
from orchestrator.media.clip import ClipError, ClipReader
from orchestrator.media.encoder import AudioEncoder, EncodedPacket, VideoEncoder
from orchestrator.media.frames import Audio, Fitter, silence
from orchestrator.media.publisher import Samples
from orchestrator.media.settings import MediaSettings
from orchestrator.media.sinks import OutputSink
from orchestrator.media.slate import SlateRenderer
from orchestrator.media.sources import ClipRuntime, Picture, Recoverable, SlateRuntime, Tick, Unavailable, VideoRuntime
from orchestrator.media.switcher import CueQueue
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, VideoKind, VideoSource

log = structlog.get_logger(__name__)

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


class LiveSources:
    """Where live pictures and booths come from (remote speakers, studio feeds). This base has
    none; `live.RemoteSourceRegistry` is the real one."""

    def warm(self, source: VideoSource) -> None:
        """A cue for `source` is coming: start connecting to it now."""

    def video(self, source: VideoSource, settings: MediaSettings, fitter: Fitter) -> VideoRuntime | None:
        return None

    def booth(self, source: AudioSource, language: str, fallback: AudioInput) -> AudioInput:
        return fallback


class Programme:
    def __init__(
        self,
        programme: CueSheet,
        clock: Clock,
        settings: MediaSettings,
        *,
        preroll: Executor,
        on_cue: Callable[[CueApplied], None],
        live: LiveSources | None = None,
    ) -> None:
        self.programme = programme
        self.session_id = programme.session_id
        self._clock = clock
        self._settings = settings
        self._preroll_pool = preroll
        self._on_cue = on_cue
        self._live = live or LiveSources()
        self._cues = CueQueue()
        self._prerolls: dict[str, Future[ClipReader]] = {}
        self._renderer = SlateRenderer(settings.width, settings.height)
        self._samples = Samples()
        self._sinks: dict[str, OutputSink] = {}
        self._sinks_lock = threading.Lock()
        self._want_keyframe = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.stats = PipelineStats()
        self.error: str | None = None
        # Made on the pipeline thread when it starts (encoders and decoders stay on one thread).
        self._video: VideoRuntime | None = None
        self._cue: Cue | None = None
        self._cue_frame = 0
        self._mixes: dict[str, LanguageMix] = {}
        self._wanted: Recoverable | None = None  # a live source that failed and may come back
        self._fading: tuple[VideoRuntime, int, int] | None = None  # (outgoing source, first frame, frames)
        self._warmed: set[str] = set()

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
            languages=list(self.programme.languages),
            rendition=f"{self._settings.width}x{self._settings.height}@{self._settings.fps}",
            pacing=self._settings.pacing,
        )

    def arm(self, cue: Cue) -> None:
        if self._cues.arm(cue):
            log.info("cue_armed", session=self.session_id, cue=cue.id, at=cue.at.isoformat(), label=cue.label)

    def attach(self, spec: OutputSpec) -> None:
        if spec.language not in self.programme.languages:
            raise ValueError(
                f"session {self.session_id}: destination {spec.destination_id} wants language {spec.language!r}, "
                f"but the programme has {list(self.programme.languages)}"
            )
        with self._sinks_lock:
            if spec.destination_id in self._sinks:
                return
            self._sinks[spec.destination_id] = OutputSink(spec, self._samples, self._settings, self.request_keyframe)
        self.request_keyframe()  # the new output starts at the next frame, not up to 2 s later

    def detach(self, destination_id: str) -> OutputReport | None:
        with self._sinks_lock:
            sink = self._sinks.pop(destination_id, None)
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
        for fut in self._prerolls.values():
            fut.add_done_callback(_close_reader)
        self._prerolls.clear()
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
                aencs = {lang: AudioEncoder(s) for lang in self.programme.languages}
                for lang, enc in aencs.items():
                    self._samples.audio[lang] = enc.sample
                self._mixes = {lang: LanguageMix(lang) for lang in self.programme.languages}
                self._video = SlateRuntime(self.programme.standby, self._renderer)
                self._renderer.frame(self.programme.standby, self._clock.now())  # draw the card before frame 0 is due
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
            self._fan_out(venc.flush(), {lang: enc.flush() for lang, enc in aencs.items()})
        except Exception as exc:  # the thread must say why the programme stopped
            self.error = f"session {self.session_id}: programme failed: {exc!r}"
            log.exception("programme_failed", session=self.session_id)
        finally:
            self._end_fade()
            for runtime in (self._video, self._wanted):
                if runtime is not None:
                    runtime.close()
            for mix in self._mixes.values():
                mix.close()

    def _skip(self, n: int, late: float, aencs: dict[str, AudioEncoder]) -> int:
        """Far behind the wall clock (the machine is overloaded): skip frames rather than drift,
        so that cues stay on time. The audio clocks skip with the picture, keeping them in sync."""
        skipped = int(late * self._settings.fps)
        for enc in aencs.values():
            enc.skip(skipped * self._settings.samples_per_frame)
        self.stats.dropped_frames += skipped
        log.error("frames_dropped", session=self.session_id, frames=skipped, behind_s=round(late, 2))
        return n + skipped

    def _frame(self, n: int, wall: float, venc: VideoEncoder, aencs: dict[str, AudioEncoder]) -> None:
        tick = Tick(n, wall, self._clock.to_event(wall), self._settings.samples_per_frame)
        picture, sounds = self._safe_compose(tick)
        key = self._want_keyframe.is_set()
        if key:
            self._want_keyframe.clear()
        video = venc.encode(picture, n, force_keyframe=key)
        if self._samples.video is None:
            self._samples.video = venc.sample  # before the first keyframe reaches any output
        self._fan_out(video, {lang: aencs[lang].encode(sound) for lang, sound in sounds.items()})
        self.stats.frames = n + 1

    def _safe_compose(self, tick: Tick) -> tuple[VideoFrame, dict[str, Audio]]:
        """Whatever a source or an input does, this frame gets a picture and sound: a failure puts
        the stand-by slate up, with the floor (silent) in every language, on this very frame."""
        try:
            return self._compose(tick)
        except Exception as exc:
            log.exception(
                "frame_failed", session=self.session_id, frame=tick.index, source=getattr(self._video, "name", None)
            )
            for runtime in (self._video, self._wanted):
                try:
                    if runtime is not None:
                        runtime.close()
                except Exception:
                    log.warning(
                        "source_close_failed", session=self.session_id, source=runtime.name if runtime else None
                    )
            self._wanted = None
            self._fading = None  # closed with the rest, or dropped if it cannot be
            self._video = SlateRuntime(self.programme.standby, self._renderer)
            for mix in self._mixes.values():
                mix.close()
            self._mixes = {lang: LanguageMix(lang) for lang in self.programme.languages}
            self.stats.fallbacks.append(f"frame {tick.index} failed ({exc!r}) → {self._video.name}")
            return self._compose(tick)

    def _compose(self, tick: Tick) -> tuple[VideoFrame, dict[str, Audio]]:
        """Apply the cues due on this frame, and make its picture and every language's sound."""
        self._preroll(tick.wall)
        floor_before: Audio | None = None
        applied: Cue | None = None
        due = self._cues.due(tick.event)
        if due:
            applied = due[-1]
            floor_before = self._take(due, tick)
        elif self._wanted is not None and self._wanted.recovered():
            floor_before = self._replace(tick, self._wanted, keep_old=False)
            log.info("source_recovered", session=self.session_id, frame=tick.index, showing=self._wanted.name)
            self._wanted = None
        picture, fallback = self._render(tick)
        if fallback is not None:
            floor_before = silence(tick.samples)  # the failed source has nothing to fade out
        if self._fading is not None:
            picture = self._dissolve(tick, picture)
        if applied is not None:
            self._record(applied, tick, fallback)
        sounds = {lang: mix.mix(tick.samples, picture.audio, floor_before) for lang, mix in self._mixes.items()}
        return picture.video, sounds

    def _render(self, tick: Tick) -> tuple[Picture, str | None]:
        """This frame's picture; when the current source cannot give one, its fallback's (on this
        very frame, so the output never misses a frame) and what happened."""
        assert self._video is not None
        picture = self._video.render(tick)
        if picture is not None:
            return picture, None
        reason = f"{self._video.name}: {self._video.failure}"
        if isinstance(self._video, Recoverable) and self._wanted is None:
            self._wanted = self._video  # a live source may come back; keep watching it
        else:
            self._video.close()
        self._video = self._fallback(tick, reason)
        picture = self._video.render(tick)
        if picture is None:  # a backup that cannot play either: the slates always can
            reason = f"{reason}; {self._video.name}: {self._video.failure}"
            self._video.close()
            self._video = self._fallback(tick, reason, backup=False)
            picture = self._video.render(tick)
        assert picture is not None
        return picture, f"{reason} → {self._video.name}"

    def _take(self, due: list[Cue], tick: Tick) -> Audio:
        """Apply the newest of the cues due on this frame; returns the outgoing source's sound."""
        cue = due[-1]
        for skipped in due[:-1]:
            self._record(skipped, tick, fallback=f"superseded by cue {cue.id} due on the same frame")
            self._discard_preroll(skipped.id)
        if self._wanted is not None:
            self._wanted.close()
            self._wanted = None
        self._cue, self._cue_frame = cue, tick.index
        self._end_fade()
        fade_frames = round(cue.fade_s * self._settings.fps)
        outgoing = self._video
        floor_before = self._replace(tick, self._open(cue, tick), keep_old=fade_frames > 0)
        if fade_frames > 0 and outgoing is not None:
            self._fading = (outgoing, tick.index, fade_frames)
        for lang, mix in self._mixes.items():
            mix.route(cue.audio.get(lang, FLOOR), self._audio_input)
        return floor_before

    def _dissolve(self, tick: Tick, incoming: Picture) -> Picture:
        """During a fade, mix the outgoing picture into the incoming one; the first frame of the fade
        is the cue's frame, the last one shows the incoming source alone."""
        assert self._fading is not None
        old, start, frames = self._fading
        k = tick.index - start
        if k >= frames:
            self._end_fade()
            return incoming
        before = old.render(tick)
        if before is None:  # the outgoing source gave out: finish the fade at once
            self._end_fade()
            return incoming
        alpha = (k + 1) / (frames + 1)
        a = before.video.to_ndarray().astype(np.float32)
        b = incoming.video.to_ndarray().astype(np.float32)
        mixed = (a + (b - a) * alpha).round().astype(np.uint8)
        return Picture(VideoFrame.from_ndarray(mixed, format="yuv420p"), incoming.audio)

    def _end_fade(self) -> None:
        if self._fading is not None:
            self._fading[0].close()
            self._fading = None

    def _replace(self, tick: Tick, runtime: VideoRuntime, keep_old: bool) -> Audio:
        """Show `runtime` from this frame on; returns the outgoing source's sound for the fade."""
        old = self._video
        assert old is not None
        before = old.render(tick)
        if not keep_old:
            old.close()
        self._video = runtime
        return before.audio if before is not None else silence(tick.samples)

    def _record(self, cue: Cue, tick: Tick, fallback: str | None) -> None:
        applied = CueApplied(cue.id, self.session_id, cue.at, tick.event, tick.wall, tick.index, fallback)
        log.info(
            "cue_applied",
            session=self.session_id,
            cue=cue.id,
            label=cue.label,
            frame=tick.index,
            scheduled=cue.at.isoformat(),
            applied=tick.event.isoformat(),
            fallback=fallback,
        )
        self._on_cue(applied)

    def _open(self, cue: Cue, tick: Tick) -> VideoRuntime:
        """The runtime for a cue's picture. One that cannot be opened is a runtime that fails on
        its first frame, so every failure goes the same way through `_render`."""
        video = cue.video
        if video.kind == VideoKind.SLATE:
            return SlateRuntime(video.slate or self.programme.standby, self._renderer)
        if video.kind == VideoKind.CLIP:
            try:
                return ClipRuntime(self._take_preroll(cue), self._settings.fps)
            except Exception as exc:
                return Unavailable(f"clip {video.clip_path}", str(exc))
        if video.kind == VideoKind.STUDIO and not video.url:
            # No studio feed in this event (an online-only summit): the studio segment is its card.
            return SlateRuntime(video.slate or self.programme.standby, self._renderer)
        live = self._live.video(video, self._settings, Fitter(self._settings.width, self._settings.height))
        if live is not None:
            return live
        return Unavailable(f"{video.kind.value} {video.speaker_id or ''}".rstrip(), "no live feed is configured")

    def _fallback(self, tick: Tick, reason: str, backup: bool = True) -> VideoRuntime:
        """What to show when the wanted picture cannot be shown: the speaker's pre-recorded backup at
        the matching offset, else the source's own slate, else the stand-by slate."""
        video = self._cue.video if self._cue else None
        runtime: VideoRuntime | None = None
        if backup and video is not None and video.backup is not None and video.backup.clip_path:
            since = (tick.index - self._cue_frame) / self._settings.fps
            offset = video.backup.clip_offset_s + since
            try:
                reader = ClipReader(video.backup.clip_path, Fitter(self._settings.width, self._settings.height), offset)
                runtime = ClipRuntime(reader, self._settings.fps)
            except ClipError as exc:
                reason = f"{reason}; backup failed too: {exc}"
        if runtime is None:
            own = video.slate if video is not None and video.kind in (VideoKind.STUDIO, VideoKind.REMOTE) else None
            runtime = SlateRuntime(own or self.programme.standby, self._renderer)
        self.stats.fallbacks.append(f"{reason} → {runtime.name}")
        log.warning(
            "source_fallback",
            session=self.session_id,
            cue=self._cue.id if self._cue else None,
            frame=tick.index,
            reason=reason,
            showing=runtime.name,
        )
        return runtime

    def _audio_input(self, source: AudioSource, language: str) -> AudioInput:
        where = f"session {self.session_id}, language {language}, booth {source.booth_id}"
        scheduled = (
            feed_input(source.feed, where) if source.kind == AudioKind.INTERPRETATION else feed_input(None, where)
        )
        if source.kind == AudioKind.INTERPRETATION and source.booth_id:
            return self._live.booth(source, language, scheduled)
        return scheduled

    # -- preroll: clips are opened and decoded to their first frame before their cue ----------

    def _preroll(self, wall: float) -> None:
        horizon = self._clock.to_event(wall + self._settings.preroll_s)
        for cue in self._cues.upcoming(horizon):
            if cue.id in self._prerolls or cue.id in self._warmed:
                continue
            if cue.video.kind == VideoKind.CLIP and cue.video.clip_path:
                self._prerolls[cue.id] = self._preroll_pool.submit(
                    self._open_clip, cue.video.clip_path, cue.video.clip_offset_s
                )
            elif cue.video.kind in (VideoKind.STUDIO, VideoKind.REMOTE):
                self._warmed.add(cue.id)
                self._live.warm(cue.video)  # e.g. start reading a studio URL before its cue

    def _open_clip(self, path: str, offset: float) -> ClipReader:
        reader = ClipReader(path, Fitter(self._settings.width, self._settings.height), offset)
        try:
            reader.video_at(offset)  # decode up to the first picture now, not on the cue's frame
        except Exception as exc:
            reader.close()
            raise ClipError(f"clip {path}: cannot decode ({exc})") from exc
        return reader

    def _take_preroll(self, cue: Cue) -> ClipReader:
        fut = self._prerolls.pop(cue.id, None)
        if not cue.video.clip_path:
            raise ClipError(f"cue {cue.id} names no clip file")
        if fut is None:  # armed too late to preroll
            return self._open_clip(cue.video.clip_path, cue.video.clip_offset_s)
        return fut.result()

    def _discard_preroll(self, cue_id: str) -> None:
        fut = self._prerolls.pop(cue_id, None)
        if fut is not None:
            fut.add_done_callback(_close_reader)

    # -- fan-out ------------------------------------------------------------------------------

    def _fan_out(self, video: list[EncodedPacket], audio: dict[str, list[EncodedPacket]]) -> None:
        """Hand one frame's packets to every output: the shared video, and its language's audio."""
        with self._sinks_lock:
            sinks = list(self._sinks.values())
        for sink in sinks:
            packets = video + audio.get(sink.language, [])
            if packets:
                sink.feed(packets)


def _close_reader(fut: Future[ClipReader]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()
