"""ICE for the peers: the RTCConfiguration from settings, and which host addresses aioice offers.

aioice offers every interface's address except 127.0.0.1 and has no option for it, so a rehearsal
that must stay on loopback (and the tests) narrows its module-level `get_host_addresses`; the
choice is process-wide, like aioice's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from orchestrator.participants.settings import IceServer

_original_host_addresses = aioice.ice.get_host_addresses


def rtc_configuration(servers: Sequence[IceServer]) -> Any:
    """An explicit (possibly empty) server list: without one aiortc asks Google's STUN server."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=list(s.urls),
                username=s.username,
                credential=s.credential.get_secret_value() if s.credential else None,
            )
            for s in servers
        ]
    )


def browser_ice_servers(servers: Sequence[IceServer]) -> list[dict[str, Any]]:
    """The same servers for the join page's RTCPeerConnection (TURN credentials are the guest's
    to use, so they are handed to the page, never logged)."""
    out: list[dict[str, Any]] = []
    for s in servers:
        entry: dict[str, Any] = {"urls": list(s.urls)}
        if s.username:
            entry["username"] = s.username
        if s.credential:
            entry["credential"] = s.credential.get_secret_value()
        out.append(entry)
    return out


def gather_host_addresses(addresses: Sequence[str] | None) -> None:
    """Offer host candidates only on `addresses` (None: aioice's default again)."""
    if addresses is None:
        aioice.ice.get_host_addresses = _original_host_addresses
        return
    chosen = list(addresses)

    def only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = only
