"""What each programme frame shows and sounds like.

`Switcher` takes one frame (`Tick`) at a time: it applies the armed cues due on it, plays the
picture source (fading from the outgoing one), falls back when a source cannot give a picture,
watches a failed live source and returns to it, prerolls clips ahead of their cues, and mixes every
language's sound. It has no thread and never waits: `Programme` paces the frames, encodes and
fans them out, and calls `Switcher.frame` once per frame; tests call it with hand-made ticks.

`CueQueue`: cues arrive ahead of time from the runner's thread and are taken by the programme's
thread on the first frame whose event time reaches them; nothing here reads a clock."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

import numpy as np
import structlog
from av.video.frame import VideoFrame

from orchestrator.clock import Clock
from orchestrator.engine.events import FallbackChanged, RouteChanged, RunEvent
from orchestrator.engine.ports import CueApplied, Notifier
from orchestrator.media.audio import FLOOR, AudioInput, LanguageMix, db_gain, dbfs, feed_input
from orchestrator.media.clip import ClipError, ClipReader
from orchestrator.media.frames import Audio, Fitter, silence
from orchestrator.media.settings import MediaSettings
from orchestrator.media.slate import SlateRenderer
from orchestrator.media.sources import (
    ClipRuntime,
    LiveSources,
    Picture,
    Recoverable,
    SlateRuntime,
    Tick,
    Unavailable,
    VideoRuntime,
)
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, VideoKind, VideoSource

log = structlog.get_logger(__name__)

# The "floor_ducked" silence policy: the floor at `floor_duck_db` when one is set, else this far
# below its own level.
SILENCE_DUCK_DB = -10.0


class SilenceWatch:
    """One language's booth on duty: silent while the floor speaks for `alarm_s` → "alarm"; for
    `policy_s` → "policy"; speaking again for `recover_s` after an alarm → "recovered"."""

    def __init__(self, settings: MediaSettings) -> None:
        self._s = settings
        self._dt = 1.0 / settings.fps
        self.reset()

    def reset(self) -> None:
        self.silent_s = 0.0
        self.speaking_s = 0.0
        self.alarmed = False
        self.policy = False

    def update(self, floor_db: float, booth_db: float) -> str | None:
        threshold = self._s.speech_dbfs
        if booth_db > threshold:
            self.silent_s = 0.0
            self.speaking_s += self._dt
            if self.alarmed and self.speaking_s >= self._s.silence_recover_s:
                self.reset()
                return "recovered"
            return None
        self.speaking_s = 0.0
        if floor_db <= threshold:
            return None  # nobody speaks: nothing to interpret, and nothing to count
        self.silent_s += self._dt
        if not self.alarmed and self.silent_s >= self._s.silence_alarm_s:
            self.alarmed = True
            return "alarm"
        if self.alarmed and not self.policy and self.silent_s >= self._s.silence_policy_s:
            self.policy = True
            return "policy"
        return None


class CueQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, Cue] = {}
        self._taken: set[str] = set()

    def arm(self, cue: Cue) -> bool:
        """Add a cue, or replace the armed cue with the same id. A cue already taken is ignored
        (arming is idempotent: a retry or a re-plan must not replay a cut)."""
        with self._lock:
            if cue.id in self._taken:
                return False
            self._armed[cue.id] = cue
            return True

    def due(self, event_time: datetime) -> list[Cue]:
        """Take every armed cue whose time has come, oldest first."""
        with self._lock:
            ready = sorted((c for c in self._armed.values() if c.at <= event_time), key=lambda c: (c.at, c.id))
            for cue in ready:
                del self._armed[cue.id]
                self._taken.add(cue.id)
            return ready

    def upcoming(self, until: datetime) -> list[Cue]:
        """Armed cues due at or before `until`, without taking them."""
        with self._lock:
            return sorted((c for c in self._armed.values() if c.at <= until), key=lambda c: (c.at, c.id))

    def __len__(self) -> int:
        with self._lock:
            return len(self._armed)


class Composed(NamedTuple):
    """One frame of the programme: its picture, and its sound in every language."""

    video: VideoFrame
    sounds: dict[str, Audio]
    floor: Audio | None = None  # the picture source's own sound (what interpreters hear)
    speaker: str | None = None  # whose live voice that floor carries (for mix-minus return feeds)


class Switcher:
    """One session's vision and sound mixer, one frame at a time.

    `arm` may be called from any thread; `frame`, `warm_up` and `close` from one thread only (the
    programme's), which also opens every decoder. Until the first cue it shows the stand-by slate.

    `preroll` opens clips ahead of their cues (`settings.preroll_s` wall seconds ahead, by the
    clock); `on_cue` gets a `CueApplied` receipt for every cue taken, on the frame that takes it;
    `fallbacks` records every time a source could not be shown, and what was shown instead."""

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
        self.fallbacks: list[str] = []
        self._clock = clock
        self._settings = settings
        self._preroll_pool = preroll
        self._on_cue = on_cue
        self._live = live or LiveSources()
        self._cues = CueQueue()
        self._prerolls: dict[str, Future[ClipReader]] = {}
        self._warmed: set[str] = set()
        self._renderer = SlateRenderer(settings.width, settings.height)
        self._video: VideoRuntime = SlateRuntime(cue_sheet.standby, self._renderer)
        self._cue: Cue | None = None
        self._cue_frame = 0
        self._publish = publish or (lambda event: None)
        self._notifier = notifier
        self._duck = db_gain(settings.floor_duck_db) if settings.floor_duck_db is not None else None
        self._mixes: dict[str, LanguageMix] = {lang: self._new_mix(lang) for lang in cue_sheet.languages}
        self._watches = {lang: SilenceWatch(settings) for lang in cue_sheet.languages}
        self._overrides: dict[str, AudioSource] = {}  # language → the operator's route
        self._pending_routes: dict[str, AudioSource | None] = {}  # from any thread, taken each frame
        self._routes_lock = threading.Lock()
        self._wanted: Recoverable | None = None  # a live source that failed and may come back
        # The live source being covered for: (person, first fallback frame, what is shown).
        self._covering: tuple[str, int, str] | None = None
        self.floor_speaker: str | None = None  # whose voice the floor carries now (for mix-minus)
        self._fading: tuple[VideoRuntime, int, int] | None = None  # (outgoing source, first frame, frames)
        self._closed = False
        # operator overrides: what the control room's monitors show (see the block at the end)
        self._monitor_lock = threading.Lock()
        self._monitor_audio: dict[str, deque[np.ndarray]] = {}
        self._monitor_picture: tuple[int, np.ndarray] | None = None

    @property
    def showing(self) -> str:
        """What the logs call the picture source on air (the fallback's name after a fallback)."""
        return self._video.name

    def arm(self, cue: Cue) -> bool:
        """Apply `cue` on the first frame whose event time is ≥ `cue.at`. False (and nothing done)
        when the cue was already taken: arming is idempotent per cue id."""
        if not self._cues.arm(cue):
            return False
        log.info("cue_armed", session=self.session_id, cue=cue.id, at=cue.at.isoformat(), label=cue.label)
        return True

    def route(self, language: str, mode: str) -> None:
        """The operator's route for one language, from the next frame on (any thread): "auto" (the
        schedule's), "floor", or a booth id of this session."""
        if language not in self.cue_sheet.languages:
            raise ValueError(
                f"session {self.session_id} has no {language!r} programme (it has {list(self.cue_sheet.languages)})"
            )
        source: AudioSource | None
        if mode == "auto":
            source = None
        elif mode == "floor":
            source = FLOOR
        else:
            booths = {a.booth_id: a for c in self.cue_sheet.cues for a in c.audio.values() if a.booth_id}
            if mode not in booths:
                known = ", ".join(sorted(str(b) for b in booths)) or "none"
                raise ValueError(
                    f"session {self.session_id}: route {mode!r} for {language!r} is neither auto, floor nor one of "
                    f"its booths ({known})"
                )
            source = booths[mode]
        with self._routes_lock:
            self._pending_routes[language] = source
        log.info("route_requested", session=self.session_id, language=language, mode=mode)

    def warm_up(self) -> None:
        """Draw the stand-by card now, so that frame 0 does not wait for it."""
        self._renderer.frame(self.cue_sheet.standby, self._clock.now())

    def frame(self, tick: Tick) -> Composed:
        """This frame's picture and every language's sound. Whatever a source or an input does,
        the frame gets them: a failure puts the stand-by slate up, with the floor (silent) in every
        language, on this very frame."""
        try:
            return self._monitored(tick, self._compose(tick))
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
            self._video = SlateRuntime(self.cue_sheet.standby, self._renderer)
            for mix in self._mixes.values():
                mix.close()
            self._mixes = {lang: self._new_mix(lang) for lang in self.cue_sheet.languages}
            self.fallbacks.append(f"frame {tick.index} failed ({exc!r}) → {self._video.name}")
            return self._monitored(tick, self._compose(tick))

    def close(self) -> None:
        """Close every source, input and prerolled clip (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._end_fade()
            for runtime in (self._video, self._wanted):
                if runtime is not None:
                    runtime.close()
            for mix in self._mixes.values():
                mix.close()
        finally:
            for fut in self._prerolls.values():
                fut.add_done_callback(_close_reader)
            self._prerolls.clear()

    # -- one frame --------------------------------------------------------------------------

    def _compose(self, tick: Tick) -> Composed:
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
            self._end_cover(tick, "back and stable")
        self._take_routes(tick)
        picture, fallback = self._render(tick)
        if fallback is not None:
            floor_before = silence(tick.samples)  # the failed source has nothing to fade out
        if self._fading is not None:
            picture = self._dissolve(tick, picture)
        if applied is not None:
            self._record(applied, tick, fallback)
        self.floor_speaker = self._cue.video.speaker_id if self._cue and self._covering is None else None
        sounds = {lang: mix.mix(tick.samples, picture.audio, floor_before) for lang, mix in self._mixes.items()}
        self._watch_silence(tick, picture.audio)
        return Composed(picture.video, sounds, picture.audio, self.floor_speaker)

    # -- sound routes ------------------------------------------------------------------------

    def _new_mix(self, language: str) -> LanguageMix:
        return LanguageMix(language, self._duck)

    def _wanted_route(self, language: str) -> tuple[AudioSource, str]:
        if language in self._overrides:
            return self._overrides[language], "operator"
        audio = self._cue.audio.get(language, FLOOR) if self._cue else FLOOR
        return audio, "schedule"

    def _apply_route(self, tick: Tick, language: str) -> None:
        source, reason = self._wanted_route(language)
        if self._mixes[language].route(source, self._audio_input):
            self._watches[language].reset()
            self._publish(RouteChanged(self.session_id, language, _route_name(source), tick.event, reason))
            log.info(
                "route_changed", session=self.session_id, language=language, source=_route_name(source), reason=reason
            )

    def _take_routes(self, tick: Tick) -> None:
        with self._routes_lock:
            pending, self._pending_routes = self._pending_routes, {}
        for language, source in pending.items():
            if source is None:
                self._overrides.pop(language, None)
            else:
                self._overrides[language] = source
            self._apply_route(tick, language)

    def _watch_silence(self, tick: Tick, floor: Audio) -> None:
        floor_db: float | None = None
        for language, mix in self._mixes.items():
            if not mix.watched:
                continue
            floor_db = dbfs(floor) if floor_db is None else floor_db
            change = self._watches[language].update(floor_db, mix.input_level)
            if change is None:
                continue
            booth = mix.source.booth_id or "?"
            policy = mix.source.on_silence
            if change == "alarm":
                message = f"session {self.session_id}: booth {booth} ({language}) is silent while the floor speaks"
                log.warning("booth_silent", session=self.session_id, language=language, booth=booth, frame=tick.index)
                if self._notifier is not None:
                    self._notifier.alert("warning", message, session=self.session_id)
                self._publish(RouteChanged(self.session_id, language, booth, tick.event, "silence", silent=True))
            elif change == "policy" and policy != "keep":
                ducked = self._duck if self._duck is not None else db_gain(SILENCE_DUCK_DB)
                mix.substitute(1.0 if policy == "floor" else ducked)
                log.warning(
                    "booth_silence_policy", session=self.session_id, language=language, booth=booth, policy=policy
                )
                self._publish(RouteChanged(self.session_id, language, "floor", tick.event, "silence", silent=True))
            elif change == "recovered":
                mix.substitute(None)
                log.info("booth_speaks_again", session=self.session_id, language=language, booth=booth)
                self._publish(RouteChanged(self.session_id, language, booth, tick.event, "recovered"))

    # -- live sources covered for --------------------------------------------------------------

    def _begin_cover(self, tick: Tick, shown: VideoRuntime, reason: str) -> None:
        video = self._cue.video if self._cue else None
        if video is None or video.kind not in (VideoKind.REMOTE, VideoKind.STUDIO) or self._covering is not None:
            return
        person = video.speaker_id or video.kind.value
        what = "backup" if isinstance(shown, ClipRuntime) else "slate"
        self._covering = (person, tick.index, what)
        self._publish(FallbackChanged(self.session_id, person, True, tick.event, shown=what, reason=reason))

    def _end_cover(self, tick: Tick, reason: str) -> None:
        if self._covering is None:
            return
        person, first, what = self._covering
        self._covering = None
        frames = tick.index - first
        log.info("fallback_ended", session=self.session_id, person=person, frames=frames, reason=reason)
        self._publish(
            FallbackChanged(self.session_id, person, False, tick.event, shown=what, frames=frames, reason=reason)
        )

    def _render(self, tick: Tick) -> tuple[Picture, str | None]:
        """This frame's picture; when the current source cannot give one, its fallback's (on this
        very frame, so the output never misses a frame) and what happened."""
        picture = self._video.render(tick)
        if picture is not None:
            return picture, None
        reason = f"{self._video.name}: {self._video.failure}"
        back = self._cue is None or self._cue.video.return_to_live
        if isinstance(self._video, Recoverable) and self._wanted is None and back:
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
        self._begin_cover(tick, self._video, reason)
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
        self._end_cover(tick, f"cue {cue.id}")
        self._cue, self._cue_frame = cue, tick.index
        self._end_fade()
        fade_frames = round(cue.fade_s * self._settings.fps)
        outgoing = self._video
        floor_before = self._replace(tick, self._open(cue, tick), keep_old=fade_frames > 0)
        if fade_frames > 0:
            self._fading = (outgoing, tick.index, fade_frames)
        for lang in self._mixes:
            self._apply_route(tick, lang)
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
            return SlateRuntime(video.slate or self.cue_sheet.standby, self._renderer)
        if video.kind == VideoKind.CLIP:
            try:
                return ClipRuntime(self._take_preroll(cue), self._settings.fps)
            except Exception as exc:
                return Unavailable(f"clip {video.clip_path}", str(exc))
        if video.kind == VideoKind.STUDIO and not video.url:
            # No studio feed in this event (an online-only summit): the studio segment is its card.
            return SlateRuntime(video.slate or self.cue_sheet.standby, self._renderer)
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
            runtime = SlateRuntime(own or self.cue_sheet.standby, self._renderer)
        self.fallbacks.append(f"{reason} → {runtime.name}")
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

    # -- operator overrides (the control room; orchestrator.engine.control) ------------------
    # Called from the event loop's thread, except `_monitored` (the programme's, once a frame):
    # what they share goes through `_monitor_lock` or the cue queue's own lock.

    def withdraw(self, cue_id: str) -> bool:
        """Take an armed cue back before a frame applies it (a hold, a skipped segment)."""
        with self._cues._lock:  # the queue's own lock: arm/due take it too
            if self._cues._armed.pop(cue_id, None) is None:
                return False
        # A clip it prerolled stays in `_prerolls` (the programme thread's): taken if the cue is
        # armed again, closed with the switcher otherwise.
        log.info("cue_withdrawn", session=self.session_id, cue=cue_id)
        return True

    @property
    def current_cue(self) -> Cue | None:
        return self._cue

    def fallback_cue(self, cue_id: str, at: datetime) -> Cue | None:
        """A cue showing the live source's fallback from `at`: its backup at the matching offset,
        else its own slate, else the stand-by slate; None when no live source is on."""
        cue = self._cue
        if cue is None or cue.video.kind not in (VideoKind.REMOTE, VideoKind.STUDIO):
            return None
        video = cue.video
        if video.backup is not None and video.backup.clip_path:
            elapsed = max(0.0, self._clock.to_wall(at) - self._clock.to_wall(cue.at))
            shown = replace(video.backup, clip_offset_s=video.backup.clip_offset_s + elapsed)
        else:
            shown = VideoSource(VideoKind.SLATE, slate=video.slate or self.cue_sheet.standby)
        return replace(cue, id=cue_id, at=at, video=shown, label=f"{cue.label} (fallback)", fade_s=0.0)

    def _monitored(self, tick: Tick, composed: Composed) -> Composed:
        """Keep what the monitors show: the last 3 s of every language's sound (for the loudness
        meters) and, once a second, a small picture. Copies only; the encoding is the reader's."""
        fps = self._settings.fps
        try:
            with self._monitor_lock:
                for lang, sound in composed.sounds.items():
                    ring = self._monitor_audio.get(lang)
                    if ring is None:
                        ring = self._monitor_audio[lang] = deque(maxlen=3 * fps)
                    ring.append(np.array(sound, dtype=np.float32, copy=True))
            if tick.index % fps == 0:
                small = composed.video.reformat(width=320, height=180, format="rgb24").to_ndarray()
                with self._monitor_lock:
                    self._monitor_picture = (tick.index, small)
        except Exception:  # a monitor must never cost the programme a frame
            log.exception("monitor_failed", session=self.session_id, frame=tick.index)
        return composed

    def monitor_audio(self) -> dict[str, np.ndarray]:
        """Every language's latest sound, up to 3 s, as (2, n) float32."""
        with self._monitor_lock:
            rings = {lang: list(ring) for lang, ring in self._monitor_audio.items()}
        return {lang: np.concatenate(chunks, axis=1) for lang, chunks in rings.items() if chunks}

    def monitor_picture(self) -> tuple[int, np.ndarray] | None:
        """The latest small picture (its frame number, RGB 320x180), about one a second."""
        with self._monitor_lock:
            return self._monitor_picture


def _close_reader(fut: Future[ClipReader]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()


def _route_name(source: AudioSource) -> str:
    if source.kind == AudioKind.FLOOR:
        return "floor"
    if source.kind == AudioKind.SILENCE:
        return "silence"
    return source.booth_id or "interpretation"
