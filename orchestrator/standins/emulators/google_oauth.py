"""Google's OAuth 2 token endpoint (`POST /token`, refresh-token grant) for one OAuth client, as the
YouTube emulator serves it: each refresh token stands for one channel; access tokens are bearer
tokens that expire; refusals use Google's error bodies (`invalid_grant`, `invalid_client`, …)."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog
from aiohttp import web

from orchestrator.clock import Clock
from orchestrator.standins.emulators.common import random_id

log = structlog.get_logger(__name__)


class TokenIssuer:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        channels: dict[str, str],  # refresh token → channel id
        *,
        scopes: Callable[[], Sequence[str]],  # read at each grant: a drill may narrow them
        lifetime_s: int,
        clock: Clock,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.channels = channels
        self.scopes = scopes
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._issued: dict[str, tuple[datetime, str]] = {}  # access token → (expiry, channel id)
        self._revoked: set[str] = set()
        # What each access token looks like; a test may hand out tokens no pattern would recognise.
        self.new_token: Callable[[], str] = lambda: "ya29.emu-" + random_id(64)

    def channel_for(self, access_token: str) -> str | None:
        """The channel a live, unexpired access token acts for."""
        issued = self._issued.get(access_token)
        if issued is None or issued[0] <= self._clock.now():
            return None
        return issued[1]

    @property
    def issued(self) -> list[str]:
        """Access tokens handed out and still valid (for a test looking for leaks)."""
        return list(self._issued)

    def revoke_access_tokens(self) -> None:
        self._issued.clear()

    def revoke_refresh_token(self, refresh_token: str) -> None:
        self._revoked.add(refresh_token)
        self._issued = {t: v for t, v in self._issued.items() if v[1] != self.channels.get(refresh_token)}

    async def handle(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except (UnicodeDecodeError, ValueError):  # not UTF-8, or not a form Google could parse
            return _refuse(400, "invalid_request", "The request body is not a valid form.")
        client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):  # client_secret_basic, as some clients send it
            with contextlib.suppress(ValueError):
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        grant = str(form.get("grant_type", ""))
        if grant != "refresh_token":
            return _refuse(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        if client_id != self.client_id:
            return _refuse(401, "invalid_client", "The OAuth client was not found.")
        if client_secret != self.client_secret:
            return _refuse(401, "invalid_client", "Unauthorized")
        refresh = str(form.get("refresh_token", ""))
        if not refresh:
            return _refuse(400, "invalid_request", "Missing required parameter: refresh_token")
        if refresh not in self.channels:
            return _refuse(400, "invalid_grant", "Bad Request")
        if refresh in self._revoked:
            return _refuse(400, "invalid_grant", "Token has been expired or revoked.")
        token = self.new_token()
        self._issued[token] = (self._clock.now() + timedelta(seconds=self.lifetime_s), self.channels[refresh])
        return web.json_response(
            {
                "access_token": token,
                "expires_in": self.lifetime_s,
                "scope": " ".join(self.scopes()),
                "token_type": "Bearer",
            }
        )


def _refuse(status: int, error: str, description: str) -> web.Response:
    log.info("youtube_emulator_token_refused", error=error)
    return web.json_response({"error": error, "error_description": description}, status=status)
