"""Bots: aiortc peers that join as the event's speakers and interpreters through their real links
(the same HTTP signalling as the join page), so a rehearsal exercises the whole live path.

A speaker bot sends a moving card with the person's name (320x180 at 15 fps by default, to spare
the CPU) and a tone; an interpreter bot sends a tone only. `drop()` makes a bot stop sending
without a goodbye (a cut network); `come_back()` resumes on the same connection.
`BotCrew` joins each bot shortly before it is needed on the rehearsal's clock, drops one mid-segment
and brings it back, and leaves when its part is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import numpy as np
import structlog
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from PIL import Image, ImageDraw, ImageFont

from orchestrator.clock import Clock
from orchestrator.links import Link, Person
from orchestrator.planning.cues import VideoKind
from orchestrator.planning.plan import Plan
from orchestrator.schedule.model import Schedule

log = structlog.get_logger(__name__)

_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
AUDIO_RATE = 48000
AUDIO_PTIME = 0.02


class _Pacer:
    """Paces a generated track in real time; a paused track sends nothing (no goodbye)."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.running.set()
        self._start: float | None = None

    async def wait_until(self, t: float) -> None:
        if not self.running.is_set():
            await self.running.wait()
            self._start = None  # resume at "now", as a peer whose network came back would
        if self._start is None:
            self._start = time.monotonic() - t
        delay = self._start + t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.5:  # fell far behind (a busy machine): skip ahead rather than burst
            self._start = time.monotonic() - t


