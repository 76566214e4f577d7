"""What the participants adapter is configured with: the link secret, STUN/TURN, timings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr

from orchestrator.links import DEFAULT_MARGIN


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server (aiortc uses the first of each kind). Guests behind strict
    firewalls need TURN over TCP or TLS on 443 (`turns:host:443?transport=tcp`)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: SecretStr | None = None


@dataclass(frozen=True)
class ParticipantSettings:
    link_secret: SecretStr
    ice_servers: tuple[IceServer, ...] = ()
    # Gather ICE host candidates only on these addresses (rehearsals and tests: ("127.0.0.1",));
    # None: every interface but loopback, aioice's own choice.
    host_addresses: tuple[str, ...] | None = None
    link_margin: timedelta = DEFAULT_MARGIN
    stats_every_s: float = 2.0  # figures sent to the dashboard (ParticipantChanged)
    drop_after_s: float = 0.3  # no picture for this long: the participant has dropped
    max_peers: int = 64  # more joins at once get 503 + Retry-After
    standby_before: timedelta = timedelta(minutes=5)  # the tally says STAND BY this long before a cue
