"""`AvMediaPlane`: the media plane behind the engine's `MediaPlane` port.

One instance serves every session; each session gets its own `Programme` thread. The async
methods never block the event loop: anything that waits on media work runs in an executor."""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import numpy as np
import structlog
from PIL import Image

from orchestrator.clock import Clock
from orchestrator.engine.events import RunEvent
from orchestrator.engine.ports import CueApplied, Meter, Notifier, OutputReport, OutputSpec, OutputStats
from orchestrator.media import process_writer
from orchestrator.media.clip import ClipError, ClipReader, check_clip
from orchestrator.media.frames import Fitter
from orchestrator.media.programme import LiveSources, Programme
from orchestrator.media.returns import ProgrammeTap, ReturnAudioTrack, ReturnVideoTrack
from orchestrator.media.settings import AUDIO_RATE, MediaSettings
from orchestrator.media.slate import SlateRenderer
from orchestrator.planning.cues import Cue, CueSheet, Slate, VideoKind

log = structlog.get_logger(__name__)


class UnknownSession(KeyError):
    """A session was started, armed or attached to before `prepare()`."""


class AvMediaPlane:
    """Implements `orchestrator.engine.ports.MediaPlane`.

    `live` supplies remote speakers, studio feeds and live interpretation booths (see
    `orchestrator.media.live.RemoteSourceRegistry`); without it those cues show their fallback.
    `publish` gets `RouteChanged` and `FallbackChanged` events (from the programmes' threads: the
    event bus hands them to its loop); `notifier` the silence alarms. `loudness` maps a
    destination id to its integrated loudness target (LUFS); a destination not in it gets the
    language's sound as mixed. Also implements `ReturnFeeds`."""

    def __init__(
        self,
        clock: Clock,
        settings: MediaSettings | None = None,
        live: LiveSources | None = None,
        *,
        publish: Callable[[RunEvent], None] | None = None,
        notifier: Notifier | None = None,
        loudness: Mapping[str, float] | None = None,
    ) -> None:
        self._clock = clock
        self.settings = settings or MediaSettings()
        self._live = live
        self._publish = publish
        self._notifier = notifier
        self._loudness = dict(loudness or {})
        self._programmes: dict[str, Programme] = {}
        self._applied: list[CueApplied] = []
        self._applied_lock = threading.Lock()
        self._listeners: list[Callable[[CueApplied], None]] = []
        # Opening clips ahead of their cue; two workers so one slow file does not hold up another.
        self._preroll = ThreadPoolExecutor(max_workers=2, thread_name_prefix="preroll")
        self._thumbnails: dict[str, tuple[int, bytes]] = {}  # operator overrides: the latest JPEG per session
        self._previews: dict[str, tuple[Cue, bytes]] = {}  # operator overrides: each next cue's picture

    async def prepare(self, cue_sheet: CueSheet) -> list[str]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, process_writer.warm_up)
        problems = await loop.run_in_executor(None, _check_clips, cue_sheet)
        for problem in problems:
            log.warning("clip_problem", session=cue_sheet.session_id, problem=problem)
        if self._live is not None:
            # A studio feed takes seconds to open (RTMP/SRT probing): start reading it now, at the
            # session's preparation, not when its first cue comes near.
            for cue in cue_sheet.cues:
                if cue.video.kind == VideoKind.STUDIO and cue.video.url:
                    self._live.warm(cue.video)
        current = self._programmes.get(cue_sheet.session_id)
        if current is None or not current.running:
            self._programmes[cue_sheet.session_id] = Programme(
                cue_sheet,
                self._clock,
                self.settings,
                preroll=self._preroll,
                on_cue=self._cue_applied,
                live=self._live,
                publish=self._publish,
                notifier=self._notifier,
            )
        log.info("programme_prepared", session=cue_sheet.session_id, cues=len(cue_sheet.cues), problems=len(problems))
        return problems

    async def start(self, session_id: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._programme(session_id).start)

    async def attach_output(self, output: OutputSpec) -> None:
        self._programme(output.session_id).attach(output, self._loudness.get(output.destination_id))

    async def detach_output(self, session_id: str, destination_id: str) -> OutputReport:
        programme = self._programme(session_id)
        report = await asyncio.get_running_loop().run_in_executor(None, programme.detach, destination_id)
        if report is None:
            return OutputReport(
                destination_id, session_id, target="", errors=[f"destination {destination_id} was not attached"]
            )
        return report

    def arm(self, session_id: str, cue: Cue) -> None:
        self._programme(session_id).arm(cue)

    async def stop(self, session_id: str) -> list[OutputReport]:
        programme = self._programmes.get(session_id)
        if programme is None:
            return []
        reports = await asyncio.get_running_loop().run_in_executor(None, programme.stop)
        del self._programmes[session_id]
        return reports

    def route(self, session_id: str, language: str, mode: str) -> None:
        """The operator's route for one language programme, from the next frame on: "auto" (the
        schedule's), "floor", or one of the session's booth ids. ValueError names what is wrong."""
        self._programme(session_id).route(language, mode)

    # -- ReturnFeeds -------------------------------------------------------------------------

    def return_feed(self, session_id: str, minus: str | None) -> tuple[Any, Any] | None:
        """New (video, audio) tracks for one speaker's green room: the programme at 5 fps, 320x180,
        and the floor without `minus`'s own voice. Call on the event loop."""
        programme = self._programmes.get(session_id)
        if programme is None or not programme.running:
            return None
        video = ReturnVideoTrack(f"return {session_id}")
        audio = ReturnAudioTrack(f"return {session_id}")
        programme.add_tap(ProgrammeTap(video, audio, minus, self.settings.fps))
        log.info("return_feed_opened", session=session_id, minus=minus)
        return video, audio

    def floor_feed(self, session_id: str) -> Any | None:
        """A new audio track of the session's original sound for an interpreter (no loudness
        processing, no look-ahead: it leaves with the frame that carries it)."""
        programme = self._programmes.get(session_id)
        if programme is None or not programme.running:
            return None
        audio = ReturnAudioTrack(f"floor {session_id}")
        programme.add_tap(ProgrammeTap(None, audio, None, self.settings.fps))
        log.info("floor_feed_opened", session=session_id)
        return audio

    def applied_cues(self) -> list[CueApplied]:
        with self._applied_lock:
            return list(self._applied)

    def on_cue(self, listener: Callable[[CueApplied], None]) -> None:
        self._listeners.append(listener)

    def fallbacks(self, session_id: str) -> list[str]:
        """Every time a source could not be shown in a session, and what was shown instead."""
        programme = self._programmes.get(session_id)
        return list(programme.stats.fallbacks) if programme else []

    def programme(self, session_id: str) -> Programme:
        """The session's programme (for stats and tests)."""
        return self._programme(session_id)

    async def close(self) -> None:
        for session_id in list(self._programmes):
            await self.stop(session_id)
        self._preroll.shutdown(wait=False, cancel_futures=True)

    def _programme(self, session_id: str) -> Programme:
        try:
            return self._programmes[session_id]
        except KeyError:
            raise UnknownSession(f"session {session_id} has not been prepared") from None

    def _cue_applied(self, applied: CueApplied) -> None:
        with self._applied_lock:
            self._applied.append(applied)
        for listener in self._listeners:
            listener(applied)

    # -- operator overrides (the control room: engine.ports.OperatorMedia) -------------------

    def withdraw(self, session_id: str, cue_id: str) -> bool:
        programme = self._programmes.get(session_id)
        return programme is not None and programme._switcher.withdraw(cue_id)

    def current_cue(self, session_id: str) -> Cue | None:
        programme = self._programmes.get(session_id)
        return programme._switcher.current_cue if programme is not None else None

    def fallback_cue(self, session_id: str, cue_id: str, at: datetime) -> Cue | None:
        programme = self._programmes.get(session_id)
        return programme._switcher.fallback_cue(cue_id, at) if programme is not None else None

    def thumbnail(self, session_id: str) -> bytes | None:
        """The programme's latest picture (about one a second) as a 320x180 JPEG; encoded once per
        picture however many pages ask."""
        programme = self._programmes.get(session_id)
        picture = programme._switcher.monitor_picture() if programme is not None else None
        if picture is None:
            return None
        index, rgb = picture
        cached = self._thumbnails.get(session_id)
        if cached is not None and cached[0] == index:
            return cached[1]
        out = io.BytesIO()
        Image.fromarray(rgb).save(out, format="JPEG", quality=70)
        self._thumbnails[session_id] = (index, out.getvalue())
        return out.getvalue()

    def preview(self, cue: Cue) -> bytes | None:
        """What `cue` will show, as a 320x180 JPEG (blocks: call it off the event loop): its slate,
        its clip's first picture, or for a live source the card its fallback would show; cached per
        cue id. None when the clip cannot be read."""
        cached = self._previews.get(cue.id)
        if cached is not None and cached[0] == cue:
            return cached[1]
        width, height = self.settings.width, self.settings.height
        video = cue.video
        frame = None
        if video.kind == VideoKind.CLIP and video.clip_path:
            try:
                reader = ClipReader(video.clip_path, Fitter(width, height), video.clip_offset_s)
            except ClipError:
                return None
            try:
                frame = reader.video_at(video.clip_offset_s)
            finally:
                reader.close()
        else:
            slate = video.slate or Slate(cue.label)
            frame = SlateRenderer(width, height).frame(slate, cue.at)
        if frame is None:
            return None
        out = io.BytesIO()
        rgb = frame.reformat(width=320, height=180, format="rgb24").to_ndarray()
        Image.fromarray(rgb).save(out, format="JPEG", quality=70)
        self._previews[cue.id] = (cue, out.getvalue())
        return out.getvalue()

    def meters(self, session_id: str) -> list[Meter]:
        """Every language programme's loudness as it goes out (EBU R128 momentary and short-term)."""
        programme = self._programmes.get(session_id)
        if programme is None:
            return []
        return [loudness(lang, sound) for lang, sound in sorted(programme._switcher.monitor_audio().items())]

    def output_stats(self, session_id: str) -> list[OutputStats]:
        programme = self._programmes.get(session_id)
        if programme is None:
            return []
        with programme._sinks_lock:
            sinks = list(programme._sinks.values())
        stats = []
        for sink in sinks:
            # a file's publisher counts what it wrote; a network output's process what it acknowledged
            publishers = [getattr(w, "_publisher", None) or w for w in sink.writers]
            sent = [int(b) for b in (getattr(p, "bytes", None) for p in publishers) if b is not None]
            restarts = sum(int(getattr(w, "restarts", 0)) for w in sink.writers)
            stats.append(OutputStats(sink.spec.destination_id, restarts, sum(sent) if sent else None))
        return stats