class CardTrack(MediaStreamTrack):
    """A card with a name and a bar moving across it, in I420 (no conversion per frame)."""

    kind = "video"

    def __init__(self, name: str, size: tuple[int, int] = (320, 180), fps: int = 15) -> None:
        super().__init__()
        w, h = size
        self.fps = fps
        self.pacer = _Pacer()
        self.frames = 0
        image = Image.new("RGB", (w, h), (20, 60, 120))
        draw = ImageDraw.Draw(image)
        try:
            font: Any = ImageFont.truetype(_FONT, max(12, h // 9))
        except OSError:
            font = ImageFont.load_default()
        draw.text((w // 20, h // 3), name, fill=(255, 255, 255), font=font)
        planes = (
            VideoFrame.from_ndarray(np.asarray(image, dtype=np.uint8), format="rgb24")
            .reformat(format="yuv420p")
            .to_ndarray()
        )
        self._card: np.ndarray[Any, np.dtype[np.uint8]] = np.ascontiguousarray(planes, dtype=np.uint8)
        self._h, self._w = h, w

    async def recv(self) -> VideoFrame:
        t = self.frames / self.fps
        await self.pacer.wait_until(t)
        data = self._card.copy()
        x = (self.frames * 4) % max(1, self._w - 16)
        data[self._h - self._h // 6 : self._h - 4, x : x + 16] = 235  # the moving bar (luma)
        frame = VideoFrame.from_ndarray(data, format="yuv420p")
        frame.pts = int(t * 90000)
        frame.time_base = fractions.Fraction(1, 90000)
        self.frames += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A tone in bursts, roughly the rhythm of speech (on 0.8 s, off 0.2 s)."""

    kind = "audio"

    def __init__(self, hz: float = 440.0, level_dbfs: float = -20.0) -> None:
        super().__init__()
        self.pacer = _Pacer()
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._hz = hz
        self._amp = 32767 * 10 ** (level_dbfs / 20)
        self._n = 0

    async def recv(self) -> AudioFrame:
        t = self._n / AUDIO_RATE
        await self.pacer.wait_until(t)
        idx = np.arange(self._n, self._n + self._samples)
        gate = ((idx / AUDIO_RATE) % 1.0) < 0.8
        wave = (self._amp * np.sin(2 * np.pi * self._hz * idx / AUDIO_RATE) * gate).astype(np.int16)
        frame = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._n
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._n += self._samples
        return frame


class Bot:
    """One participant joining by link: `await bot.join(http)`, `drop()`, `come_back()`, `leave()`."""

    def __init__(
        self,
        person: str,
        name: str,
        role: str,
        url: str,
        *,
        size: tuple[int, int] = (320, 180),
        fps: int = 15,
        tone_hz: float = 440.0,
    ) -> None:
        self.person, self.name, self.role, self.url = person, name, role, url
        self.video = CardTrack(name, size, fps) if role == "speaker" else None
        self.audio = ToneTrack(tone_hz)
        self.pc: Any = None
        self.peer: str | None = None

    async def join(self, http: aiohttp.ClientSession, purpose: str = "live") -> None:
        self.pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if self.video is not None:
            pc.addTransceiver(self.video, direction="sendonly")
        pc.addTransceiver(self.audio, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        body = {"sdp": pc.localDescription.sdp, "purpose": purpose, "device": f"summit bot ({self.role})"}
        async with http.post(self.url + "/offer", json=body) as res:
            answer = await res.json()
            if res.status != 200:
                raise RuntimeError(f"bot {self.person}: join refused ({res.status}: {answer.get('message')})")
        self.peer = answer["peer"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        log.info("bot_joined", person=self.person, role=self.role)

    def drop(self) -> None:
        """Stop sending, say nothing (the network is cut)."""
        for track in (self.video, self.audio):
            if track is not None:
                track.pacer.running.clear()
        log.info("bot_dropped", person=self.person)

    def come_back(self) -> None:
        for track in (self.video, self.audio):
            if track is not None:
                track.pacer.running.set()
        log.info("bot_back", person=self.person)

    async def leave(self, http: aiohttp.ClientSession | None = None) -> None:
        if http is not None and self.peer:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.post(self.url + "/leave", json={"peer": self.peer}):
                    pass
        if self.pc is not None:
            await self.pc.close()
        log.info("bot_left", person=self.person)


@dataclass(frozen=True)
class BotPart:
    """When one bot is needed, in event time; `drop_at`: when it drops (for `drop_for_s` wall s)."""

    person: Person
    url: str
    join_at: datetime
    leave_at: datetime
    drop_at: datetime | None = None


def plan_parts(
    schedule: Schedule, plan: Plan, clock: Clock, links: list[tuple[Person, Link]], base_url: str
) -> list[BotPart]:
    """Each bot's parts in a run, one per session: speakers from their first remote cue to the end
    of their last remote segment in it, interpreters over the session of their booth. The speaker
    with the longest remote segment (in wall time) drops halfway through it."""
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}  # (person, session) → spans
    sessions = {s.id: s for s in schedule.sessions}
    booths = {b.id: b for b in schedule.booths}
    longest: tuple[float, str, datetime] | None = None
    for sid, sheet in plan.cue_sheets.items():
        cues = list(sheet.cues)
        for i, cue in enumerate(cues):
            if cue.video.kind == VideoKind.REMOTE and cue.video.speaker_id:
                end = cues[i + 1].at if i + 1 < len(cues) else sheet.end
                spans.setdefault((cue.video.speaker_id, sid), []).append((cue.at, end))
                wall = clock.to_wall(end) - clock.to_wall(cue.at)
                if longest is None or wall > longest[0]:
                    longest = (wall, cue.video.speaker_id, cue.at + (end - cue.at) / 2)
        for booth_id in sessions[sheet.session_id].booths:
            for who in booths[booth_id].interpreters if booth_id in booths else []:
                spans.setdefault((who, sid), []).append((sheet.start, sheet.end))
    by_person = {p.id: (p, link) for p, link in links}
    parts = []
    for (who, _sid), mine in sorted(spans.items(), key=lambda item: min(s for s, _ in item[1])):
        if who not in by_person:
            continue
        person, link = by_person[who]
        start, end = min(s for s, _ in mine), max(e for _, e in mine)
        drop_at = None
        if longest and longest[1] == who and longest[0] >= 3.0 and start <= longest[2] < end:
            drop_at = longest[2]
        parts.append(BotPart(person, link.url(base_url), start, end, drop_at))
    return parts


class BotCrew:
    """Runs every bot's part on the run's clock (joining `lead_s` wall seconds before)."""

    def __init__(self, parts: list[BotPart], clock: Clock, *, lead_s: float = 3.0, drop_for_s: float = 1.5) -> None:
        self.parts = parts
        self.clock = clock
        self.lead_s = lead_s
        self.drop_for_s = drop_for_s
        self.bots: set[Bot] = set()  # those connected now
        self.errors: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BotCrew:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        hz = 330.0
        for part in self.parts:
            hz = hz * 1.12 if hz < 1500 else 330.0
            self._tasks.append(
                asyncio.get_running_loop().create_task(self._play(part, hz), name=f"bot {part.person.id}")
            )
        log.info("bots_ready", bots=len(self.parts), drops=sum(p.drop_at is not None for p in self.parts))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(bot.leave(self._http) for bot in self.bots), return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def _sleep_until(self, event_time: datetime, lead_s: float = 0.0) -> None:
        delay = self.clock.to_wall(event_time) - lead_s - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _play(self, part: BotPart, hz: float) -> None:
        assert self._http is not None
        p = part.person
        await self._sleep_until(part.join_at, self.lead_s)
        bot = Bot(p.id, p.name, p.role, part.url, tone_hz=hz)
        try:
            await bot.join(self._http)
        except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
            self.errors.append(str(exc))
            log.warning("bot_join_failed", person=p.id, error=str(exc))
            return
        self.bots.add(bot)
        if part.drop_at is not None:
            await self._sleep_until(part.drop_at)
            bot.drop()
            await asyncio.sleep(self.drop_for_s)
            bot.come_back()
        await self._sleep_until(part.leave_at)
        await asyncio.sleep(0.5)
        await bot.leave(self._http)
        self.bots.discard(bot)
