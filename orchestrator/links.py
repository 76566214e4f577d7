"""Personal join links: one signed token per speaker or interpreter of an event (pure, no I/O).

    signer = LinkSigner(secret, schedule.event.id)
    link = signer.issue("ana", "speaker", expires)        # Link(token=…); link.url(base_url)
    claims = signer.verify(token, now, revoked=…)          # LinkClaims, or raises LinkError

A token is `<payload>.<mac>`, both base64url without padding: the payload is a compact JSON object
(event, person, role, expiry, generation), the MAC an HMAC-SHA256 over the payload with the
event's link secret. The secret lives in config and is never logged; a token names nobody outside
the event and cannot be widened to another person, role, event or expiry without the secret.
Revoking a person's link raises their generation (kept by the caller); every older token of theirs
then fails with `revoked`. `links_for(schedule, …)` issues everyone's link, each expiring `margin`
after the end of that person's last session, so a technical check days ahead works as well.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from orchestrator.schedule.model import Schedule

Role = Literal["speaker", "interpreter"]
ROLES: tuple[Role, ...] = ("speaker", "interpreter")
DEFAULT_MARGIN = timedelta(hours=12)
JOIN_PATH = "/join/"
_MAX_TOKEN = 1024  # anything longer is not one of ours; refuse before decoding
MIN_SECRET_BYTES = 16

LinkFailure = Literal["malformed", "bad_signature", "wrong_event", "expired", "revoked"]


class LinkError(ValueError):
    """A token that does not admit anyone; `reason` says why (no part of the token is quoted)."""

    def __init__(self, reason: LinkFailure, detail: str) -> None:
        super().__init__(detail)
        self.reason: LinkFailure = reason


@dataclass(frozen=True)
class LinkClaims:
    event: str
    person: str
    role: Role
    expires: datetime
    generation: int = 0


@dataclass(frozen=True)
class Link:
    claims: LinkClaims
    token: str

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + JOIN_PATH + self.token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, secret: bytes | str, event_id: str) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"the link secret must be at least {MIN_SECRET_BYTES} bytes")
        self._key = key
        self.event_id = event_id

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, person: str, role: Role, expires: datetime, generation: int = 0) -> Link:
        if role not in ROLES:
            raise ValueError(f"unknown link role {role!r}")
        claims = LinkClaims(self.event_id, person, role, expires.astimezone(UTC), generation)
        body = {"e": claims.event, "p": person, "r": role, "x": int(claims.expires.timestamp()), "g": generation}
        payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
        return Link(claims, f"{payload}.{self._mac(payload)}")

    def verify(
        self,
        token: str,
        now: datetime,
        *,
        generation_of: Callable[[str], int] = lambda _person: 0,
    ) -> LinkClaims:
        """The claims of a valid token; `generation_of(person)` is the person's current generation
        (raised by each revocation)."""
        if not token or len(token) > _MAX_TOKEN or token.count(".") != 1:
            raise LinkError("malformed", "this is not a join link")
        payload, mac = token.split(".")
        try:
            expected = self._mac(payload)
        except UnicodeEncodeError:
            raise LinkError("malformed", "this is not a join link") from None
        if not hmac.compare_digest(expected, mac):
            raise LinkError("bad_signature", "this join link is not valid")
        try:
            body = json.loads(_unb64(payload))
            claims = LinkClaims(
                event=str(body["e"]),
                person=str(body["p"]),
                role=body["r"] if body["r"] in ROLES else "speaker",
                expires=datetime.fromtimestamp(int(body["x"]), UTC),
                generation=int(body.get("g", 0)),
            )
        except (ValueError, KeyError, TypeError, binascii.Error, OverflowError):
            raise LinkError("malformed", "this join link is damaged") from None
        if claims.event != self.event_id:
            raise LinkError("wrong_event", "this join link belongs to another event")
        if now >= claims.expires:
            raise LinkError("expired", f"this join link expired at {claims.expires:%Y-%m-%d %H:%M} UTC")
        if claims.generation < generation_of(claims.person):
            raise LinkError("revoked", "this join link has been withdrawn; ask the organisers for a new one")
        return claims


@dataclass(frozen=True)
class Person:
    id: str
    role: Role
    name: str
    last_end: datetime  # the end of their last session (the link's expiry is measured from it)
    sessions: tuple[str, ...]


def people(schedule: Schedule) -> list[Person]:
    """Every live participant: speakers who join remotely (appearance `remote`) or have a remote
    segment, and every interpreter of a booth on duty in some session; in schedule order."""
    speaker_sessions: dict[str, list[tuple[str, datetime]]] = {}
    interpreter_sessions: dict[str, list[tuple[str, datetime]]] = {}
    booths = {b.id: b for b in schedule.booths}
    for session in schedule.sessions:
        for segment in session.rundown:
            if segment.kind == "remote":
                speaker_sessions.setdefault(segment.speaker, []).append((session.id, session.end))
        for booth_id in session.booths:
            booth = booths.get(booth_id)
            for interpreter in booth.interpreters if booth else []:
                interpreter_sessions.setdefault(interpreter, []).append((session.id, session.end))
    out: list[Person] = []
    for sp in schedule.speakers:
        if sp.id in speaker_sessions:
            out.append(_person(sp.id, "speaker", sp.name, speaker_sessions[sp.id]))
    for it in schedule.interpreters:
        if it.id in interpreter_sessions:
            out.append(_person(it.id, "interpreter", it.name, interpreter_sessions[it.id]))
    return out


def _person(pid: str, role: Role, name: str, sessions: Iterable[tuple[str, datetime]]) -> Person:
    items = list(sessions)
    ids = tuple(dict.fromkeys(s for s, _ in items))
    return Person(pid, role, name, max(end for _, end in items), ids)


def links_for(
    schedule: Schedule,
    signer: LinkSigner,
    *,
    margin: timedelta = DEFAULT_MARGIN,
    generation_of: Callable[[str], int] = lambda _person: 0,
) -> list[tuple[Person, Link]]:
    """Everyone's personal link, valid until `margin` after their last session."""
    return [(p, signer.issue(p.id, p.role, p.last_end + margin, generation_of(p.id))) for p in people(schedule)]
