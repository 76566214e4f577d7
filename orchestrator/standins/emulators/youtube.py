"""A local emulator of the YouTube Live Streaming API (YouTube Data API v3), on loopback.

Serves the real paths (`/youtube/v3/liveBroadcasts`, `/liveBroadcasts/bind`, `/liveBroadcasts/
transition`, `/liveStreams`, `/channels`) and the OAuth refresh at `/token`, so an official client
pointed at it (`rootUrl`/`token_uri`) works unchanged. Every request is validated against the
discovery document shipped beside this module; a mismatch is answered with the real API's error.

What it emulates faithfully:
- OAuth: only the client id, secret and refresh token(s) it was given are accepted (each refresh
  token is one channel, e.g. Korean and English); access tokens are bearer tokens that expire after
  `token_lifetime_s`; errors are Google's (`invalid_grant`, `invalid_client`, 401 `authError`,
  403 `insufficientPermissions`). A channel sees only its own broadcasts and streams.
- Broadcasts: created → ready (bind) → testStarting → testing → liveStarting → live → complete, with
  `redundantTransition`, `invalidTransition`, `errorStreamInactive`, `liveBroadcastNotFound`.
- Streams: ingest on the local RTMP server (`cdn.ingestionInfo.ingestionAddress`, a random
  `streamName`); `status.streamStatus` is `active` only while media really arrives there, and
  `healthStatus` lists configuration issues read from what arrives (codecs, resolution, frame rate).
- Quota: Google's per-method costs against a daily budget, then 403 `quotaExceeded`.

Local differences (by necessity): ingest is plain `rtmp://` on loopback, also in the
`rtmps*IngestionAddress` fields (no TLS RTMP server here); the backup address is a second
application (`backup_rtmp_url`, by default `<primary app>-backup` on the same server) where YouTube
has a second server (`b.rtmp.youtube.com`), so the primary and the backup can publish the same
stream name at once.

Test and drill controls: `fail_next(...)`, `delete_broadcast(...)` ("deleted in YouTube Studio"),
`revoke_access_tokens()`, `quota_used`; the same over HTTP under `/_emulator/`.

What arrived for a broadcast (given a `recordings` feed, the RTMP server recording its ingest):
`recordings_of(broadcast_id)` (and `backup=True`) lists the files recorded of the stream bound to
it while it was on air, or — for a broadcast that never went on air — while it was bound and next
in line. A reusable stream serves many broadcasts; each recording belongs to one of them, and its
file is named after it (`yt-<broadcast id>.flv`, `yt-stream-<stream id>.flv` for a publish no
broadcast took), never after the stream key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from orchestrator.clock import Clock, SystemClock
from orchestrator.standins.emulators.common import (
    BadRequest,
    Fault,
    FaultPlan,
    FaultRequest,
    guarded_app,
    json_object,
    random_id,
    serve,
    wait_for_stop_signal,
)
from orchestrator.standins.emulators.discovery import Discovery, GoogleApiError, Method, apply_fields
from orchestrator.standins.emulators.google_oauth import TokenIssuer
from orchestrator.standins.emulators.ingest import (
    IngestMonitor,
    RecordingFeed,
    app_of,
    backup_application,
    open_ingest,
)
from orchestrator.standins.emulators.youtube_quota import DEFAULT_DAILY_QUOTA, cost, quota_day
from orchestrator.standins.emulators.youtube_support import (
    configuration_issues,
    etag,
    one_filter,
    page,
    parse_time,
    rfc3339,
    status_matches,
    stream_key,
)
from orchestrator.standins.nginx import PublishedStream

log = structlog.get_logger(__name__)

SCOPE_YOUTUBE = "https://www.googleapis.com/auth/youtube"
_BROADCAST_DOMAIN = "youtube.liveBroadcast"
_STREAM_DOMAIN = "youtube.liveStream"
_QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
    "quota</a>."
)
_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

# Default reasons for injected faults, as Google words them.
_FAULT_DEFAULTS: dict[int, tuple[str, str, str]] = {
    401: ("authError", "global", "Invalid Credentials"),
    403: ("forbidden", "global", "Forbidden"),
    429: (
        "rateLimitExceeded",
        "youtube.quota",
        "The request cannot be completed because you have exceeded your quota.",
    ),
    500: ("backendError", "global", "Backend Error"),
    503: ("backendError", "global", "The service is currently unavailable."),
}


@dataclass
class YouTubeEmulatorConfig:
    client_id: str
    client_secret: str
    refresh_token: str
    rtmp_url: str
    backup_rtmp_url: str | None = None
    scopes: tuple[str, ...] = (SCOPE_YOUTUBE,)
    daily_quota: int = DEFAULT_DAILY_QUOTA
    token_lifetime_s: int = 3600
    transition_delay_s: float = 1.0  # how long testStarting/liveStarting last
    live_streaming_enabled: bool = True
    channel_title: str = "Emulated channel"
    # More channels of the same OAuth client (refresh token → channel title): one emulator serves
    # e.g. the Korean and the English channel, as the real API does.
    more_channels: dict[str, str] = field(default_factory=dict)


@dataclass
class _Broadcast:
    id: str
    channel: str
    snippet: dict[str, Any]
    status: dict[str, Any]
    content: dict[str, Any]
    phase: str = "created"
    phase_since: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Story:
    """What happened to a broadcast, in wall-clock seconds (recordings are stamped so), kept after
    it is deleted: which streams it was bound to and when, and when it was on air."""

    created: float
    bindings: list[tuple[str, float, float | None]] = field(default_factory=list)  # stream, since, until
    on_air: float | None = None  # the first transition to testing or live
    off_air: float | None = None  # complete, or deleted

    def bind(self, stream_id: str | None, at: float) -> None:
        if self.bindings and self.bindings[-1][2] is None:
            stream, since, _ = self.bindings[-1]
            self.bindings[-1] = (stream, since, at)
        if stream_id is not None:
            self.bindings.append((stream_id, at, None))

    def bound_to(self, stream_id: str, start: float, end: float) -> bool:
        """Bound to the stream at some time in [start, end]."""
        return any(
            s == stream_id and since <= end and (until is None or start < until) for s, since, until in self.bindings
        )

    def on_air_during(self, start: float, end: float) -> bool:
        return self.on_air is not None and self.on_air <= end and (self.off_air is None or start < self.off_air)


@dataclass(frozen=True)
class _Ingest:
    """A stream's ingest names, kept after the stream is deleted: (application, stream name)."""

    primary: tuple[str, str]
    backup: tuple[str, str]


