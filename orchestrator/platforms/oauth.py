"""Google OAuth 2 refresh-token flow: one authorised refresh token per channel, access tokens
refreshed ahead of expiry (and once more after a 401). Every token obtained (an access token, a
rotated refresh token) is handed to `hold` before anything else sees it: the run's `Secrets.add`,
so it is masked by value everywhere even though nothing about it looks like a token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import structlog

from orchestrator.platforms.credentials import YouTubeCredentials
from orchestrator.platforms.errors import CredentialsRejected, PlatformUnavailable
from orchestrator.platforms.retry import Backoff
from orchestrator.redaction import Secrets

log = structlog.get_logger(__name__)

# Answers that mean the credentials themselves are wrong: retrying cannot help.
_REJECTED = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope", "access_denied"}


class GoogleOAuth:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        token_url: str,
        credentials: YouTubeCredentials,
        *,
        name: str,
        destination: str,
        margin_s: float = 300.0,
        backoff: Backoff | None = None,
        hold: Callable[[str], None] | None = None,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._creds = credentials
        self.name = name
        self._destination = destination
        self._margin_s = margin_s
        self._backoff = backoff or Backoff()
        # Without the run's, a private `Secrets` of its own: log lines still mask the token by value.
        self._own_secrets = Secrets()
        self._hold = hold or self._own_secrets.add
        self._token: str | None = None
        self._expires_at = 0.0  # time.monotonic(): a rehearsal's compressed clock must not age tokens
        self.scopes: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - self._margin_s:
                await self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (the API said 401); the next `token()` refreshes."""
        if self._token == token:
            self._token = None

    async def _refresh(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self._creds.client_id,
            "client_secret": self._creds.client_secret.get_secret_value(),
            "refresh_token": self._creds.refresh_token.get_secret_value(),
        }
        delays = self._backoff.delays()
        while True:
            problem: str
            try:
                async with self._http.post(self._token_url, data=form) as resp:
                    data = await _json(resp)
                    token = data.get("access_token")
                    if resp.status == 200 and isinstance(token, str):
                        self._hold(token)
                        rotated = data.get("refresh_token")  # Google may rotate it
                        if isinstance(rotated, str):
                            self._hold(rotated)
                        self._token = token
                        lifetime = float(str(data.get("expires_in", 3600)))
                        self._expires_at = time.monotonic() + lifetime
                        self.scopes = frozenset(str(data.get("scope", "")).split())
                        log.info("youtube_token_refreshed", credentials=self.name, expires_in=lifetime)
                        return
                    error = str(data.get("error", f"HTTP {resp.status}"))
                    if error in _REJECTED or resp.status in (400, 401, 403):
                        log.error("youtube_token_rejected", credentials=self.name, error=error)
                        raise CredentialsRejected(
                            self._destination,
                            error,
                            f"Google refused the refresh token of credentials '{self.name}' ({error}: "
                            f"{data.get('error_description', '')}); re-authorise the channel and update the secret",
                        )
                    problem = f"token endpoint answered HTTP {resp.status}"
            except aiohttp.ClientError as err:
                problem = f"cannot reach the token endpoint ({type(err).__name__})"
            except TimeoutError:
                problem = "the token endpoint timed out"
            delay = next(delays, None)
            if delay is None:
                raise PlatformUnavailable(self._destination, "tokenEndpointUnavailable", problem)
            log.warning("youtube_token_retry", credentials=self.name, problem=problem, delay_s=round(delay, 2))
            await asyncio.sleep(delay)


async def _json(resp: aiohttp.ClientResponse) -> dict[str, object]:
    try:
        data = await resp.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
