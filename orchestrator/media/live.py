"""Live sources: remote speakers (aiortc tracks), studio feeds (a URL PyAV reads), live booths.

Producers (an asyncio task per aiortc track, a thread per studio URL) keep only the newest picture
and a short sound buffer in a `LiveFeed`; the pipeline thread takes from it each frame. Producers
always drain their source, shown or not (aiortc and `MediaPlayer` queues are unbounded).

A remote speaker's pictures reach their feed through our event loop (aiortc reads the packets and
hands decoded frames over on it), so a loop held up by our own load delays them although the
speaker is fine. A `LoopHeartbeat` ticking on that loop tells the programme thread for how long
the loop was unable to deliver (orchestrator.engine.heartbeat), and that time is not held against
the speaker."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import av.error
import structlog
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from orchestrator.engine.heartbeat import LoopHeartbeat, excused
from orchestrator.media.audio import AudioInput
from orchestrator.media.frames import Audio, AudioBuffer, AudioNormalizer, Fitter, silence
from orchestrator.media.programme import LiveSources
from orchestrator.media.settings import AUDIO_RATE, MediaSettings
from orchestrator.media.slate import LowerThird
from orchestrator.media.sources import Picture, Tick
from orchestrator.planning.cues import AudioSource, VideoKind, VideoSource
from orchestrator.redaction import mask_text

log = structlog.get_logger(__name__)

# A feed's sound plays once a cushion is buffered; the cushion is what absorbs late arrivals (a
# jittery network, a busy event loop). It starts small (latency: a remote speaker's picture waits
# as long, for lip-sync) and grows by a step each time the sound runs dry, up to JITTER_CEILING;
# after CALM_S without running dry it shrinks back by half a step at a time.
JITTER_MIN = AUDIO_RATE * 40 // 1000
JITTER_STEP = AUDIO_RATE * 20 // 1000
JITTER_CEILING = AUDIO_RATE * 120 // 1000
CALM_S = 10.0
JITTER_MAX = AUDIO_RATE * 250 // 1000  # never lag more than 250 ms: drop the oldest beyond
# Every second, what the buffer never went below is delay nobody needed: drop it down to the
# cushion, so a burst of arrivals cannot leave the sound late (and behind the picture) for good.
TRIM_EVERY = 30  # programme frames
# A feed nobody takes sound from (a speaker not on the programme) keeps only the cushion and one
# programme frame more (at 25 fps or faster), so that when it is cut to its sound starts live,
# not JITTER_MAX behind (and its picture with it).
IDLE_S = 0.2
IDLE_FRAME = AUDIO_RATE * 40 // 1000
# Lip-sync of remote speakers: a picture waits at most this long for its sound (older ones are
# let go), and a sound that arrived this long ago or more counts as stopped.
LIPSYNC_MAX_S = 0.3
# A picture reaches the feed one sender frame interval later than the sound of the same instant:
# aiortc releases a video frame only when the next frame's first packet shows it complete. The
# rest (VP8 vs Opus coding, loopback) measured a few ms with the flash-and-click speaker
# (tests/media/test_lipsync.py, scripts/bench/latency.py `av_offset_ms`): no term for it.


def bound_decoder_threads(threads: int) -> None:
    """Make every video decoder aiortc creates from now on use at most `threads` FFmpeg threads.

    aiortc opens libvpx / h264 `CodecContext`s with FFmpeg's default thread count (one per core,
    plus frame threading that adds a frame of delay each); with a dozen guests on two cores that is
    dozens of threads fighting the programme. aiortc has no option for it, so its receiver's
    `get_decoder` is wrapped once (idempotent; the newest bound wins)."""
    receiver: Any = importlib.import_module("aiortc.rtcrtpreceiver")  # patched, so typed loosely
    global _decoder_threads
    _decoder_threads = max(1, threads)
    if getattr(receiver.get_decoder, "_summit_bounded", False):
        return
    original = receiver.get_decoder

    def get_decoder(codec: Any) -> Any:
        decoder = original(codec)
        ctx = getattr(decoder, "codec", None)
        if ctx is not None and getattr(ctx, "type", None) == "video":
            ctx.thread_count = _decoder_threads
            ctx.thread_type = "SLICE"  # no frame threading: it holds frames back
        return decoder

    get_decoder._summit_bounded = True  # type: ignore[attr-defined]  # marks the wrapper
    receiver.get_decoder = get_decoder


_decoder_threads = 1


def prompt_audio_jitter_buffers() -> None:
    """Make every audio receiver aiortc creates from now on hand each packet on as soon as it is
    next in order, instead of four packets later.

    aiortc's audio jitter buffer (`JitterBuffer(capacity=16, prefetch=4)`) counts packets, not
    time: it holds a constant 80 ms of sound (four 20 ms Opus packets), and even without prefetch
    a frame waits for the next packet to show it is complete (20 ms more). It absorbs no jitter
    for it, since a late packet delays the release all the same; measured, that was most of the
    120–140 ms by which a remote speaker's picture led their sound. The registry's `LiveFeed`
    keeps the time cushion that does absorb jitter. An audio RTP packet is a whole frame (Opus,
    G.711), so the oldest packet is released once it is there; a missing one is still waited for
    (aiortc's own handling of holes and reordering is kept). aiortc has no option for it, so the
    receiver module's `JitterBuffer` is replaced once by a subclass that changes only audio."""
    receiver: Any = importlib.import_module("aiortc.rtcrtpreceiver")  # patched, so typed loosely
    if getattr(receiver.JitterBuffer, "_summit_prompt", False):
        return
    stock = receiver.JitterBuffer

    class PromptJitterBuffer(stock):  # type: ignore[misc, valid-type]  # aiortc's own class
        _summit_prompt = True

        def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
            if self._is_video:
                return super()._remove_frame(sequence_number)  # type: ignore[no-any-return]
            packet = self._packets[self._origin % self._capacity]
            if packet is None:
                return None  # a hole: wait for it (or for aiortc to give up on it)
            self.remove(1)
            return JitterFrame(data=packet._data, timestamp=packet.timestamp)

    receiver.JitterBuffer = PromptJitterBuffer


class LiveFeed:
    """The newest picture and a jitter buffer of sound from one live source; thread-safe.

    With `lipsync` (remote speakers) the feed also keeps the last pictures with their arrival
    times, and `shown()` picks the one that arrived with the sound about to be taken: the sound
    waits in the jitter buffer (its cushion, and more after a burst), so the picture waits as
    long, and the two leave in step whatever the buffer's depth is at the moment."""

    def __init__(
        self,
        name: str,
        now: Callable[[], float] = time.monotonic,
        gap_s: float = 0.3,
        lipsync: bool = False,
        heartbeat: LoopHeartbeat | None = None,
    ) -> None:
        self.name = name
        self.heartbeat = heartbeat  # the loop delivering this feed's pictures (None: not a loop's)
        self._now = now
        self._gap_s = gap_s  # a pause longer than this between pictures ends a healthy run
        self._lipsync = lipsync
        self._lock = threading.Lock()
        self._picture: VideoFrame | None = None
        self._picture_at = -1e9
        self._stalled_at = 0.0  # the heartbeat's hold-up total when the newest picture came
        self._recent: deque[tuple[float, VideoFrame]] = deque()  # (arrival, picture), oldest first
        self._interval = 1 / 30  # between the sender's pictures (a moving average)
        self._sound = AudioBuffer()
        self._sound_at = -1e9
        # When each buffered chunk of sound arrived: (stream position of its first sample, time).
        self._arrivals: deque[tuple[int, float]] = deque()
        self._pushed = 0  # samples pushed into the buffer so far (stream position of its tail)
        self._playing = False  # the jitter buffer has filled once and sound is being taken
        self._taken_at = -1e9  # when sound was last taken
        self._low = JITTER_MAX  # the least buffered after a take, since the last trim
        self._cushion = JITTER_MIN  # buffered before sound plays, and what trimming keeps
        self._calm_since = now()  # the last time the sound ran dry (or the cushion shrank)
        self._takes = 0
        self._normalizer = AudioNormalizer()
        self._healthy_since: float | None = None
        self.underruns = 0  # times the sound ran dry while playing (a gap was heard)

    def put_video(self, frame: VideoFrame) -> None:
        stalled = self.heartbeat.stalled() if self.heartbeat else 0.0
        with self._lock:
            now = self._now()
            if self._gap(now, stalled) > self._gap_s or self._healthy_since is None:
                self._healthy_since = now  # the first frame after a gap starts a new healthy run
            else:
                self._interval += (now - self._picture_at - self._interval) / 16
            self._picture = frame
            self._picture_at = now
            self._stalled_at = stalled
            if self._lipsync:
                self._recent.append((now, frame))
                # Keep no picture older than the buffered sound could ask for (decoded pictures
                # are big: a speaker off the programme keeps some 80 ms of them).
                horizon = now - LIPSYNC_MAX_S
                if self._arrivals:
                    horizon = max(horizon, self._arrivals[0][1] - 0.05)
                while len(self._recent) > 1 and self._recent[0][0] < horizon:
                    self._recent.popleft()

    def put_audio(self, frame: AudioFrame) -> None:
        chunks = self._normalizer.convert(frame)
        with self._lock:
            now = self._now()
            for chunk in chunks:
                self._arrivals.append((self._pushed, now))
                self._pushed += chunk.shape[1]
                self._sound.push(chunk)
            if now - self._taken_at > IDLE_S:
                self._playing = False  # not on the programme: whatever is kept will start it
            limit = JITTER_MAX if self._playing else self._cushion + IDLE_FRAME
            if len(self._sound) > limit:
                self._drop(len(self._sound) - limit)
            self._sound_at = now

    def _gap(self, now: float, stalled: float) -> float:
        """Seconds since the newest picture the sender is to blame for: minus the time the loop
        delivering it was held up meanwhile (up to STALL_EXCUSE_MAX_S)."""
        return max(0.0, now - self._picture_at - excused(stalled, self._stalled_at))

    def picture(self) -> tuple[VideoFrame | None, float]:
        """The newest picture and its age in seconds, not counting the time our own event loop
        was held up and could not have delivered a newer one (a drop is the sender's silence)."""
        stalled = self.heartbeat.stalled() if self.heartbeat else 0.0
        with self._lock:
            return self._picture, self._gap(self._now(), stalled)

    def shown(self) -> VideoFrame | None:
        """The picture to show with the sound `sound()` hands out next: the newest one, or (with
        `lipsync`, while sound is playing) the one that arrived closest to the moment the next
        sound to play would have played had it not waited in the buffer."""
        with self._lock:
            playing = self._playing or len(self._sound) >= self._cushion  # as `sound()` will decide
            if not self._lipsync or not playing or not self._arrivals or not self._recent:
                return self._picture
            if self._now() - self._sound_at > LIPSYNC_MAX_S:
                return self._picture  # the sound stopped coming: show the newest picture
            # When the next sample to play would have played had its chunk played as it came in,
            # and when the picture taken at the same instant as that sound came in.
            head = self._pushed - len(self._sound)  # its stream position
            start, arrived = self._arrivals[0]
            for chunk_start, chunk_arrived in self._arrivals:
                if chunk_start > head:
                    break
                start, arrived = chunk_start, chunk_arrived
            due = arrived + (head - start) / AUDIO_RATE + self._interval
            best = min(self._recent, key=lambda r: abs(r[0] - due))
            while self._recent[0] is not best:  # older pictures will not be needed again
                self._recent.popleft()
            return best[1]

    def healthy_for(self) -> float:
        """How long pictures have been arriving without a gap longer than `gap_s`."""
        stalled = self.heartbeat.stalled() if self.heartbeat else 0.0
        with self._lock:
            if self._healthy_since is None or self._gap(self._now(), stalled) > self._gap_s:
                return 0.0
            return self._now() - self._healthy_since

    def sound(self, samples: int) -> Audio:
        with self._lock:
            now = self._taken_at = self._now()
            if not self._playing and len(self._sound) < self._cushion:
                return silence(samples)
            self._playing = len(self._sound) >= samples or self._playing
            out = self._take(samples)
            if not len(self._sound):
                self._playing = False  # ran dry: refill a bigger cushion before playing on
                self.underruns += 1
                self._cushion = min(self._cushion + JITTER_STEP, JITTER_CEILING)
                self._calm_since = now
                log.info("live_sound_ran_dry", feed=self.name, cushion_ms=self._cushion * 1000 // AUDIO_RATE)
            self._low = min(self._low, len(self._sound))
            self._takes += 1
            if self._takes >= TRIM_EVERY:
                if now - self._calm_since > CALM_S and self._cushion > JITTER_MIN:
                    self._cushion = max(self._cushion - JITTER_STEP // 2, JITTER_MIN)
                    self._calm_since = now
                    log.info("live_sound_cushion_shrunk", feed=self.name, cushion_ms=self._cushion * 1000 // AUDIO_RATE)
                if self._low > self._cushion:
                    self._drop(self._low - self._cushion)
                self._low, self._takes = JITTER_MAX, 0
            return out

    @property
    def cushion_ms(self) -> float:
        """The sound buffered before playing, and kept, now (it grows when the sound runs dry)."""
        with self._lock:
            return self._cushion * 1000 / AUDIO_RATE

    def _take(self, samples: int) -> Audio:
        out = self._sound.pop(samples)
        head = self._pushed - len(self._sound)
        while len(self._arrivals) > 1 and self._arrivals[1][0] <= head:
            self._arrivals.popleft()  # chunks played out entirely
        return out

    def _drop(self, samples: int) -> None:
        self._take(min(samples, len(self._sound)))

    @property
    def heard(self) -> bool:
        """Whether any sound ever came from this feed."""
        with self._lock:
            return self._sound_at > -1e9

    def sound_age(self) -> float:
        with self._lock:
            return self._now() - self._sound_at


class LiveRuntime:
    """Shows a live feed, scaled to the rendition, with its caption (`lower_third`); fails
    (→ fallback) when no picture came for `timeout` seconds (not counting time the loop delivering
    them was held up: `LiveFeed.picture`); `recovered()` once pictures have flowed for `return_s`
    without a gap."""

    def __init__(
        self,
        feed: LiveFeed,
        fitter: Fitter,
        timeout: float,
        return_s: float = 2.0,
        lower_third: LowerThird | None = None,
    ) -> None:
        self.name = feed.name
        self.failure: str | None = None
        self._feed = feed
        self._fitter = fitter
        self._timeout = timeout
        self._return_s = return_s
        self._lower_third = lower_third
        self._raw: VideoFrame | None = None
        self._fitted: VideoFrame | None = None

    def render(self, tick: Tick) -> Picture | None:
        newest, age = self._feed.picture()
        if newest is None or age > self._timeout:
            self.failure = "no picture yet" if newest is None else f"no picture for {age:.2f} s"
            return None
        raw = self._feed.shown()  # a remote speaker's picture in step with their sound
        assert raw is not None
        if raw is not self._raw:  # scale each received picture once, however often it is shown
            fitted = self._fitter.fit(raw)
            self._raw, self._fitted = raw, self._lower_third.over(fitted) if self._lower_third else fitted
        assert self._fitted is not None
        return Picture(self._fitted, self._feed.sound(tick.samples))

    def recovered(self) -> bool:
        return self._feed.healthy_for() >= self._return_s

    def close(self) -> None:
        pass  # the feed belongs to its registration, not to one cue


class BoothInput:
    """A live interpretation booth; its scheduled feed (tone, clip, silence) stands in while the
    booth is not connected or has gone quiet for `timeout` seconds."""

    def __init__(self, feed: LiveFeed, fallback: AudioInput, timeout: float) -> None:
        self._feed = feed
        self._fallback = fallback
        self._timeout = timeout

    @property
    def watched(self) -> bool:
        # Once an interpreter has been heard, their silence (or their link going quiet) matters.
        return self._fallback.watched or self._feed.heard

    def read(self, samples: int) -> Audio:
        if self._feed.sound_age() <= self._timeout:
            return self._feed.sound(samples)
        return self._fallback.read(samples)

    def close(self) -> None:
        self._fallback.close()


class _TrackPump:
    """Drains one aiortc track into a feed."""

    def __init__(self, track: MediaStreamTrack, feed: LiveFeed) -> None:
        self.track = track
        self._feed = feed
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"pump {feed.name} {track.kind}")

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                if isinstance(frame, VideoFrame):
                    self._feed.put_video(frame)
                elif isinstance(frame, AudioFrame):
                    self._feed.put_audio(frame)
        except MediaStreamError:
            log.info("live_track_ended", feed=self._feed.name, kind=self.track.kind)


class _StudioReader:
    """Reads a studio URL (RTMP, SRT, a file) on a thread; a file is paced to real time."""

    def __init__(self, url: str, feed: LiveFeed, retry_s: float = 2.0) -> None:
        self.url = url
        self._feed = feed
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"studio {mask_text(url)}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read_once()
            except (av.error.FFmpegError, OSError) as exc:
                log.warning("studio_feed_error", url=mask_text(self.url), error=str(exc))
            self._stop.wait(self._retry_s)

    def _read_once(self) -> None:
        with av.open(self.url, "r", timeout=(10.0, 2.0)) as container:
            log.info("studio_feed_opened", url=mask_text(self.url))
            streams = [*container.streams.video[:1], *container.streams.audio[:1]]
            start_wall: float | None = None
            for packet in container.demux(streams):
                if self._stop.is_set():
                    return
                for frame in packet.decode():
                    if not isinstance(frame, (VideoFrame, AudioFrame)):
                        continue
                    t = frame.time
                    if t is not None:
                        if start_wall is None:
                            start_wall = time.monotonic() - t
                        delay = start_wall + t - time.monotonic()
                        if abs(delay) > 1.0:  # a jump in the feed's timestamps: follow it
                            start_wall, delay = time.monotonic() - t, 0.0
                        if delay > 0:  # a file plays at its own speed; a live feed is never early
                            self._stop.wait(delay)
                    if isinstance(frame, VideoFrame):
                        self._feed.put_video(frame)
                    elif isinstance(frame, AudioFrame):
                        self._feed.put_audio(frame)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class RemoteSourceRegistry(LiveSources):
    """Where live media is registered: remote speakers by `speaker_id`, booths by `booth_id`, and
    studio feeds by URL (opened when a studio cue comes near). Register on the event loop's
    thread; pipelines ask from their own threads.

    A feed exists from the first time anyone names it, so a cue for a speaker who has not joined
    yet shows the fallback and cuts to the speaker once their picture has flowed for a second."""

    def __init__(self, settings: MediaSettings | None = None) -> None:
        self._settings = settings or MediaSettings()
        bound_decoder_threads(self._settings.decoder_threads)
        prompt_audio_jitter_buffers()
        self._lock = threading.Lock()
        self._feeds: dict[str, LiveFeed] = {}
        self._pumps: dict[str, list[_TrackPump]] = {}
        self._studios: dict[str, _StudioReader] = {}
        # Remote pictures are pumped on the loop that registers them; its heartbeat starts with
        # the first registration.
        self.heartbeat = LoopHeartbeat()
        self._heartbeat_task: asyncio.Task[None] | None = None

    def register(
        self, speaker_id: str, video: MediaStreamTrack | None, audio: MediaStreamTrack | None = None
    ) -> LiveFeed:
        """A remote speaker's tracks (e.g. from `RTCPeerConnection.on("track")`). A second
        registration of the same speaker (a reconnect) replaces the first."""
        log.info("remote_registered", speaker=speaker_id, video=video is not None, audio=audio is not None)
        return self._attach(f"remote {speaker_id}", [video, audio])

    def register_booth(self, booth_id: str, audio: MediaStreamTrack) -> LiveFeed:
        """A live interpretation booth's sound; it replaces the booth's scheduled feed while it flows."""
        log.info("booth_registered", booth=booth_id)
        return self._attach(f"booth {booth_id}", [audio])

    async def unregister(self, speaker_id: str) -> None:
        await self._detach(f"remote {speaker_id}")

    async def unregister_booth(self, booth_id: str) -> None:
        await self._detach(f"booth {booth_id}")

    async def close(self) -> None:
        with self._lock:
            pumps = [p for ps in self._pumps.values() for p in ps]
            studios = list(self._studios.values())
            self._pumps.clear()
            self._studios.clear()
        beat, self._heartbeat_task = self._heartbeat_task, None
        if beat is not None:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        await _cancel(pumps)
        await asyncio.gather(*(asyncio.to_thread(reader.stop) for reader in studios))

    def _feed(self, name: str) -> LiveFeed:
        with self._lock:
            feed = self._feeds.get(name)
            if feed is None:
                remote = name.startswith("remote ")  # a person on camera: lips and voice, over our loop
                feed = self._feeds[name] = LiveFeed(
                    name,
                    gap_s=self._settings.live_timeout_s,
                    lipsync=remote,
                    heartbeat=self.heartbeat if remote else None,
                )
            return feed

    def _attach(self, name: str, tracks: list[MediaStreamTrack | None]) -> LiveFeed:
        if self._heartbeat_task is None or self._heartbeat_task.done():
            loop = asyncio.get_running_loop()
            self._heartbeat_task = loop.create_task(self.heartbeat.run(), name="live loop heartbeat")
        feed = self._feed(name)
        pumps = [_TrackPump(t, feed) for t in tracks if t is not None]
        with self._lock:
            old = self._pumps.pop(name, [])
            self._pumps[name] = pumps
        for pump in old:
            pump.task.cancel()
        return feed

    async def _detach(self, name: str) -> None:
        with self._lock:
            pumps = self._pumps.pop(name, [])
        await _cancel(pumps)
        log.info("live_unregistered", feed=name)

    # -- LiveSources, called from pipeline threads -----------------------------------------

    def warm(self, source: VideoSource) -> None:
        if source.kind == VideoKind.STUDIO and source.url:
            self._studio_feed(source.url)

    def video(self, source: VideoSource, settings: MediaSettings, fitter: Fitter) -> LiveRuntime | None:
        caption: LowerThird | None = None
        if source.kind == VideoKind.REMOTE and source.speaker_id:
            feed = self._feed(f"remote {source.speaker_id}")
            if source.slate is not None and source.slate.title:
                caption = LowerThird(settings.width, settings.height, source.slate.title, source.slate.subtitle)
        elif source.kind == VideoKind.STUDIO and source.url:
            feed = self._studio_feed(source.url)
        else:
            return None
        return LiveRuntime(feed, fitter, settings.live_timeout_s, settings.live_return_s, caption)

    def booth(self, source: AudioSource, language: str, fallback: AudioInput) -> AudioInput:
        if not source.booth_id:
            return fallback
        return BoothInput(self._feed(f"booth {source.booth_id}"), fallback, self._settings.booth_timeout_s)

    def _studio_feed(self, url: str) -> LiveFeed:
        feed = self._feed(f"studio {mask_text(url)}")
        with self._lock:
            if url not in self._studios:
                self._studios[url] = _StudioReader(url, feed)
        return feed


async def _cancel(pumps: list[_TrackPump]) -> None:
    for pump in pumps:
        pump.task.cancel()
    await asyncio.gather(*(p.task for p in pumps), return_exceptions=True)
