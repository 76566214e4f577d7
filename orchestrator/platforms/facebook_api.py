"""A small async Graph API client over aiohttp, with the error policy.

Why not facebook-business: it is synchronous and drags in the whole Marketing API for four calls.
Like it, we call `/{version}/{node}`; the page token travels in the form body of a POST and in the
query of a GET (never in a log line: errors are masked).

Policy: HTTP 5xx/429 and Graph's transient codes (1, 2, 4, 17, 32, 341, 613, or `is_transient`)
back off and retry; code 190/102/104 (bad token) raises `CredentialsRejected`; permission codes (10,
200–299) raise `DestinationFailed`; everything else surfaces as `GraphApiError` for the adapter.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import structlog

from orchestrator.platforms.credentials import FacebookCredentials
from orchestrator.platforms.errors import CredentialsRejected, DestinationFailed, PlatformUnavailable
from orchestrator.platforms.retry import retry_after
from orchestrator.platforms.settings import FacebookSettings
from orchestrator.redaction import mask_text

log = structlog.get_logger(__name__)

_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613}
_TOKEN_CODES = {102, 104, 190}


class GraphApiError(Exception):
    def __init__(self, status: int, code: int, subcode: int | None, message: str) -> None:
        super().__init__(f"HTTP {status} code {code}: {message}")
        self.status, self.code, self.subcode, self.message = status, code, subcode, message

    @property
    def not_found(self) -> bool:
        """The object does not exist (deleted) — Graph's 100/33."""
        return self.code == 100 and self.subcode == 33


class GraphApi:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        settings: FacebookSettings,
        credentials: FacebookCredentials,
        *,
        name: str,
        destination: str,
    ) -> None:
        self._http = http
        self._settings = settings
        self._creds = credentials
        self.name = name
        self.destination = destination
        self.page_id = credentials.page_id
        self._base = f"{settings.graph_base.rstrip('/')}/{settings.api_version}/"

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        return await self.call("GET", path, params)

    async def post(self, path: str, **params: str) -> dict[str, Any]:
        return await self.call("POST", path, params)

    async def delete(self, path: str) -> dict[str, Any]:
        return await self.call("DELETE", path, {})

    async def call(self, verb: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        token = self._creds.page_token.get_secret_value()
        query = {**params, "access_token": token} if verb == "GET" else {}
        form = {**params, "access_token": token} if verb != "GET" else None
        delays = self._settings.backoff.delays()
        while True:
            try:
                async with self._http.request(
                    verb,
                    self._base + path.strip("/"),
                    params=query,
                    data=form,
                    timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout_s),
                ) as resp:
                    status = resp.status
                    data = await _json(resp)
                    wait_hint = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as err:
                problem, wait_hint = f"cannot reach the Graph API ({type(err).__name__})", None
            else:
                error = data.get("error")
                if status < 300 and not isinstance(error, dict):
                    return data
                error = error if isinstance(error, dict) else {}
                code = int(error.get("code", 0) or 0)
                subcode = error.get("error_subcode")
                message = mask_text(str(error.get("message", f"HTTP {status}")))
                if code in _TOKEN_CODES:
                    log.error("facebook_token_rejected", credentials=self.name, destination=self.destination, code=code)
                    raise CredentialsRejected(
                        self.destination,
                        f"graph{code}",
                        f"Facebook rejected the page token of credentials '{self.name}' ({message}); issue a new "
                        "page token and update the secret",
                    )
                if code == 10 or 200 <= code <= 299:
                    log.error("facebook_permission_denied", destination=self.destination, code=code)
                    raise DestinationFailed(
                        self.destination,
                        f"graph{code}",
                        f"the page token lacks a permission ({message}); it needs pages_manage_posts and "
                        "publish_video on the page",
                    )
                transient = (
                    status >= 500 or status == 429 or code in _TRANSIENT_CODES or bool(error.get("is_transient"))
                )
                if not transient:
                    raise GraphApiError(status, code, int(subcode) if subcode is not None else None, message)
                problem = f"HTTP {status} code {code}"
            delay = next(delays, None)
            if delay is None:
                log.error("facebook_unavailable", destination=self.destination, path=path, problem=problem)
                raise PlatformUnavailable(self.destination, "unavailable", f"Graph API {verb} kept failing: {problem}")
            delay = min(max(delay, retry_after(wait_hint, 0.0)), self._settings.backoff_max_s)
            log.warning(
                "facebook_retry", destination=self.destination, verb=verb, problem=problem, delay_s=round(delay, 2)
            )
            await asyncio.sleep(delay)


async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await resp.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
