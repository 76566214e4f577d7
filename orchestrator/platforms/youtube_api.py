"""A small async client of the YouTube Live Streaming API over aiohttp, with the error policy.

Why not google-api-python-client: it is synchronous (each call would need a thread) and hides the
HTTP status and Retry-After we base the retry policy on; aiogoogle would add a dependency for six
methods. The calls here follow the discovery document's paths and parameters exactly (the emulator
validates them against it).

Policy: 429/5xx/rate limits back off and retry; a 401 refreshes the token once; `quotaExceeded`
raises `QuotaExhausted`; `insufficientPermissions`/`liveStreamingNotEnabled`/`forbidden` raise
`DestinationFailed`; other API errors (`redundantTransition`, `errorStreamInactive`, not found…)
surface as `YouTubeApiError` for the adapter to decide.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp
import structlog

from orchestrator.clock import Clock
from orchestrator.engine.ports import Journal, Notifier
from orchestrator.platforms.errors import (
    CredentialsRejected,
    DestinationFailed,
    PlatformUnavailable,
    QuotaExhausted,
)
from orchestrator.platforms.oauth import GoogleOAuth
from orchestrator.platforms.retry import retry_after
from orchestrator.platforms.settings import YouTubeSettings
from orchestrator.platforms.youtube_quota import cost, quota_day
from orchestrator.redaction import mask_text

log = structlog.get_logger(__name__)

_FATAL_403 = {"insufficientPermissions", "liveStreamingNotEnabled", "forbidden", "insufficientLivePermissions"}
_TRANSIENT = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"}

BROADCAST_PARTS = "id,snippet,status,contentDetails"
STREAM_PARTS = "id,snippet,cdn,status,contentDetails"


class YouTubeApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class QuotaLedger:
    """Units spent today by one Google Cloud project (one OAuth client), kept in the journal so a
    restart does not forget them; warns once when `warn_at` of the budget is spent."""

    def __init__(
        self,
        journal: Journal,
        client_id: str,
        *,
        daily_quota: int,
        warn_at: float,
        clock: Clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._journal = journal
        self.project = hashlib.sha256(client_id.encode()).hexdigest()[:12]
        self.daily_quota = daily_quota
        self._warn_at = warn_at
        self._clock = clock
        self._notifier = notifier
        self._warned_day = ""

    def _key(self) -> str:
        return f"youtube/quota/{self.project}/{quota_day(self._clock.now())}"

    @property
    def spent(self) -> int:
        return int(self._journal.recall(self._key()) or 0)

    @property
    def remaining(self) -> int:
        return max(0, self.daily_quota - self.spent)

    def charge(self, method: str, destination: str) -> None:
        spent = self.spent + cost(method)
        self._journal.remember(self._key(), str(spent))
        day = quota_day(self._clock.now())
        if spent >= self._warn_at * self.daily_quota and self._warned_day != day:
            self._warned_day = day
            log.warning(
                "youtube_quota_low",
                project=self.project,
                spent=spent,
                daily_quota=self.daily_quota,
                destination=destination,
            )
            if self._notifier is not None:
                self._notifier.alert(
                    "warning",
                    f"YouTube quota: {spent} of {self.daily_quota} units spent today; it resets at midnight "
                    "Pacific time. Health polling will use the rest.",
                    destination=destination,
                )

    def exhausted(self) -> None:
        """The API said quotaExceeded: our count was low; trust the platform."""
        self._journal.remember(self._key(), str(max(self.spent, self.daily_quota)))


class YouTubeApi:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        settings: YouTubeSettings,
        oauth: GoogleOAuth,
        ledger: QuotaLedger,
        *,
        destination: str,
    ) -> None:
        self._http = http
        self._settings = settings
        self.oauth = oauth
        self.ledger = ledger
        self.destination = destination
        self._base = settings.api_base.rstrip("/") + "/youtube/v3/"

    # -- methods ------------------------------------------------------------------------------

    async def broadcasts(
        self,
        *,
        ids: list[str] | None = None,
        status: str | None = None,
        parts: str = BROADCAST_PARTS,
        max_results: int = 50,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"part": parts, "maxResults": max_results}
        if ids is not None:
            params["id"] = ",".join(ids)
        else:
            params["broadcastStatus"] = status or "all"
        items: list[dict[str, Any]] = []
        while True:
            data = await self.call("liveBroadcasts.list", "GET", "liveBroadcasts", params) or {}
            items.extend(data.get("items", []))
            if not data.get("nextPageToken") or ids is not None:
                return items
            params["pageToken"] = data["nextPageToken"]

    async def broadcast(self, broadcast_id: str, parts: str = BROADCAST_PARTS) -> dict[str, Any] | None:
        found = await self.broadcasts(ids=[broadcast_id], parts=parts)
        return found[0] if found else None

    async def insert_broadcast(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._must("liveBroadcasts.insert", "POST", "liveBroadcasts", {"part": BROADCAST_PARTS}, body)

    async def bind(self, broadcast_id: str, stream_id: str) -> dict[str, Any]:
        params = {"part": BROADCAST_PARTS, "id": broadcast_id, "streamId": stream_id}
        return await self._must("liveBroadcasts.bind", "POST", "liveBroadcasts/bind", params)

    async def transition(self, broadcast_id: str, status: str) -> dict[str, Any]:
        params = {"part": "id,status", "id": broadcast_id, "broadcastStatus": status}
        return await self._must("liveBroadcasts.transition", "POST", "liveBroadcasts/transition", params)

    async def insert_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._must("liveStreams.insert", "POST", "liveStreams", {"part": STREAM_PARTS}, body)

    async def stream(self, stream_id: str, parts: str = STREAM_PARTS) -> dict[str, Any] | None:
        data = await self.call("liveStreams.list", "GET", "liveStreams", {"part": parts, "id": stream_id}) or {}
        items = data.get("items", [])
        return items[0] if items else None

    async def my_channel(self) -> dict[str, Any] | None:
        data = await self.call("channels.list", "GET", "channels", {"part": "id,snippet", "mine": "true"}) or {}
        items = data.get("items", [])
        return items[0] if items else None

    async def _must(
        self, method: str, verb: str, path: str, params: dict[str, Any], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        data = await self.call(method, verb, path, params, body)
        if not isinstance(data, dict):
            raise YouTubeApiError(200, "emptyResponse", f"{method} answered without a resource")
        return data

    # -- the one place that speaks HTTP -------------------------------------------------------

    async def call(
        self, method: str, verb: str, path: str, params: dict[str, Any], body: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        delays = self._settings.backoff.delays()
        refreshed = False
        while True:
            token = await self.oauth.token()
            headers = {"Authorization": f"Bearer {token}"}
            try:
                async with self._http.request(
                    verb,
                    self._base + path,
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout_s),
                ) as resp:
                    status = resp.status
                    data = await _json(resp)
                    wait_hint = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as err:
                problem, wait_hint = f"cannot reach the YouTube API ({type(err).__name__})", None
            else:
                if status < 300:
                    self.ledger.charge(method, self.destination)
                    return data or None
                reason, message = _error(data, status)
                if status == 401 and not refreshed:
                    # An access token can be revoked before its expiry: refresh once, then give up.
                    log.warning("youtube_token_refused_refreshing", destination=self.destination, method=method)
                    self.oauth.invalidate(token)
                    refreshed = True
                    continue
                if status == 401:
                    raise CredentialsRejected(
                        self.destination,
                        reason or "authError",
                        f"YouTube rejected fresh credentials of '{self.oauth.name}' ({message})",
                    )
                if reason == "quotaExceeded":
                    self.ledger.exhausted()
                    log.error("youtube_quota_exhausted", destination=self.destination, method=method)
                    raise QuotaExhausted(
                        self.destination,
                        reason,
                        "the YouTube API quota of this project is spent for today (it resets at midnight Pacific "
                        "time); ask Google for more quota or use another project's credentials",
                    )
                if not (status == 429 or status >= 500 or reason in _TRANSIENT):
                    self.ledger.charge(method, self.destination)
                    if status == 403 and reason in _FATAL_403:
                        log.error("youtube_destination_failed", destination=self.destination, reason=reason)
                        raise DestinationFailed(self.destination, reason, _explain(reason, message))
                    raise YouTubeApiError(status, reason, mask_text(message))
                problem = f"HTTP {status} {reason}"
            delay = next(delays, None)
            if delay is None:
                log.error("youtube_unavailable", destination=self.destination, method=method, problem=problem)
                raise PlatformUnavailable(self.destination, "unavailable", f"{method} kept failing: {problem}")
            delay = min(max(delay, retry_after(wait_hint, 0.0)), self._settings.backoff_max_s)
            log.warning(
                "youtube_retry", destination=self.destination, method=method, problem=problem, delay_s=round(delay, 2)
            )
            await asyncio.sleep(delay)


def _error(data: dict[str, Any], status: int) -> tuple[str, str]:
    error = data.get("error")
    if not isinstance(error, dict):
        return "", f"HTTP {status}"
    items = error.get("errors") or [{}]
    return str(items[0].get("reason", "")), str(error.get("message", ""))


def _explain(reason: str, message: str) -> str:
    what = {
        "liveStreamingNotEnabled": "live streaming is not enabled on this channel (enable it in YouTube Studio; it "
        "takes up to 24 hours)",
        "insufficientPermissions": "the credentials lack the YouTube scope (re-authorise with "
        "https://www.googleapis.com/auth/youtube)",
        "insufficientLivePermissions": "the account may not manage live broadcasts on this channel",
        "forbidden": "YouTube forbids this request for these credentials",
    }.get(reason, message)
    return f"{what} — YouTube said: {message}" if message and what != message else what


async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await resp.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