@dataclass
class _Stream:
    id: str
    channel: str
    snippet: dict[str, Any]
    cdn: dict[str, Any]
    content: dict[str, Any]
    ever_active: bool = False


class YouTubeEmulator:
    """The emulated API's state and its aiohttp application (`app()`)."""

    def __init__(
        self,
        config: YouTubeEmulatorConfig,
        *,
        monitor: IngestMonitor,
        clock: Clock | None = None,
        discovery: Discovery | None = None,
        recordings: RecordingFeed | None = None,
    ) -> None:
        self.config = config
        self.monitor = monitor
        self.recordings = recordings
        self.clock = clock or SystemClock()
        self.discovery = discovery or Discovery.load()
        self.channel_id = "UC" + random_id(22)  # the first channel's
        self.channels = {self.channel_id: config.channel_title}
        by_refresh = {config.refresh_token: self.channel_id}
        for refresh, title in config.more_channels.items():
            by_refresh[refresh] = channel = "UC" + random_id(22)
            self.channels[channel] = title
        self.tokens = TokenIssuer(
            config.client_id,
            config.client_secret,
            by_refresh,
            scopes=lambda: self.config.scopes,
            lifetime_s=config.token_lifetime_s,
            clock=self.clock,
        )
        self.faults = FaultPlan()
        self.calls: list[str] = []  # method names served (after auth), for tests and drills
        self._broadcasts: dict[str, _Broadcast] = {}
        self._streams: dict[str, _Stream] = {}
        self._stories: dict[str, _Story] = {}  # broadcast id → story, also of deleted broadcasts
        self._ingests: dict[str, _Ingest] = {}  # stream id → ingest names, also of deleted streams
        self._quota_day = ""
        self._quota_used = 0
        self._handlers: dict[str, Callable[[dict[str, Any], Any, str], Awaitable[Any]]] = {
            "liveBroadcasts.insert": self._broadcast_insert,
            "liveBroadcasts.list": self._broadcast_list,
            "liveBroadcasts.bind": self._broadcast_bind,
            "liveBroadcasts.transition": self._broadcast_transition,
            "liveBroadcasts.update": self._broadcast_update,
            "liveBroadcasts.delete": self._broadcast_delete,
            "liveStreams.insert": self._stream_insert,
            "liveStreams.list": self._stream_list,
            "liveStreams.update": self._stream_update,
            "liveStreams.delete": self._stream_delete,
            "channels.list": self._channel_list,
        }
        if recordings is not None:
            recordings.name_recordings(self._recording_name)

    # -- controls for tests and drills --------------------------------------------------------

    def fail_next(
        self,
        status: int,
        reason: str | None = None,
        *,
        count: int = 1,
        method: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `count` calls (of `method`, e.g. "liveBroadcasts.insert") with an error."""
        default_reason, _domain, default_message = _FAULT_DEFAULTS.get(status, ("backendError", "global", "Error"))
        self.faults.add(Fault(status, reason or default_reason, count, method, message or default_message, retry_after))

    def delete_broadcast(self, broadcast_id: str) -> None:
        """What a producer deleting the broadcast in YouTube Studio does."""
        if self._broadcasts.pop(broadcast_id, None) is None:
            raise KeyError(broadcast_id)
        self._gone(broadcast_id)
        log.info("youtube_emulator_broadcast_deleted_in_ui", broadcast=broadcast_id)

    def revoke_access_tokens(self) -> None:
        """Invalidate every access token issued so far (the refresh tokens still work)."""
        self.tokens.revoke_access_tokens()

    def revoke_refresh_token(self, refresh_token: str | None = None) -> None:
        """What the channel owner removing the app's access does (default: the first channel's)."""
        self.tokens.revoke_refresh_token(refresh_token or self.config.refresh_token)

    @property
    def quota_used(self) -> int:
        self._roll_quota_day()
        return self._quota_used

    @quota_used.setter
    def quota_used(self, units: int) -> None:
        self._roll_quota_day()
        self._quota_used = units

    def broadcast(self, broadcast_id: str) -> dict[str, Any]:
        """A broadcast with all parts, as `liveBroadcasts.list` would show it."""
        b = self._broadcasts[broadcast_id]
        self._advance(b)
        return self._broadcast_resource(b, {"id", "snippet", "status", "contentDetails"})

    def recordings_of(self, broadcast_id: str, *, backup: bool = False) -> list[Path]:
        """The recordings of what arrived for this broadcast on its primary (or backup) ingest,
        oldest first; empty without a `recordings` feed. Also for a deleted broadcast. (Without a
        backup application the backup ingest is the primary's name on the primary's application:
        what arrives there is listed as primary.)"""
        story = self._stories.get(broadcast_id)
        if story is None or self.recordings is None:
            return []
        found = []
        for stream_id in dict.fromkeys(s for s, _since, _until in story.bindings):
            ingest = self._ingests[stream_id]
            if backup and ingest.backup == ingest.primary:
                continue
            app, name = ingest.backup if backup else ingest.primary
            for r in self.recordings.recordings(app=app, name=name):
                if self._owner(stream_id, r.started, r.ended) == broadcast_id:
                    found.append((r.started, r.path))
        return [path for _started, path in sorted(found)]

    def _owner(self, stream_id: str, start: float, end: float) -> str | None:
        """The broadcast a publish on the stream during [start, end] fed: the one bound to it and
        on air then (the first to go on air, if several); else the one next in line when the
        publish began (bound, not yet off air, bound first)."""
        bound = [(bid, st) for bid, st in self._stories.items() if st.bound_to(stream_id, start, end)]
        on_air = [(st.on_air, bid) for bid, st in bound if st.on_air_during(start, end)]
        if on_air:
            return min(on_air)[1]
        waiting = [
            (min(since for s, since, _ in st.bindings if s == stream_id), bid)
            for bid, st in bound
            if st.bound_to(stream_id, start, start) and (st.off_air is None or start < st.off_air)
        ]
        return min(waiting)[1] if waiting else None

    def _recording_name(self, app: str, name: str, start: float, end: float) -> str | None:
        """The file stem of a recording of one of our streams (the RTMP server asks)."""
        for stream_id, ingest in self._ingests.items():
            backup = (app, name) == ingest.backup and ingest.backup != ingest.primary
            if (app, name) == ingest.primary or backup:
                owner = self._owner(stream_id, start, end)
                stem = f"yt-{owner}" if owner is not None else f"yt-stream-{stream_id}"
                return stem + ("-backup" if backup else "")
        return None

    def _gone(self, broadcast_id: str) -> None:
        story = self._stories.get(broadcast_id)
        if story is not None:
            now = time.time()
            story.bind(None, now)
            if story.off_air is None:
                story.off_air = now

    def issued_secrets(self) -> list[str]:
        """Every secret this emulator knows or handed out: the OAuth client secret and refresh
        tokens, access tokens, every stream's stream name (its key). For tests looking for leaks."""
        names = [name for ingest in self._ingests.values() for _app, name in (ingest.primary, ingest.backup)]
        refresh = [self.config.refresh_token, *self.config.more_channels]
        return sorted({self.config.client_secret, *refresh, *self.tokens.issued, *names})

    @property
    def broadcast_ids(self) -> list[str]:
        return list(self._broadcasts)

    @property
    def stream_ids(self) -> list[str]:
        return list(self._streams)

    # -- the application ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = guarded_app(_render_error, "youtube")
        app.router.add_post("/token", self.tokens.handle)
        app.router.add_post("/_emulator/faults", self._control_fault)
        app.router.add_delete("/_emulator/broadcasts/{id}", self._control_delete)
        app.router.add_get("/_emulator/state", self._control_state)
        app.router.add_route("*", "/youtube/v3/{tail:.*}", self._api)
        return app

    async def _api(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except GoogleApiError as err:
            log.info("youtube_emulator_error", path=request.path, code=err.code, reason=err.reason)
            return web.json_response(err.body(), status=err.code, headers=err.headers)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lstrip("/")
        method = self.discovery.route(request.method, path)
        if method is None:
            raise GoogleApiError(404, "notFound", "Method not found.")
        params = self.discovery.validate_query(method, request.query.items())
        channel = self._authorize(request, params, method)
        self._inject_fault(method)
        self._charge(method)
        self.calls.append(method.name)
        body: Any = None
        if method.request_ref is not None:
            body = json_object(await request.read())
            self.discovery.validate_body(method, body)
        if "onBehalfOfContentOwner" in params:
            raise GoogleApiError(403, "forbidden", "The emulated channel is not managed by a content owner.")
        handler = self._handlers.get(method.name)
        if handler is None:
            raise GoogleApiError(501, "notImplemented", f"The emulator does not serve {method.id}.")
        result = await handler(params, body, channel)
        if result is None:
            return web.Response(status=204)
        result = apply_fields(result, params.get("fields"))
        indent = None if params.get("prettyPrint") == "false" else 2
        return web.Response(text=json.dumps(result, indent=indent), content_type="application/json")

    # -- auth, faults, quota ------------------------------------------------------------------

    def _authorize(self, request: web.Request, params: dict[str, Any], method: Method) -> str:
        """The channel the request acts for, or Google's 401/403."""
        header = request.headers.get("Authorization", "")
        token = (
            header[7:].strip()
            if header[:7].lower() == "bearer "
            else params.get("access_token") or params.get("oauth_token")
        )
        if not token:
            raise GoogleApiError(
                401,
                "required",
                _MISSING_CREDENTIALS,
                location="Authorization",
                location_type="header",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        channel = self.tokens.channel_for(token)
        if channel is None:
            raise GoogleApiError(
                401,
                "authError",
                _INVALID_CREDENTIALS,
                location="Authorization",
                location_type="header",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
            )
        if not set(self.config.scopes) & set(method.scopes):
            raise GoogleApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        return channel

    def _inject_fault(self, method: Method) -> None:
        fault = self.faults.take(method.name)
        if fault is None:
            return
        _reason, domain, _message = _FAULT_DEFAULTS.get(fault.status, ("", "global", ""))
        if fault.reason in ("quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded"):
            domain = "youtube.quota"
        elif fault.reason in ("liveStreamingNotEnabled", "invalidTransition", "errorStreamInactive"):
            domain = _BROADCAST_DOMAIN
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        log.info("youtube_emulator_fault_injected", method=method.name, status=fault.status, reason=fault.reason)
        raise GoogleApiError(fault.status, fault.reason, fault.message or fault.reason, domain=domain, headers=headers)

    def _roll_quota_day(self) -> None:
        day = quota_day(self.clock.now())
        if day != self._quota_day:
            self._quota_day, self._quota_used = day, 0

    def _charge(self, method: Method) -> None:
        self._roll_quota_day()
        units = cost(method.name)
        if self._quota_used + units > self.config.daily_quota:
            raise GoogleApiError(403, "quotaExceeded", _QUOTA_MESSAGE, domain="youtube.quota")
        self._quota_used += units

    # -- liveBroadcasts -----------------------------------------------------------------------

    def _require_live_enabled(self) -> None:
        if not self.config.live_streaming_enabled:
            raise GoogleApiError(
                403, "liveStreamingNotEnabled", "The user is not enabled for live streaming.", domain=_BROADCAST_DOMAIN
            )

    def _broadcast_or_404(self, broadcast_id: str, channel: str) -> _Broadcast:
        b = self._broadcasts.get(broadcast_id)
        if b is None or b.channel != channel:  # another channel's broadcast is not yours to see
            raise GoogleApiError(404, "liveBroadcastNotFound", "Broadcast not found", domain=_BROADCAST_DOMAIN)
        self._advance(b)
        return b

    def _advance(self, b: _Broadcast) -> None:
        """testStarting and liveStarting are brief: they become testing/live after the delay."""
        if b.phase not in ("testStarting", "liveStarting"):
            return
        if self.clock.now() - b.phase_since < timedelta(seconds=self.config.transition_delay_s):
            return
        b.phase_since = b.phase_since + timedelta(seconds=self.config.transition_delay_s)
        if b.phase == "testStarting":
            b.phase = "testing"
        else:
            b.phase = "live"
            b.snippet["actualStartTime"] = rfc3339(b.phase_since)
            b.status["recordingStatus"] = "recording"

    def _set_phase(self, b: _Broadcast, phase: str) -> None:
        b.phase, b.phase_since = phase, self.clock.now()
        story = self._stories.get(b.id)
        if story is not None:
            if phase in ("testStarting", "liveStarting") and story.on_air is None:
                story.on_air = time.time()
            elif phase == "complete" and story.off_air is None:
                story.off_air = time.time()

    def _broadcast_resource(self, b: _Broadcast, parts: set[str]) -> dict[str, Any]:
        full = {
            "snippet": dict(b.snippet),
            "status": {**b.status, "lifeCycleStatus": b.phase},
            "contentDetails": json.loads(json.dumps(b.content)),
            "statistics": {},
        }
        resource: dict[str, Any] = {"kind": "youtube#liveBroadcast", "etag": etag(full), "id": b.id}
        resource.update({k: v for k, v in full.items() if k in parts})
        return resource

    async def _broadcast_insert(self, params: dict[str, Any], body: dict[str, Any], channel: str) -> dict[str, Any]:
        self._require_live_enabled()
        parts = set(params["part"])
        snippet = dict(body.get("snippet") or {}) if "snippet" in parts else {}
        status = dict(body.get("status") or {}) if "status" in parts else {}
        content = dict(body.get("contentDetails") or {}) if "contentDetails" in parts else {}
        self._check_broadcast_snippet(snippet)
        if not status.get("privacyStatus"):
            raise GoogleApiError(
                400, "privacyStatusRequired", "The privacy status is required.", domain=_BROADCAST_DOMAIN
            )
        now = self.clock.now()
        monitor = {"enableMonitorStream": True, "broadcastStreamDelayMs": 0, **(content.get("monitorStream") or {})}
        b = _Broadcast(
            id=random_id(11),
            channel=channel,
            snippet={
                "publishedAt": rfc3339(now),
                "channelId": channel,
                "title": snippet["title"],
                "description": snippet.get("description", ""),
                "scheduledStartTime": snippet["scheduledStartTime"],
                **({"scheduledEndTime": snippet["scheduledEndTime"]} if snippet.get("scheduledEndTime") else {}),
                "isDefaultBroadcast": False,
                "liveChatId": random_id(40),
            },
            status={
                "privacyStatus": status["privacyStatus"],
                "recordingStatus": "notRecording",
                "madeForKids": False,
                "selfDeclaredMadeForKids": bool(status.get("selfDeclaredMadeForKids", False)),
            },
            content={
                "monitorStream": monitor,
                "enableEmbed": content.get("enableEmbed", True),
                "enableDvr": content.get("enableDvr", True),
                "recordFromStart": content.get("recordFromStart", True),
                "enableClosedCaptions": content.get("enableClosedCaptions", False),
                "closedCaptionsType": content.get("closedCaptionsType", "closedCaptionsDisabled"),
                "projection": content.get("projection", "rectangular"),
                "enableLowLatency": content.get("enableLowLatency", False),
                "latencyPreference": content.get("latencyPreference", "normal"),
                "enableAutoStart": content.get("enableAutoStart", False),
                "enableAutoStop": content.get("enableAutoStop", False),
            },
            phase_since=now,
        )
        self._broadcasts[b.id] = b
        self._stories[b.id] = _Story(created=time.time())
        log.info("youtube_emulator_broadcast_created", broadcast=b.id, title=b.snippet["title"])
        return self._broadcast_resource(b, parts)

    @staticmethod
    def _check_broadcast_snippet(snippet: dict[str, Any]) -> None:
        if not snippet.get("title"):
            raise GoogleApiError(400, "titleRequired", "The broadcast title is required.", domain=_BROADCAST_DOMAIN)
        if len(snippet["title"]) > 100:
            raise GoogleApiError(400, "invalidTitle", "The broadcast title is too long.", domain=_BROADCAST_DOMAIN)
        if len(snippet.get("description") or "") > 5000:
            raise GoogleApiError(400, "invalidDescription", "The description is too long.", domain=_BROADCAST_DOMAIN)
        if not snippet.get("scheduledStartTime"):
            raise GoogleApiError(
                400, "scheduledStartTimeRequired", "The scheduled start time is required.", domain=_BROADCAST_DOMAIN
            )
        start = parse_time(snippet["scheduledStartTime"])
        if start is None:
            raise GoogleApiError(
                400, "invalidScheduledStartTime", "The scheduled start time is invalid.", domain=_BROADCAST_DOMAIN
            )
        end_text = snippet.get("scheduledEndTime")
        if end_text:
            end = parse_time(end_text)
            if end is None or end <= start:
                raise GoogleApiError(
                    400,
                    "invalidScheduledEndTime",
                    "The scheduled end time must follow the start.",
                    domain=_BROADCAST_DOMAIN,
                )

    async def _broadcast_list(self, params: dict[str, Any], _body: Any, channel: str) -> dict[str, Any]:
        self._require_live_enabled()
        one_filter(params, ("id", "mine", "broadcastStatus"))
        items = [b for b in self._broadcasts.values() if b.channel == channel]
        for b in items:
            self._advance(b)
        if "id" in params:
            wanted = params["id"]
            items = [b for b in items if b.id in wanted]
        elif "broadcastStatus" in params:
            items = [b for b in items if status_matches(b.phase, params["broadcastStatus"])]
        if params.get("broadcastType", "event") == "persistent":
            items = []  # the emulated channel has no persistent (default) broadcast
        parts = set(params["part"])
        return page("youtube#liveBroadcastListResponse", [self._broadcast_resource(b, parts) for b in items], params)

    async def _broadcast_bind(self, params: dict[str, Any], _body: Any, channel: str) -> dict[str, Any]:
        b = self._broadcast_or_404(params["id"], channel)
        stream_id = params.get("streamId")
        if b.phase not in ("created", "ready"):
            raise GoogleApiError(
                403,
                "liveBroadcastBindingNotAllowed",
                "The current status of the live broadcast does not allow it to be bound to a stream.",
                domain=_BROADCAST_DOMAIN,
            )
        if stream_id:
            if stream_id not in self._streams or self._streams[stream_id].channel != channel:
                raise GoogleApiError(404, "liveStreamNotFound", "Stream not found", domain=_BROADCAST_DOMAIN)
            b.content["boundStreamId"] = stream_id
            b.content["boundStreamLastUpdateTimeMs"] = rfc3339(self.clock.now())
            self._set_phase(b, "ready")
            self._stories[b.id].bind(stream_id, time.time())
        else:
            b.content.pop("boundStreamId", None)
            b.content["boundStreamLastUpdateTimeMs"] = rfc3339(self.clock.now())
            self._set_phase(b, "created")
            self._stories[b.id].bind(None, time.time())
        return self._broadcast_resource(b, set(params["part"]))

    async def _broadcast_transition(self, params: dict[str, Any], _body: Any, channel: str) -> dict[str, Any]:
        b = self._broadcast_or_404(params["id"], channel)
        target = params["broadcastStatus"]
        phase = b.phase

        def refuse(reason: str, message: str) -> GoogleApiError:
            return GoogleApiError(403, reason, message, domain=_BROADCAST_DOMAIN)

        reached = {"testing": ("testStarting", "testing"), "live": ("liveStarting", "live"), "complete": ("complete",)}
        if target in reached and phase in reached[target]:
            raise refuse("redundantTransition", "Redundant transition")
        monitor = b.content["monitorStream"].get("enableMonitorStream", True)
        if target == "testing":
            if phase != "ready" or not monitor:
                raise refuse("invalidTransition", "Invalid transition")
            await self._require_active(b)
            self._set_phase(b, "testStarting")
        elif target == "live":
            if not (phase == "testing" or (phase == "ready" and not monitor)):
                raise refuse("invalidTransition", "Invalid transition")
            await self._require_active(b)
            self._set_phase(b, "liveStarting")
        elif target == "complete":
            if phase not in ("testing", "live"):
                raise refuse("invalidTransition", "Invalid transition")
            self._set_phase(b, "complete")
            b.snippet["actualEndTime"] = rfc3339(self.clock.now())
            b.status["recordingStatus"] = "recorded"
        else:
            raise refuse("invalidTransition", "Invalid transition")
        log.info("youtube_emulator_transition", broadcast=b.id, to=b.phase)
        return self._broadcast_resource(b, set(params["part"]))

    async def _require_active(self, b: _Broadcast) -> None:
        stream = self._streams.get(b.content.get("boundStreamId", ""))
        if stream is None or await self._arriving(stream) is None:
            raise GoogleApiError(403, "errorStreamInactive", "Stream is inactive", domain=_BROADCAST_DOMAIN)

    async def _broadcast_update(self, params: dict[str, Any], body: dict[str, Any], channel: str) -> dict[str, Any]:
        if not body.get("id"):
            raise GoogleApiError(400, "required", "Required parameter: id", location="id")
        b = self._broadcast_or_404(body["id"], channel)
        parts = set(params["part"])
        if "snippet" in parts:
            snippet = dict(body.get("snippet") or {})
            self._check_broadcast_snippet(snippet)
            for key in ("title", "description", "scheduledStartTime", "scheduledEndTime"):
                if key in snippet:
                    b.snippet[key] = snippet[key]
                elif key in ("description", "scheduledEndTime"):
                    b.snippet.pop(key, None)
        if "status" in parts:
            status = body.get("status") or {}
            b.status["privacyStatus"] = status.get("privacyStatus", "private")
        if "contentDetails" in parts:
            content = body.get("contentDetails") or {}
            for key, value in content.items():
                if key not in ("boundStreamId", "boundStreamLastUpdateTimeMs"):
                    b.content[key] = value
        return self._broadcast_resource(b, parts)

    async def _broadcast_delete(self, params: dict[str, Any], _body: Any, channel: str) -> None:
        b = self._broadcast_or_404(params["id"], channel)
        if b.phase in ("testStarting", "testing", "liveStarting", "live"):
            raise GoogleApiError(
                403,
                "invalidTransition",
                "A broadcast on air cannot be deleted; complete it first.",
                domain=_BROADCAST_DOMAIN,
            )
        del self._broadcasts[b.id]
        self._gone(b.id)
        return None

    # -- liveStreams --------------------------------------------------------------------------

    def _stream_or_404(self, stream_id: str, channel: str) -> _Stream:
        s = self._streams.get(stream_id)
        if s is None or s.channel != channel:
            raise GoogleApiError(404, "liveStreamNotFound", "Stream not found", domain=_STREAM_DOMAIN)
        return s

    async def _arriving(self, s: _Stream) -> PublishedStream | None:
        """The publisher feeding this stream, once media (not just a connection) arrives."""
        info = s.cdn["ingestionInfo"]
        for address in dict.fromkeys((info["ingestionAddress"], info["backupIngestionAddress"])):
            found = await self.monitor.stream(address, info["streamName"])
            if found is not None and found.has_media:
                s.ever_active = True
                return found
        return None

    async def _stream_resource(self, s: _Stream, parts: set[str]) -> dict[str, Any]:
        full: dict[str, Any] = {"snippet": dict(s.snippet), "cdn": json.loads(json.dumps(s.cdn))}
        full["contentDetails"] = dict(s.content)
        if "status" in parts:
            arriving = await self._arriving(s)
            if arriving is not None:
                issues = configuration_issues(arriving, s.cdn)
                severities = {i["severity"] for i in issues}
                health = "bad" if "error" in severities else "ok" if "warning" in severities else "good"
                status: dict[str, Any] = {
                    "streamStatus": "active",
                    "healthStatus": {"status": health, "configurationIssues": issues},
                }
            else:
                status = {
                    "streamStatus": "inactive" if s.ever_active else "ready",
                    "healthStatus": {"status": "noData", "configurationIssues": []},
                }
            status["healthStatus"]["lastUpdateTimeSeconds"] = str(int(self.clock.now().timestamp()))
            full["status"] = status
        resource: dict[str, Any] = {"kind": "youtube#liveStream", "etag": etag(full), "id": s.id}
        resource.update({k: v for k, v in full.items() if k in parts})
        return resource

    async def _stream_insert(self, params: dict[str, Any], body: dict[str, Any], channel: str) -> dict[str, Any]:
        self._require_live_enabled()
        parts = set(params["part"])
        snippet = dict(body.get("snippet") or {}) if "snippet" in parts else {}
        cdn = dict(body.get("cdn") or {}) if "cdn" in parts else {}
        content = dict(body.get("contentDetails") or {}) if "contentDetails" in parts else {}
        if not snippet.get("title"):
            raise GoogleApiError(400, "titleRequired", "The stream title is required.", domain=_STREAM_DOMAIN)
        for key, reason in (
            ("ingestionType", "ingestionTypeRequired"),
            ("resolution", "resolutionRequired"),
            ("frameRate", "frameRateRequired"),
        ):
            if not cdn.get(key):
                raise GoogleApiError(400, reason, f"cdn.{key} is required.", domain=_STREAM_DOMAIN)
        if cdn["ingestionType"] != "rtmp":
            raise GoogleApiError(501, "notImplemented", "The emulator serves rtmp ingestion only.")
        primary = self.config.rtmp_url
        backup = self.config.backup_rtmp_url or backup_application(primary)
        now = self.clock.now()
        s = _Stream(
            id=channel[2:] + random_id(16),
            channel=channel,
            snippet={
                "publishedAt": rfc3339(now),
                "channelId": channel,
                "title": snippet["title"],
                "description": snippet.get("description", ""),
                "isDefaultStream": False,
            },
            cdn={
                "ingestionType": "rtmp",
                "ingestionInfo": {
                    "streamName": stream_key(),
                    "ingestionAddress": primary,
                    "backupIngestionAddress": backup,
                    "rtmpsIngestionAddress": primary,
                    "rtmpsBackupIngestionAddress": backup,
                },
                "resolution": cdn["resolution"],
                "frameRate": cdn["frameRate"],
            },
            content={
                "closedCaptionsIngestionUrl": f"{self.config.rtmp_url}/closedcaption",
                "isReusable": bool(content.get("isReusable", True)),
            },
        )
        self._streams[s.id] = s
        name = s.cdn["ingestionInfo"]["streamName"]
        self._ingests[s.id] = _Ingest((app_of(primary), name), (app_of(backup), name))
        log.info("youtube_emulator_stream_created", stream=s.id)
        return await self._stream_resource(s, parts)

    async def _stream_list(self, params: dict[str, Any], _body: Any, channel: str) -> dict[str, Any]:
        self._require_live_enabled()
        one_filter(params, ("id", "mine"))
        items = [s for s in self._streams.values() if s.channel == channel]
        if "id" in params:
            items = [s for s in items if s.id in params["id"]]
        parts = set(params["part"])
        return page("youtube#liveStreamListResponse", [await self._stream_resource(s, parts) for s in items], params)

    async def _stream_update(self, params: dict[str, Any], body: dict[str, Any], channel: str) -> dict[str, Any]:
        if not body.get("id"):
            raise GoogleApiError(400, "required", "Required parameter: id", location="id")
        s = self._stream_or_404(body["id"], channel)
        parts = set(params["part"])
        if "snippet" in parts:
            snippet = body.get("snippet") or {}
            if not snippet.get("title"):
                raise GoogleApiError(400, "titleRequired", "The stream title is required.", domain=_STREAM_DOMAIN)
            s.snippet["title"] = snippet["title"]
            s.snippet["description"] = snippet.get("description", "")
        if "contentDetails" in parts and "isReusable" in (body.get("contentDetails") or {}):
            s.content["isReusable"] = bool(body["contentDetails"]["isReusable"])
        return await self._stream_resource(s, parts)

    async def _stream_delete(self, params: dict[str, Any], _body: Any, channel: str) -> None:
        s = self._stream_or_404(params["id"], channel)
        for b in self._broadcasts.values():
            self._advance(b)
            if b.content.get("boundStreamId") == s.id and b.phase in (
                "testStarting",
                "testing",
                "liveStarting",
                "live",
            ):
                raise GoogleApiError(
                    403, "liveStreamDeletionNotAllowed", "The stream feeds a broadcast on air.", domain=_STREAM_DOMAIN
                )
        del self._streams[s.id]
        return None

    # -- channels -----------------------------------------------------------------------------

    async def _channel_list(self, params: dict[str, Any], _body: Any, channel: str) -> dict[str, Any]:
        parts = set(params["part"])
        mine = params.get("mine") is True or channel in params.get("id", [])
        items = []
        if mine:
            full = {
                "snippet": {
                    "title": self.channels[channel],
                    "description": "",
                    "publishedAt": "2012-01-01T00:00:00Z",
                },
                "status": {"privacyStatus": "public", "isLinked": True, "longUploadsStatus": "allowed"},
            }
            item: dict[str, Any] = {"kind": "youtube#channel", "etag": etag(full), "id": channel}
            item.update({k: v for k, v in full.items() if k in parts})
            items.append(item)
        return page("youtube#channelListResponse", items, params)

    # -- HTTP controls ------------------------------------------------------------------------

    async def _control_fault(self, request: web.Request) -> web.Response:
        fault = FaultRequest.parse(await request.read())
        if fault.status is None:
            raise BadRequest("fault control: status: Field required", param="status")
        self.fail_next(
            fault.status,
            fault.reason,
            count=fault.count,
            method=fault.method,
            message=fault.message,
            retry_after=fault.retry_after,
        )
        return web.json_response({"pending": self.faults.pending})

    async def _control_delete(self, request: web.Request) -> web.Response:
        try:
            self.delete_broadcast(request.match_info["id"])
        except KeyError:
            return web.json_response({"error": "no such broadcast"}, status=404)
        return web.Response(status=204)

    async def _control_state(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "channels": self.channels,
                "quotaUsed": self.quota_used,
                "dailyQuota": self.config.daily_quota,
                "broadcasts": {bid: self.broadcast(bid)["status"]["lifeCycleStatus"] for bid in self._broadcasts},
                "streams": list(self._streams),
            }
        )


def _render_error(status: int, message: str, param: str | None) -> dict[str, Any]:
    """Google's error body for what the guard refuses (a body it cannot parse is a `parseError`)."""
    reason = {404: "notFound", 405: "methodNotAllowed", 413: "uploadTooLarge", 500: "backendError"}.get(
        status, "parseError" if message.startswith("Invalid JSON payload") else "badRequest"
    )
    return GoogleApiError(status, reason, message, location=param, location_type="parameter" if param else None).body()


# -- standalone -------------------------------------------------------------------------------


async def start_youtube_emulator(
    config: YouTubeEmulatorConfig,
    *,
    monitor: IngestMonitor,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    recordings: RecordingFeed | None = None,
) -> tuple[YouTubeEmulator, web.AppRunner, str]:
    """Serve an emulator on host:port; returns it, its runner (call `cleanup()`), and its base URL.
    With `recordings` (the RTMP server recording the ingest), `recordings_of()` reports them."""
    emulator = YouTubeEmulator(config, monitor=monitor, clock=clock, recordings=recordings)
    runner, base_url = await serve(emulator.app(), host, port)
    log.info("youtube_emulator_started", base_url=base_url, ingest=config.rtmp_url)
    return emulator, runner, base_url


async def run_youtube_emulator(
    port: int,
    rtmp_url: str | None,
    client_id: str,
    client_secret: str,
    refresh_token: str | Sequence[str],
    *,
    host: str = "127.0.0.1",
    rtmp_stat_url: str | None = None,
    backup_rtmp_url: str | None = None,
) -> None:
    """Run the emulator until cancelled, printing its base URL when ready (`summit emulate youtube`).

    `rtmp_url` is the RTMP application ingest URLs point at; media is seen arriving through nginx-rtmp
    statistics at `rtmp_stat_url` if given, else by probing streams with ffprobe; with
    `rtmp_url=None` the emulator starts its own nginx-rtmp server. Several refresh tokens make
    several channels of the same OAuth client (e.g. the Korean and the English channel).
    """
    tokens = [refresh_token] if isinstance(refresh_token, str) else list(refresh_token)
    if rtmp_url is not None and backup_rtmp_url is None:
        # YouTube hands out the primary's stream name for the backup too: on one application the
        # two publishes would collide, so the backup gets a second one (as YouTube's b. servers).
        backup_rtmp_url = backup_application(rtmp_url)
    ingest = await open_ingest(rtmp_url, rtmp_stat_url=rtmp_stat_url, backup_rtmp_url=backup_rtmp_url)
    config = YouTubeEmulatorConfig(
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=tokens[0],
        rtmp_url=ingest.url,
        backup_rtmp_url=ingest.backup_url,
        more_channels={t: f"Emulated channel {i}" for i, t in enumerate(tokens[1:], start=2)},
    )
    try:
        _emulator, runner, base_url = await start_youtube_emulator(config, monitor=ingest.monitor, host=host, port=port)
        try:

            def announce() -> None:
                print(base_url, flush=True)
                print(
                    f"  api {base_url}/youtube/v3/  token {base_url}/token  ingest {ingest.url}  backup {ingest.backup_url}",
                    flush=True,
                )

            await wait_for_stop_signal(announce)
        finally:
            await runner.cleanup()
    finally:
        await ingest.close()