def loudness(language: str, sound: np.ndarray) -> Meter:
    """Momentary (last 400 ms) and short-term (last 3 s) loudness, and the sample peak, of (2, n)
    float32 sound at the programme's rate; None for what is too short or silent (below -70 LUFS).
    The same BS.1770 measurement the outputs' AGC makes (`media.loudness`), over one window each."""
    from orchestrator.media.loudness import ABSOLUTE_GATE_LUFS, KWeighting, lufs

    def window(seconds: float) -> float | None:
        n = round(seconds * AUDIO_RATE)
        if sound.shape[1] < n:
            return None
        value = lufs(KWeighting().mean_square(sound[:, -n:]))  # a fresh filter: that window alone, ungated
        return round(value, 1) if value >= ABSOLUTE_GATE_LUFS else None

    peak = float(np.max(np.abs(sound))) if sound.size else 0.0
    return Meter(language, window(0.4), window(3.0), round(20 * math.log10(peak), 1) if peak > 0 else None)


def _check_clips(cue_sheet: CueSheet) -> list[str]:
    """Every clip the session may play (cues, backups, interpretation feeds) opens and decodes."""
    problems: list[str] = []
    seen: set[str] = set()
    for cue in cue_sheet.cues:
        paths: list[tuple[str, str]] = []
        if cue.video.kind == VideoKind.CLIP:
            if cue.video.clip_path:
                paths.append((cue.video.clip_path, "clip"))
            else:
                problems.append(f"segment {cue.segment_id} ({cue.label}): clip cue names no file")
        if cue.video.backup is not None and cue.video.backup.clip_path:
            paths.append((cue.video.backup.clip_path, "backup"))
        for lang, audio in cue.audio.items():
            if audio.feed is not None and audio.feed.kind == "clip" and audio.feed.clip_path:
                paths.append((audio.feed.clip_path, f"{lang} interpretation feed"))
        for path, role in paths:
            if path in seen:
                continue
            seen.add(path)
            problem = check_clip(path)
            if problem:
                problems.append(f"segment {cue.segment_id} ({cue.label}), {role}: {problem}")
    return problems
