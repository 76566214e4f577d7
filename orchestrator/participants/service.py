"""The people of the event: who has joined, over which peer connection, in what state, and the
booths' duty. One `Participants` per system; the HTTP side (`orchestrator.participants.http`) calls
it, and it publishes `ParticipantChanged` and `BoothChanged` on the event bus.

One aiortc RTCPeerConnection per join, non-trickle: the offer comes over HTTP with its candidates,
the answer goes back with ours (aiortc gathers before answering). A reconnect is a new join (aiortc
has no ICE restart); the newer peer replaces the older one for the same person, in the media plane
too (`LiveIngest.register` of the same id swaps the tracks). A drop is seen by the picture (no
frame for `drop_after_s`), because ICE takes about 30 s to notice a dead peer.

Interpreters: only the one on duty in a booth reaches the programme (`register_booth`); the other
is connected, heard by nobody, and takes over by request → accept, by taking over, or by itself
when the one on duty drops or leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import structlog
from aiortc import RTCPeerConnection, RTCSessionDescription

from orchestrator.clock import Clock
from orchestrator.engine.events import (
    BoothChanged,
    CueTaken,
    EventBus,
    ParticipantChanged,
    RunEvent,
    RunStarted,
    SessionStateChanged,
)
from orchestrator.engine.heartbeat import LoopHeartbeat
from orchestrator.engine.journal import MessageRecord
from orchestrator.engine.ports import Journal, LiveIngest, ReturnFeeds
from orchestrator.links import LinkClaims, LinkError, LinkSigner, Person, Role, people
from orchestrator.participants.book import LinkBook
from orchestrator.participants.ice import gather_host_addresses, rtc_configuration
from orchestrator.participants.settings import ParticipantSettings
from orchestrator.participants.taps import Tap, TapOutput
from orchestrator.planning.cues import Cue, VideoKind
from orchestrator.planning.plan import Plan
from orchestrator.planning.state import SessionState
from orchestrator.schedule.model import Booth, Schedule

log = structlog.get_logger(__name__)

Purpose = Literal["check", "live"]
_RUNNING = {SessionState.STANDBY, SessionState.LIVE, SessionState.OVERRUN}
_INTERPRETER_DROP_S = 1.0  # sound flows continuously (Opus without DTX): a second of nothing is a drop
_MAX_CHAT = 500  # characters a line may have (the participant's side is untrusted)
_KEPT_CHAT = 200  # lines kept in memory, and loaded back from the journal after a restart


class ChatJournal(Journal, Protocol):
    """The journal as the participants use it: links, and the text channel (`SqliteJournal`)."""

    def record_message(
        self,
        *,
        at: str,
        origin: str,
        text: str,
        sender: str | None = None,
        person: str | None = None,
        booth: str | None = None,
    ) -> int: ...

    def messages(self, last: int | None = None) -> list[MessageRecord]: ...


class ChatNotKept(Exception):
    """A line the journal could not keep (a full disk, say): it is not delivered either."""


class JoinError(Exception):
    """A join refused for a reason the caller can show (`status` is the HTTP status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Peer:
    id: str
    person: str
    role: Role
    purpose: Purpose
    pc: Any
    device: str
    whip: bool
    session: str | None
    return_feed: bool = False
    taps: dict[str, Tap] = field(default_factory=dict)
    outputs: list[TapOutput] = field(default_factory=list)
    rtt_ms: float | None = None
    loss_pct: float | None = None
    fps: float | None = None
    kbps: float | None = None
    reported_resolution: str | None = None
    closed: bool = False
    _bytes: int = 0
    _packets: int = 0
    _lost: int = 0
    _frames: int = 0
    _at: float = field(default_factory=time.monotonic)

    def resolution(self) -> str | None:
        tap = self.taps.get("video")
        if tap and tap.width:
            return f"{tap.width}x{tap.height}"
        return self.reported_resolution

    def media_age(self) -> float | None:
        tap = self.taps.get("video") or self.taps.get("audio")
        return tap.age() if tap else None


@dataclass
class Presence:
    person: Person
    state: str = "not_joined"
    peer: str | None = None  # the live peer (the newest join)
    check_peer: str | None = None
    device: str | None = None
    checked_at: datetime | None = None
    sockets: set[Any] = field(default_factory=set)


@dataclass
class Duty:
    booth: Booth
    session: str | None = None
    on_duty: str | None = None
    since: datetime | None = None
    mic_open: bool = True
    cough: bool = False
    request: str | None = None  # the partner asking to take over
    output: TapOutput | None = None  # the on-duty interpreter's sound as registered

    def partner_of(self, person: str) -> str | None:
        return next((i for i in self.booth.interpreters if i != person), None)


class Participants:
    def __init__(
        self,
        schedule: Schedule,
        plan: Plan,
        clock: Clock,
        bus: EventBus,
        journal: ChatJournal,
        live: LiveIngest,
        settings: ParticipantSettings,
        feeds: ReturnFeeds | None = None,
        heartbeat: LoopHeartbeat | None = None,
    ) -> None:
        self.schedule = schedule
        self.heartbeat = heartbeat  # the media's: a hold-up of our loop is no participant's drop
        self.plan = plan
        self.clock = clock
        self.bus = bus
        self.live = live
        self.feeds = feeds
        self.settings = settings
        bus.secrets.add(settings.link_secret.get_secret_value())
        self.book = LinkBook(
            schedule,
            LinkSigner(settings.link_secret.get_secret_value(), schedule.event.id),
            journal,
            clock,
            settings.link_margin,
        )
        self.presence: dict[str, Presence] = {p.id: Presence(p) for p in people(schedule)}
        self.peers: dict[str, Peer] = {}
        self._speakers = {s.id: s for s in schedule.speakers}
        self._interpreters = {i.id: i for i in schedule.interpreters}
        self._sessions = {s.id: s for s in schedule.sessions}
        # every cue that shows a remote speaker, by speaker, in time order; and every cue by id
        self._cues: dict[str, list[tuple[str, Cue]]] = {}
        self._cue_by_id: dict[str, tuple[str, Cue]] = {}
        for sid, sheet in plan.cue_sheets.items():
            for cue in sheet.cues:
                self._cue_by_id[cue.id] = (sid, cue)
                if cue.video.kind == VideoKind.REMOTE and cue.video.speaker_id:
                    self._cues.setdefault(cue.video.speaker_id, []).append((sid, cue))
        for cues in self._cues.values():
            cues.sort(key=lambda item: item[1].at)
        self._on_air: dict[str, str | None] = {}  # session → the remote speaker its programme shows
        self._running: set[str] = set()  # sessions whose programme runs (return feeds exist)
        self.duties: dict[str, Duty] = {
            b.id: Duty(b) for b in schedule.booths if any(b.id in s.booths for s in schedule.sessions)
        }
        self.journal = journal
        # the conversation so far, as the journal kept it: a restarted run shows the same lines
        self.chat: list[dict[str, Any]] = [self._chat_line(m) for m in journal.messages(last=_KEPT_CHAT)]
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        gather_host_addresses(settings.host_addresses)

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(self.observe)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch(), name="participants watchdog"),
            loop.create_task(self._figures(), name="participants figures"),
        ]
        # the dashboard lists everyone expected from the start, joined or not
        for person in self.presence:
            self._update(person, force=True)
        for duty in self.duties.values():
            self._publish_booth(duty)
        log.info("participants_started", people=len(self.presence), booths=len(self.duties))

    def announce(self) -> None:
        """Publish every person's and booth's state as it stands, for an observer that subscribed
        after `start` (the dashboard is served once the system is built)."""
        for person in self.presence:
            self._update(person, force=True, judge=False)
        for duty in self.duties.values():
            self._publish_booth(duty)

    async def close(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for peer in list(self.peers.values()):
            await self._end(peer, goodbye=True, publish=False)
        for presence in self.presence.values():
            for ws in list(presence.sockets):
                with contextlib.suppress(Exception):
                    await ws.close()

    # ------------------------------------------------------------------ joining

    def verify(self, token: str) -> LinkClaims:
        try:
            claims = self.book.verify(token)
        except LinkError:
            raise
        except (TypeError, ValueError):  # e.g. a MAC with characters no token has
            raise LinkError("malformed", "this is not a join link") from None
        if claims.person not in self.presence:
            raise LinkError("revoked", "this join link names nobody who takes part in this event")
        return claims

    async def join(self, claims: LinkClaims, sdp: str, *, purpose: Purpose, device: str, whip: bool = False) -> Peer:
        """Answer one offer: a new peer connection for the person; raises JoinError."""
        if len(self.peers) >= self.settings.max_peers:
            raise JoinError(503, "too many people are connected right now; try again in a minute")
        if "m=audio" not in sdp and "m=video" not in sdp:
            raise JoinError(400, "the offer carries no audio and no video")
        presence = self.presence[claims.person]
        session = self.session_for(claims.person)
        if self.settings.host_addresses and all(_loopback(a) for a in self.settings.host_addresses):
            sdp = _loopback_candidates_only(sdp)  # a loopback-only run never answers elsewhere
        pc = RTCPeerConnection(rtc_configuration(self.settings.ice_servers))
        peer = Peer(uuid.uuid4().hex, claims.person, claims.role, purpose, pc, device[:200], whip, session)
        tracks: list[Any] = []
        pc.on("track", tracks.append)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError and friends for SDP it cannot read
            await pc.close()
            raise JoinError(400, f"the offer is not a usable SDP ({type(exc).__name__})") from None
        for track in tracks:
            peer.taps[track.kind] = Tap(track, f"{claims.person}/{peer.id[:8]}", heartbeat=self.heartbeat)
        if purpose == "check":
            # the technical check: the person's own picture and sound come straight back
            for tap in peer.taps.values():
                if _wants_receive(sdp, tap.kind):
                    pc.addTrack(self._output(peer, tap))
        else:
            self._add_return(peer, sdp)
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await self._end(peer, goodbye=True, publish=False)
            raise JoinError(400, f"no answer can be made to this offer ({type(exc).__name__})") from None

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed") and not peer.closed:
                await self._end(peer, goodbye=False)

        self.peers[peer.id] = peer
        presence.device = peer.device
        if purpose == "check":
            old = self.peers.get(presence.check_peer or "")
            presence.check_peer = peer.id
            presence.checked_at = self.clock.now()
        else:
            old = self.peers.get(presence.peer or "")
            presence.peer = peer.id
            self._go_live(peer)
        if old is not None:
            await self._end(old, goodbye=True, publish=False)
        log.info(
            "participant_joined",
            person=claims.person,
            role=claims.role,
            purpose=purpose,
            peer=peer.id[:8],
            whip=whip,
            tracks=sorted(peer.taps),
            session=session,
            return_feed=peer.return_feed,
        )
        self._update(claims.person, force=True)
        return peer

    def answer(self, peer: Peer) -> str:
        return _start_bitrate(str(peer.pc.localDescription.sdp))

    async def leave(self, peer_id: str) -> bool:
        peer = self.peers.get(peer_id)
        if peer is None:
            return False
        await self._end(peer, goodbye=True)
        return True

    def _output(self, peer: Peer, tap: Tap) -> TapOutput:
        out = tap.output()
        peer.outputs.append(out)
        return out

    def _add_return(self, peer: Peer, sdp: str) -> None:
        """The green room's return feed, or an interpreter's floor, when the programme runs."""
        if self.feeds is None or peer.session is None or peer.session not in self._running:
            return
        try:
            if peer.role == "speaker":
                feed = self.feeds.return_feed(peer.session, peer.person)
                if feed is not None:
                    video, audio = feed
                    if video is not None and _wants_receive(sdp, "video"):
                        peer.pc.addTrack(video)
                    if audio is not None and _wants_receive(sdp, "audio"):
                        peer.pc.addTrack(audio)
                    peer.return_feed = True
            else:
                floor = self.feeds.floor_feed(peer.session)
                if floor is not None and _wants_receive(sdp, "audio"):
                    peer.pc.addTrack(floor)
                    peer.return_feed = True
        except Exception as exc:  # the feed is a courtesy: a join never fails for want of it
            log.warning("return_feed_failed", person=peer.person, session=peer.session, error=str(exc))

    def _go_live(self, peer: Peer) -> None:
        if peer.role == "speaker":
            video, audio = peer.taps.get("video"), peer.taps.get("audio")
            self.live.register(
                peer.person,
                self._output(peer, video) if video else None,
                self._output(peer, audio) if audio else None,
            )
            return
        duty = self.duty_of(peer.person)
        if duty is None:
            return
        current = self.presence.get(duty.on_duty or "")
        if duty.on_duty is None or current is None or current.peer is None or duty.on_duty == peer.person:
            self._hand_over(duty, peer.person, "joined")
        else:
            self._publish_booth(duty)

    async def _end(self, peer: Peer, *, goodbye: bool, publish: bool = True) -> None:
        if peer.closed:
            return
        peer.closed = True
        self.peers.pop(peer.id, None)
        presence = self.presence[peer.person]
        was_live = presence.peer == peer.id
        if was_live:
            presence.peer = None
            presence.state = "left" if goodbye else "dropped"
        if presence.check_peer == peer.id:
            presence.check_peer = None
        for out in peer.outputs:
            out.stop()
        if was_live:
            if peer.role == "speaker":
                await self.live.unregister(peer.person)
            else:
                duty = self.duty_of(peer.person)
                if duty is not None and duty.on_duty == peer.person:
                    partner = duty.partner_of(peer.person)
                    if partner and self.presence.get(partner, Presence(presence.person)).peer:
                        self._hand_over(duty, partner, "partner left")
                    else:
                        duty.output = None
                        await self.live.unregister_booth(duty.booth.id)
                        self._publish_booth(duty)
        for tap in peer.taps.values():
            await tap.close()
        await peer.pc.close()
        log.info("participant_left", person=peer.person, peer=peer.id[:8], purpose=peer.purpose, goodbye=goodbye)
        if publish:
            self._update(peer.person, force=True)

    # ------------------------------------------------------------------ booths

    def duty_of(self, person: str) -> Duty | None:
        session = self.session_for(person)
        booths = [d for d in self.duties.values() if person in d.booth.interpreters]
        if session is not None:
            in_session = [d for d in booths if d.booth.id in self._sessions[session].booths]
            booths = in_session or booths
        return booths[0] if booths else None

    def _hand_over(self, duty: Duty, to: str, reason: str) -> None:
        """`to` goes on duty: their sound is registered to the booth (replacing the partner's)."""
        presence = self.presence.get(to)
        peer = self.peers.get(presence.peer or "") if presence else None
        tap = peer.taps.get("audio") if peer else None
        if duty.output is not None:
            duty.output.stop()
            duty.output = None
        if duty.on_duty != to:
            duty.since = self.clock.now()
        duty.on_duty, duty.request, duty.cough = to, None, False
        duty.session = self.session_for(to)
        if peer is not None and tap is not None:
            duty.output = self._output(peer, tap)
            tap.muted = not duty.mic_open
            self.live.register_booth(duty.booth.id, duty.output)
        log.info("booth_duty", booth=duty.booth.id, on_duty=to, reason=reason)
        self._publish_booth(duty)
        for person in duty.booth.interpreters:
            self._update(person, force=True)

    def booth_command(self, person: str, command: str) -> str | None:
        """mic_on, mic_off, cough_on, cough_off, request, accept, take_over; returns an error text."""
        duty = self.duty_of(person)
        if duty is None:
            return "you are not in a booth of this event"
        partner = duty.partner_of(person)
        on_duty = duty.on_duty == person
        if command in ("mic_on", "mic_off", "cough_on", "cough_off"):
            if not on_duty:
                return "only the interpreter on duty has the microphone"
            if command.startswith("mic"):
                duty.mic_open = command == "mic_on"
            else:
                duty.cough = command == "cough_on"
            self._apply_mute(duty)
        elif command == "request":
            if on_duty:
                return "you are already on duty"
            duty.request = person
            self._say_system(f"{self._name(person)} asks to take over", booth=duty.booth.id)
        elif command == "accept":
            if not on_duty or duty.request is None or duty.request == person:
                return "there is no handover request to accept"
            self._hand_over(duty, duty.request, "handover accepted")
            return None
        elif command == "take_over":
            if on_duty:
                return "you are already on duty"
            if self.presence[person].peer is None:
                return "join first, then take over"
            self._hand_over(duty, person, f"taken over from {partner}")
            return None
        else:
            return f"unknown booth command '{command[:40]}'"
        self._publish_booth(duty)
        for who in duty.booth.interpreters:
            self._update(who, force=True)
        return None

    def _apply_mute(self, duty: Duty) -> None:
        presence = self.presence.get(duty.on_duty or "")
        peer = self.peers.get(presence.peer or "") if presence else None
        tap = peer.taps.get("audio") if peer else None
        if tap is not None:
            tap.muted = not duty.mic_open or duty.cough

    def handover_due(self, duty: Duty) -> bool:
        return duty.since is not None and self.clock.now() - duty.since >= duty.booth.handover_every

    def _publish_booth(self, duty: Duty) -> None:
        on = duty.on_duty
        self.bus.publish(
            BoothChanged(
                booth=duty.booth.id,
                session=duty.session,
                on_duty=on,
                partner=duty.partner_of(on) if on else None,
                on_duty_since=duty.since,
                at=self.clock.now(),
                handover_due=self.handover_due(duty),
                mic_open=bool(on and duty.output is not None and duty.mic_open and not duty.cough),
            )
        )

    # ------------------------------------------------------------------ the run's events

    def observe(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):  # observers that came after start() learn everyone too
            for person in self.presence:
                self._update(person, force=True)
            for duty in self.duties.values():
                self._publish_booth(duty)
        elif isinstance(event, CueTaken):
            found = self._cue_by_id.get(event.cue_id)
            if found is None:
                return
            _sid, cue = found
            before = self._on_air.get(event.session)
            now_on = cue.video.speaker_id if cue.video.kind == VideoKind.REMOTE else None
            self._on_air[event.session] = now_on
            for who in (before, now_on):
                if who is not None and who in self.presence:
                    self._update(who, force=True)
        elif isinstance(event, SessionStateChanged):
            if event.state in _RUNNING:
                started = event.session not in self._running
                self._running.add(event.session)
                if started:
                    self._offer_return(event.session)
            else:
                self._running.discard(event.session)
                self._on_air.pop(event.session, None)

    def _offer_return(self, session: str) -> None:
        """The programme has started: pages without a return feed reconnect to get one."""
        if self.feeds is None:
            return
        for presence in self.presence.values():
            peer = self.peers.get(presence.peer or "")
            if peer and not peer.whip and not peer.return_feed and self.session_for(peer.person) == session:
                self._send(presence, {"type": "reconnect", "reason": "the programme has started"})

    # ------------------------------------------------------------------ state and figures

    def session_for(self, person: str) -> str | None:
        """The person's session now, or their next one (within the run's plan)."""
        presence = self.presence.get(person)
        if presence is None:
            return None
        now = self.clock.now()
        mine = [self._sessions[s] for s in presence.person.sessions if s in self.plan.cue_sheets]
        current = [s for s in mine if s.start - timedelta(minutes=30) <= now < s.end]
        if current:
            return current[0].id
        upcoming = sorted((s for s in mine if s.start >= now), key=lambda s: s.start)
        return upcoming[0].id if upcoming else None

    def next_cue(self, person: str) -> tuple[str, Cue] | None:
        now = self.clock.now()
        return next(((sid, c) for sid, c in self._cues.get(person, []) if c.at > now), None)

    def _state_of(self, presence: Presence) -> str:
        peer = self.peers.get(presence.peer or "")
        if peer is None:
            if presence.check_peer and presence.check_peer in self.peers:
                return "checking"
            return presence.state if presence.state in ("left", "dropped") else "not_joined"
        age = peer.media_age()
        limit = self.settings.drop_after_s if peer.role == "speaker" else _INTERPRETER_DROP_S
        if age is None:
            return "connecting"
        if age > limit:
            return "dropped"
        if peer.role == "speaker":
            return "on_air" if peer.person in self._on_air.values() else "green_room"
        duty = self.duty_of(peer.person)
        return "on_air" if duty and duty.on_duty == peer.person else "green_room"

    def _update(self, person: str, *, force: bool = False, judge: bool = True) -> None:
        """Publish the person's state (judged afresh unless `judge` is False: figures only)."""
        presence = self.presence[person]
        state = self._state_of(presence) if judge else presence.state
        if state == presence.state and not force:
            return
        if state != presence.state:
            log.info("participant_state", person=person, state=state, was=presence.state)
        presence.state = state
        peer = self.peers.get(presence.peer or presence.check_peer or "")
        self.bus.publish(
            ParticipantChanged(
                person=person,
                role=presence.person.role,
                state=state,
                at=self.clock.now(),
                session=self.session_for(person),
                device=presence.device,
                resolution=peer.resolution() if peer else None,
                rtt_ms=peer.rtt_ms if peer else None,
                loss_pct=peer.loss_pct if peer else None,
                fps=peer.fps if peer else None,
                kbps=peer.kbps if peer else None,
                detail=f"checked {presence.checked_at:%Y-%m-%d %H:%M} UTC" if presence.checked_at else None,
            )
        )
        self._send(presence, self.status(person))

    def status(self, person: str) -> dict[str, Any]:
        """What the person's page shows: state, tally, countdown, booth."""
        presence = self.presence[person]
        peer = self.peers.get(presence.peer or "")
        nxt = self.next_cue(person)
        tally = ""
        if presence.state == "on_air":
            tally = "ON AIR"
        elif nxt and nxt[1].at - self.clock.now() <= self.settings.standby_before:
            tally = "STAND BY"
        out: dict[str, Any] = {
            "type": "status",
            "state": presence.state,
            "tally": tally,
            "session": self.session_for(person),
            "cue_in_s": round(self.clock.to_wall(nxt[1].at) - self.clock.to_wall(self.clock.now()), 1) if nxt else None,
            "cue_label": nxt[1].label if nxt else None,
            "return_feed": bool(peer and peer.return_feed),
            "programme": bool(peer and peer.session in self._running),
        }
        if presence.person.role == "interpreter":
            duty = self.duty_of(person)
            if duty is not None:
                partner = duty.partner_of(person)
                since_s = (self.clock.now() - duty.since).total_seconds() if duty.since else None
                out["booth"] = {
                    "id": duty.booth.id,
                    "on_duty": duty.on_duty,
                    "you_on_duty": duty.on_duty == person,
                    "partner": self._name(partner) if partner else None,
                    "partner_state": self.presence[partner].state if partner in self.presence else None,
                    "mic_open": duty.mic_open and not duty.cough,
                    "shift_s": since_s,
                    "handover_every_s": duty.booth.handover_every.total_seconds(),
                    "handover_due": self.handover_due(duty),
                    "request": self._name(duty.request) if duty.request else None,
                    "level_db": _level_of(peer),
                }
        return out

    async def _watch(self) -> None:
        """Every tenth of a second: a state change (a drop, a return) goes out at once."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            stalled, last = now - last > 0.25, now
            if stalled:
                # our own event loop was held up (a programme opening its outputs, say): the frames
                # that came meanwhile have not been read yet, so nobody is judged dropped this round
                continue
            for person in list(self.presence):
                self._update(person)

    async def _figures(self) -> None:
        """Every `stats_every_s`: each connected person's figures, their page's status and booths."""
        while True:
            await asyncio.sleep(self.settings.stats_every_s)
            for peer in list(self.peers.values()):
                with contextlib.suppress(Exception):
                    await self._measure(peer)
            for person, presence in self.presence.items():
                if presence.peer or presence.check_peer:
                    self._update(person, force=True, judge=False)  # states are the watchdog's
                elif presence.sockets:
                    self._send(presence, self.status(person))
            for duty in self.duties.values():
                if duty.on_duty:
                    self._publish_booth(duty)

    async def _measure(self, peer: Peer) -> None:
        report = await peer.pc.getStats()
        packets = lost = received_bytes = 0
        for stat in report.values():
            if stat.type == "inbound-rtp":
                packets += stat.packetsReceived
                lost += max(0, stat.packetsLost)
            elif stat.type == "transport":
                received_bytes += stat.bytesReceived
        now = time.monotonic()
        dt = max(1e-3, now - peer._at)
        video = peer.taps.get("video")
        frames = video.frames if video else 0
        d_packets, d_lost = packets - peer._packets, lost - peer._lost
        peer.kbps = round((received_bytes - peer._bytes) * 8 / 1000 / dt, 1)
        peer.fps = round((frames - peer._frames) / dt, 1) if video else None
        if peer.loss_pct is None or d_packets + d_lost > 0:
            peer.loss_pct = round(100 * d_lost / max(1, d_packets + d_lost), 2)
        peer._bytes, peer._packets, peer._lost, peer._frames, peer._at = received_bytes, packets, lost, frames, now

    # ------------------------------------------------------------------ pages and text

    def attach(self, person: str, ws: Any) -> None:
        self.presence[person].sockets.add(ws)

    def detach(self, person: str, ws: Any) -> None:
        self.presence[person].sockets.discard(ws)

    def client_message(self, claims: LinkClaims, data: dict[str, Any]) -> dict[str, Any] | None:
        """A message from a person's page: figures, text, booth commands. Returns a reply."""
        kind = data.get("type")
        presence = self.presence[claims.person]
        if kind == "stats":
            peer = self.peers.get(str(data.get("peer", "")))
            if peer is not None and peer.person == claims.person:
                peer.rtt_ms = _number(data.get("rtt_ms"))
                if data.get("resolution"):
                    peer.reported_resolution = str(data["resolution"])[:20]
            return None
        if kind == "chat":
            text = str(data.get("text", "")).strip()[:_MAX_CHAT]
            if text:
                duty = self.duty_of(claims.person) if claims.role == "interpreter" else None
                try:
                    self.say(text, sender=claims.person, person=claims.person, booth=duty.booth.id if duty else None)
                except ChatNotKept:
                    return {"type": "error", "message": "your message could not be sent: please try again"}
            return None
        if kind == "booth":
            error = self.booth_command(claims.person, str(data.get("command", "")))
            return {"type": "error", "message": error} if error else None
        if kind == "hello":
            return self.status(claims.person) | {"chat": self._chat_for(presence)}
        return {"type": "error", "message": "unknown message"}

    def say(self, text: str, *, sender: str, person: str | None = None, booth: str | None = None) -> None:
        """A line on the text channel between operators and a person (or a whole booth).
        `sender` is a person id or "operator". Operators read it in the as-run log (an info alert).
        Journalled before it is delivered; raises `ChatNotKept` if the journal cannot keep it."""
        operator = sender == "operator"
        message = self._keep(
            "operator" if operator else "participant", None if operator else sender, text, person, booth
        )
        if not operator:
            where = f"booth {booth}" if booth else sender
            self.bus.alert("info", f"message from {message['from']} ({where}): {message['text']}")
        for presence in self._audience(person, booth):
            self._send(presence, message)

    def _say_system(self, text: str, *, booth: str) -> None:
        message = self._keep("booth", None, text, None, booth)
        for presence in self._audience(None, booth):
            self._send(presence, message)

    def _keep(
        self, origin: str, sender: str | None, text: str, person: str | None, booth: str | None
    ) -> dict[str, Any]:
        """The line limited, masked (held secrets and patterned ones), written to the journal, then
        added to the conversation in memory; what the pages are sent."""
        text = self.bus.secrets.redact(text.strip()[:_MAX_CHAT])
        at = self.clock.now().isoformat()
        try:
            seq = self.journal.record_message(
                at=at, origin=origin, text=text, sender=sender, person=person, booth=booth
            )
        except sqlite3.Error as exc:
            log.error("chat_not_journalled", origin=origin, person=person, booth=booth, error=type(exc).__name__)
            raise ChatNotKept(f"the journal could not keep the line ({type(exc).__name__}): it was not sent") from None
        message = self._chat_line(MessageRecord(seq, at, origin, sender, text, person, booth))
        self.chat.append(message)
        del self.chat[:-_KEPT_CHAT]
        return message

    def _chat_line(self, record: MessageRecord) -> dict[str, Any]:
        """A journalled line as the pages and /api/chat show it."""
        sender = record.origin if record.origin in ("operator", "booth") else self._name(record.sender)
        return {
            "type": "chat",
            "from": sender,
            "text": record.text,
            "at": record.at,
            "person": record.person,
            "booth": record.booth,
        }

    def _audience(self, person: str | None, booth: str | None) -> list[Presence]:
        if booth and booth in self.duties:
            return [self.presence[i] for i in self.duties[booth].booth.interpreters if i in self.presence]
        return [self.presence[person]] if person in self.presence else []

    def _chat_for(self, presence: Presence) -> list[dict[str, Any]]:
        duty = self.duty_of(presence.person.id) if presence.person.role == "interpreter" else None
        return [
            m
            for m in self.chat
            if m.get("person") == presence.person.id or (duty is not None and m.get("booth") == duty.booth.id)
        ][-50:]

    def _send(self, presence: Presence, message: dict[str, Any]) -> None:
        for ws in list(presence.sockets):
            if ws.closed:
                presence.sockets.discard(ws)
                continue
            task = asyncio.get_running_loop().create_task(ws.send_json(message))
            task.add_done_callback(_ignore_result)

    def _name(self, person: str | None) -> str:
        if person is None:
            return ""
        if person in self._speakers:
            return self._speakers[person].name
        if person in self._interpreters:
            return self._interpreters[person].name
        return person

    def info(self, claims: LinkClaims) -> dict[str, Any]:
        """What the join page needs to start: who, which role, their sessions, the ICE servers."""
        from orchestrator.participants.ice import browser_ice_servers

        presence = self.presence[claims.person]
        session = self.session_for(claims.person)
        speaker = self._speakers.get(claims.person)
        return {
            "person": claims.person,
            "name": self._name(claims.person),
            "city": speaker.city if speaker else None,
            "role": claims.role,
            "event": self.schedule.event.name.get("en"),
            "session": session,
            "session_title": self._sessions[session].title.get("en") if session else None,
            "expires": claims.expires.isoformat(),
            "ice_servers": browser_ice_servers(self.settings.ice_servers),
            "state": presence.state,
        }


def _level_of(peer: Peer | None) -> float | None:
    tap = peer.taps.get("audio") if peer else None
    return round(tap.level_db, 1) if tap else None


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return round(f, 1) if f == f and abs(f) < 1e7 else None


def _wants_receive(sdp: str, kind: str) -> bool:
    """Does the offer's `kind` section want to receive (sendrecv or recvonly)?"""
    for section in sdp.split("m=")[1:]:
        if section.startswith(kind):
            return "a=sendonly" not in section and "a=inactive" not in section
    return False


START_KBPS = 1500  # Chromium otherwise starts video at ~300 kb/s and climbs for 30 s (REMB only)


def _start_bitrate(sdp: str) -> str:
    """Hint the browser's starting video bitrate (`x-google-start-bitrate` on each video codec's
    fmtp; other browsers ignore it)."""
    out: list[str] = []
    video, pts = False, []
    lines = sdp.splitlines()
    for line in lines:
        if line.startswith("m="):
            video = line.startswith("m=video")
        if video and line.startswith("a=rtpmap:") and (" VP8/" in line or " H264/" in line):
            pts.append(line.split(":", 1)[1].split()[0])
    for line in lines:
        if line.startswith("a=fmtp:") and line.split(":", 1)[1].split()[0] in pts:
            line = f"{line};x-google-start-bitrate={START_KBPS}"
        out.append(line)
        if line.startswith("a=rtpmap:"):
            pt = line.split(":", 1)[1].split()[0]
            if pt in pts and not any(ln.startswith(f"a=fmtp:{pt} ") for ln in lines):
                out.append(f"a=fmtp:{pt} x-google-start-bitrate={START_KBPS}")
    return "\r\n".join(out) + "\r\n"


def _loopback(address: str) -> bool:
    return address == "::1" or address.startswith("127.")


def _loopback_candidates_only(sdp: str) -> str:
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4 and not _loopback(parts[4]):
                continue
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
