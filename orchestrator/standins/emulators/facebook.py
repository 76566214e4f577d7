"""A local emulator of the Facebook Live Video API (Graph API), on loopback.

Serves the real paths: `POST|GET /v{version}/{page-id}/live_videos`, `GET|POST|DELETE
/v{version}/{live-video-id}` (a trailing slash is accepted, as facebook-business sends it),
`GET /v{version}/{live-video-id}/errors` and `GET /v{version}/{page-id}`. The access token travels
in the query, the form body or an `Authorization: OAuth|Bearer` header; only the page tokens given
to the emulator are accepted, each for its own page. Errors are Graph errors
(`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`: code 190 for a bad token,
100/33 for an object that does not exist, 2500 for unknown paths, `(#100)` for bad parameters).

The rules are enforced with the injected clock: a scheduled start must be 10 minutes to 7 days
ahead, a stream URL that receives no media for 24 hours after creation expires, and a broadcast
stops after 8 hours live. Status follows what really arrives on the RTMP server: after `LIVE_NOW`
the video is `LIVE` once media arrives.

Local difference (by necessity): `secure_stream_url` hands out plain `rtmp://` on the local RTMP
server (no RTMPS here), e.g. `rtmp://127.0.0.1:PORT/live/FB-<id>-0-<key>?s_bl=1&...`; the real
one is `rtmps://live-api-s.facebook.com:443/rtmp/FB-...`. Clients must accept both (the key is
everything after the application, query string included).

What arrived for a live video (given a `recordings` feed, the RTMP server recording its ingest):
`recordings_of(live_video_id)` (and `backup=True` for the secondary ingest) lists the files
recorded of its stream key while the live video existed and had not ended, named after it
(`fb-<live video id>.flv`, `fb-<id>-backup.flv`), never after the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import string
import time
from collections.abc import AsyncIterator, Mapping
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
    digits,
    guarded_app,
    int_param,
    json_object,
    parse_json,
    random_id,
    serve,
    wait_for_stop_signal,
)
from orchestrator.standins.emulators.ingest import IngestMonitor, RecordingFeed, app_of, open_ingest
from orchestrator.standins.nginx import PublishedStream

log = structlog.get_logger(__name__)

MAX_LIVE = timedelta(hours=8)
UNUSED_URL_EXPIRY = timedelta(hours=24)
SCHEDULE_MIN_LEAD = timedelta(minutes=10)
SCHEDULE_MAX_LEAD = timedelta(days=7)
PROCESSING = timedelta(seconds=5)  # LIVE_STOPPED → VOD

CREATE_STATUSES = ("UNPUBLISHED", "LIVE_NOW", "SCHEDULED_UNPUBLISHED")
LIVE_STATUSES = (
    "UNPUBLISHED",
    "LIVE",
    "LIVE_STOPPED",
    "PROCESSING",
    "VOD",
    "SCHEDULED_UNPUBLISHED",
    "SCHEDULED_LIVE",
    "SCHEDULED_EXPIRED",
    "SCHEDULED_CANCELED",
)
MAX_LIST_LIMIT = 5000
LIVE_VIDEO_FIELDS = (
    "id",
    "title",
    "description",
    "status",
    "stream_url",
    "secure_stream_url",
    "stream_secondary_urls",
    "secure_stream_secondary_urls",
    "ingest_streams",
    "planned_start_time",
    "broadcast_start_time",
    "creation_time",
    "permalink_url",
    "embed_html",
    "is_reference_only",
    "live_views",
    "dash_ingest_url",
    "video",
)
_DEFAULT_FIELDS = ("id", "status", "stream_url", "secure_stream_url", "embed_html")
_ENDED = ("LIVE_STOPPED", "PROCESSING", "VOD", "SCHEDULED_EXPIRED", "SCHEDULED_CANCELED")


class GraphError(Exception):
    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        type: str = "OAuthException",
        subcode: int | None = None,
        user_title: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.type, self.subcode = message, code, status, type, subcode
        self.user_title = user_title

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title:
            error["error_user_title"] = self.user_title
        error["fbtrace_id"] = random_id(27)
        return {"error": error}


def _not_found(node: str, verb: str) -> GraphError:
    return GraphError(
        f"Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        code=100,
        subcode=33,
        type="GraphMethodException",
    )


def _param_error(message: str) -> GraphError:
    return GraphError(f"(#100) {message}", code=100)


def _graph_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    try:
        if re.fullmatch(r"\d{1,12}", value):  # a UNIX timestamp (12 digits reach the year 33658)
            return datetime.fromtimestamp(int(value), UTC)
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):  # out of range for a date, or not a time at all
        return None
    return t if t.tzinfo is not None else None


def _render_error(status: int, message: str, _param: str | None) -> dict[str, Any]:
    """Graph's error body for what the guard refuses: (#100) for a bad parameter, code 1 for ours."""
    if status >= 500:
        return GraphError("An unknown error has occurred.", code=1, status=status).body()
    return GraphError(message if message.startswith("(#") else f"(#100) {message}", code=100, status=status).body()


@dataclass
class FacebookEmulatorConfig:
    page_id: str
    page_token: str
    rtmp_url: str
    backup_rtmp_url: str | None = None
    page_name: str = "Emulated page"
    # More pages (page id → (page token, name)): one emulator serves every page of an event.
    more_pages: dict[str, tuple[str, str]] = field(default_factory=dict)
    watch_interval_s: float = 0.5  # how often arriving media is sampled (the 24-hour rule needs it)


@dataclass
class _Ingest:
    stream_id: str
    app_url: str
    key: str  # the name on the RTMP server
    query: str

    @property
    def url(self) -> str:
        return f"{self.app_url}/{self.key}?{self.query}"


@dataclass
class _LiveVideo:
    id: str
    page: str
    title: str
    description: str
    created: datetime
    requested: str  # the status asked for at creation
    planned_start: datetime | None
    ingests: list[_Ingest]
    live_requested: datetime | None = None
    broadcast_start: datetime | None = None
    ended: datetime | None = None
    end_reason: str = ""
    first_media: datetime | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    arriving: dict[str, PublishedStream | None] = field(default_factory=dict)  # by ingest stream_id


@dataclass
class _Lifetime:
    """When a live video's stream keys could feed it, in wall-clock seconds (recordings are
    stamped so); kept after the live video is deleted."""

    created: float
    ingests: dict[str, tuple[str, str]]  # ingest stream_id ("0" primary, "1" backup) → (application, key)
    gone: float | None = None  # ended, canceled or deleted


class FacebookEmulator:
    """The emulated Graph API's state and its aiohttp application (`app()`)."""

    def __init__(
        self,
        config: FacebookEmulatorConfig,
        *,
        monitor: IngestMonitor,
        clock: Clock | None = None,
        recordings: RecordingFeed | None = None,
    ) -> None:
        self.config = config
        self.monitor = monitor
        self.recordings = recordings
        self._pages = {config.page_id: config.page_name}  # page id → name
        self._token_pages = {config.page_token: config.page_id}  # page token → page id
        for page_id, (token, name) in config.more_pages.items():
            self._pages[page_id] = name
            self._token_pages[token] = page_id
        self.clock = clock or SystemClock()
        self.faults = FaultPlan()
        self.calls: list[str] = []
        self._videos: dict[str, _LiveVideo] = {}
        self._lifetimes: dict[str, _Lifetime] = {}  # live video id → lifetime, also of deleted ones
        if recordings is not None:
            recordings.name_recordings(self._recording_name)

    # -- controls for tests and drills --------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        code: int = 2,
        message: str = "An unexpected error has occurred. Please retry your request later.",
        *,
        count: int = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` calls (of `method`: "live_videos.create", "live_video.get",
        "live_video.update", ...) with a Graph error of this HTTP status and code."""
        self.faults.add(Fault(status, str(code), count, method, message))

    def delete_live_video(self, video_id: str) -> None:
        """What a page editor deleting the live video in Meta Business Suite does."""
        if self._videos.pop(video_id, None) is None:
            raise KeyError(video_id)
        self._gone(video_id)
        log.info("facebook_emulator_live_video_deleted_in_ui", live_video=video_id)

    def live_video(self, video_id: str) -> dict[str, Any]:
        v = self._videos[video_id]
        self._apply_rules(v)
        return self._fields(v, LIVE_VIDEO_FIELDS)

    def issued_secrets(self) -> list[str]:
        """Every secret this emulator knows or handed out: page tokens, every stream key (with and
        without its query string). For tests looking for leaks."""
        keys = [i.key for v in self._videos.values() for i in v.ingests]
        keys += [f"{i.key}?{i.query}" for v in self._videos.values() for i in v.ingests]
        keys += [key for life in self._lifetimes.values() for _app, key in life.ingests.values()]
        return sorted({*self._token_pages, *keys})

    @property
    def live_video_ids(self) -> list[str]:
        return list(self._videos)

    def recordings_of(self, video_id: str, *, backup: bool = False) -> list[Path]:
        """The recordings of what arrived on this live video's primary (or backup) stream key
        while it existed and had not ended, oldest first; empty without a `recordings` feed."""
        life = self._lifetimes.get(video_id)
        ingest = life.ingests.get("1" if backup else "0") if life is not None else None
        if life is None or ingest is None or self.recordings is None:
            return []
        app, key = ingest
        return [r.path for r in self.recordings.recordings(app=app, name=key) if self._fed(life, r.started)]

    @staticmethod
    def _fed(life: _Lifetime, started: float) -> bool:
        return life.created <= started and (life.gone is None or started < life.gone)

    def _recording_name(self, app: str, name: str, start: float, _end: float) -> str | None:
        """The file stem of a recording of one of our stream keys (the RTMP server asks)."""
        for video_id, life in self._lifetimes.items():
            for stream_id, ingest in life.ingests.items():
                if ingest == (app, name):
                    return f"fb-{video_id}" + ("" if stream_id == "0" else "-backup")
        return None

    def _gone(self, video_id: str) -> None:
        life = self._lifetimes.get(video_id)
        if life is not None and life.gone is None:
            life.gone = time.time()

    # -- the application ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = guarded_app(_render_error, "facebook")
        app.router.add_post("/_emulator/faults", self._control_fault)
        app.router.add_delete("/_emulator/live_videos/{id}", self._control_delete)
        app.router.add_route("*", "/{version:v[0-9]+\\.[0-9]+}/{node}", self._graph)
        app.router.add_route("*", "/{version:v[0-9]+\\.[0-9]+}/{node}/", self._graph)
        app.router.add_route("*", "/{version:v[0-9]+\\.[0-9]+}/{node}/{edge}", self._graph)
        app.router.add_route("*", "/{version:v[0-9]+\\.[0-9]+}/{node}/{edge}/", self._graph)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        app.cleanup_ctx.append(self._watcher)
        return app

    async def _watcher(self, _app: web.Application) -> AsyncIterator[None]:
        """Sample arriving media so 'used within 24 hours' and 'went live' follow reality."""

        async def watch() -> None:
            while True:
                for v in list(self._videos.values()):
                    if v.ended is None:
                        with contextlib.suppress(Exception):
                            await self._media(v)
                await asyncio.sleep(self.config.watch_interval_s)

        task = asyncio.create_task(watch())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _unknown_path(self, request: web.Request) -> web.Response:
        err = GraphError(f"Unknown path components: {request.path}", code=2500)
        return web.json_response(err.body(), status=err.status)

    async def _graph(self, request: web.Request) -> web.Response:
        try:
            params = await self._params(request)
            page = self._authorize(request, params)
            result = await self._dispatch(request, params, page)
        except GraphError as err:
            log.info("facebook_emulator_error", path=request.path, code=err.code, message=err.message)
            return web.json_response(err.body(), status=err.status)
        return web.json_response(result)

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = {k: v for k, v in request.query.items()}
        if request.method in ("POST", "DELETE") and request.can_read_body:
            if request.content_type == "application/json":
                data = json_object(await request.read())
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
            else:
                try:
                    form = await request.post()
                except (UnicodeDecodeError, ValueError):
                    raise _param_error("The request body is not a valid form (UTF-8, URL-encoded)") from None
                params.update({k: str(v) for k, v in form.items()})
        return params

    def _authorize(self, request: web.Request, params: Mapping[str, str]) -> str:
        """The page whose token this is, or Graph's token errors."""
        token = params.get("access_token")
        header = request.headers.get("Authorization", "")
        if not token and header.split(" ", 1)[0].lower() in ("oauth", "bearer"):
            token = header.split(" ", 1)[1].strip()
        if not token:
            raise GraphError("An access token is required to request this resource.", code=104)
        page = self._token_pages.get(token)
        if page is None:
            raise GraphError("Invalid OAuth access token - Cannot parse access token", code=190)
        return page

    async def _dispatch(self, request: web.Request, params: dict[str, str], page: str) -> Any:
        node, edge, verb = request.match_info["node"], request.match_info.get("edge"), request.method
        if node == "me":
            node = page
        if node in self._pages and node != page:
            # Another page's token: Graph answers with a permissions error.
            raise GraphError("(#200) The page access token is not for this page", code=200, status=403)
        if node == page:
            if edge is None and verb == "GET":
                return self._call("page.get", self._page(page, params))
            if edge == "live_videos" and verb == "POST":
                self._call("live_videos.create")
                return await self._create(page, params)
            if edge == "live_videos" and verb == "GET":
                self._call("live_videos.list")
                return await self._list(page, params)
            if edge is not None and edge != "live_videos":
                raise GraphError(f"Unknown path components: /{edge}", code=2500)
            raise _not_found(node, verb.lower())
        video = self._videos.get(node)
        if video is None or video.page != page:
            raise _not_found(node, verb.lower())
        if edge == "errors" and verb == "GET":
            self._call("live_video.errors")
            return {"data": list(reversed(video.errors))}
        if edge is not None:
            raise GraphError(f"Unknown path components: /{edge}", code=2500)
        if verb == "GET":
            self._call("live_video.get")
            await self._media(video)
            return self._fields(video, self._wanted_fields(params))
        if verb == "POST":
            self._call("live_video.update")
            return await self._update(video, params)
        if verb == "DELETE":
            self._call("live_video.delete")
            del self._videos[video.id]
            self._gone(video.id)
            return {"success": True}
        raise _not_found(node, verb.lower())

    def _call(self, method: str, result: Any = None) -> Any:
        fault = self.faults.take(method)
        if fault is not None:
            log.info("facebook_emulator_fault_injected", method=method, status=fault.status, code=fault.reason)
            raise GraphError(fault.message or "Error", code=int(fault.reason), status=fault.status)
        self.calls.append(method)
        return result

    # -- nodes --------------------------------------------------------------------------------

    def _page(self, page_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        page = {"id": page_id, "name": self._pages[page_id], "category": "Government Organization"}
        wanted = [f.strip() for f in params.get("fields", "id,name").split(",") if f.strip()]
        for f in wanted:
            if f not in page:
                raise _param_error(f"Tried accessing nonexisting field ({f}) on node type (Page)")
        return {f: page[f] for f in wanted}

    async def _create(self, page: str, params: Mapping[str, str]) -> dict[str, Any]:
        status = params.get("status", "UNPUBLISHED")
        if status not in CREATE_STATUSES:
            raise _param_error(f"Param status must be one of {{{', '.join(CREATE_STATUSES)}}}")
        title = params.get("title", "")
        if len(title) > 255:
            raise _param_error("Param title must be at most 255 characters long")
        now = self.clock.now()
        planned: datetime | None = None
        if status == "SCHEDULED_UNPUBLISHED" or "planned_start_time" in params:
            if "planned_start_time" not in params:
                raise _param_error("planned_start_time is required for a scheduled live video")
            planned = _parse_time(params["planned_start_time"])
            if planned is None:
                raise _param_error("Param planned_start_time must be a UNIX timestamp or an ISO 8601 time")
            if not (now + SCHEDULE_MIN_LEAD <= planned <= now + SCHEDULE_MAX_LEAD):
                raise _param_error(
                    "The planned start time must be at least 10 minutes and no more than 7 days in the future"
                )
        backup = _flag(params.get("enable_backup_ingest", "false"))
        video_id = digits(16)
        ingests = [self._ingest(video_id, "0", self.config.rtmp_url)]
        if backup:
            ingests.append(self._ingest(video_id, "1", self.config.backup_rtmp_url or self.config.rtmp_url))
        v = _LiveVideo(
            id=video_id,
            page=page,
            title=title,
            description=params.get("description", ""),
            created=now,
            requested=status,
            planned_start=planned,
            ingests=ingests,
            live_requested=now if status == "LIVE_NOW" else None,
        )
        self._videos[v.id] = v
        self._lifetimes[v.id] = _Lifetime(time.time(), {i.stream_id: (app_of(i.app_url), i.key) for i in ingests})
        log.info("facebook_emulator_live_video_created", live_video=v.id, status=status)
        return self._fields(
            v, ("id", "stream_url", "secure_stream_url", "stream_secondary_urls", "secure_stream_secondary_urls")
        )

    @staticmethod
    def _ingest(video_id: str, stream_id: str, app_url: str) -> _Ingest:
        key = f"FB-{video_id}-{stream_id}-{random_id(24, string.ascii_letters + string.digits)}"
        query = f"s_bl=1&s_psm=1&s_sc={digits(16)}&s_sw=0&s_vt=api-s&a={random_id(14)}"
        return _Ingest(stream_id, app_url.rstrip("/"), key, query)

    async def _list(self, page: str, params: Mapping[str, str]) -> dict[str, Any]:
        wanted_status = _broadcast_status(params["broadcast_status"]) if "broadcast_status" in params else None
        limit = int_param("limit", params.get("limit") or "25", low=0, high=MAX_LIST_LIMIT)
        fields = self._wanted_fields(params)
        items = []
        for v in sorted(self._videos.values(), key=lambda v: v.created, reverse=True):
            if v.page != page:
                continue
            self._apply_rules(v)
            if wanted_status is None or self._status(v) in wanted_status:
                items.append(self._fields(v, fields))
        return {"data": items[:limit]}

    async def _update(self, v: _LiveVideo, params: Mapping[str, str]) -> dict[str, Any]:
        await self._media(v)
        status = self._status(v)
        if "title" in params:
            v.title = params["title"]
        if "description" in params:
            v.description = params["description"]
        if _flag(params.get("end_live_video", "false")):
            if status not in _ENDED:
                self._end(v, "ended by the API")
                log.info("facebook_emulator_live_video_ended", live_video=v.id)
            return {"id": v.id}
        if "status" in params:
            wanted = params["status"]
            if wanted not in (
                "LIVE_NOW",
                "SCHEDULED_UNPUBLISHED",
                "SCHEDULED_LIVE",
                "SCHEDULED_CANCELED",
                "UNPUBLISHED",
            ):
                raise _param_error(
                    "Param status must be one of {LIVE_NOW, SCHEDULED_CANCELED, SCHEDULED_LIVE, "
                    "SCHEDULED_UNPUBLISHED, UNPUBLISHED}"
                )
            if status in _ENDED:
                raise _param_error(f"This live video has ended ({status}); its status cannot change")
            if wanted == "LIVE_NOW":
                if self._expired(v):
                    raise _param_error(
                        "The stream URL of this live video expired: it was not used within 24 hours of "
                        "creation. Create a new live video."
                    )
                if v.live_requested is None:
                    v.live_requested = self.clock.now()
                await self._media(v)
            elif wanted == "SCHEDULED_CANCELED":
                self._end(v, "canceled")
        return {"id": v.id}

    # -- rules and state ----------------------------------------------------------------------

    async def _media(self, v: _LiveVideo) -> PublishedStream | None:
        """What arrives now on the video's ingests (primary first); updates first media and live."""
        if v.ended is not None:
            v.arriving.clear()
            return None
        for ingest in v.ingests:
            found = await self.monitor.stream(ingest.app_url, ingest.key)
            v.arriving[ingest.stream_id] = found if found is not None and found.has_media else None
        found = next((s for s in v.arriving.values() if s is not None), None)
        now = self.clock.now()
        if found is not None and not self._expired(v):
            if v.first_media is None:
                v.first_media = now
            if v.live_requested is not None and v.broadcast_start is None:
                v.broadcast_start = now
                log.info("facebook_emulator_live_video_live", live_video=v.id)
        self._apply_rules(v)
        return found

    def _expired(self, v: _LiveVideo) -> bool:
        return v.first_media is None and self.clock.now() - v.created >= UNUSED_URL_EXPIRY

    def _apply_rules(self, v: _LiveVideo) -> None:
        if v.ended is None and v.broadcast_start is not None and self.clock.now() - v.broadcast_start >= MAX_LIVE:
            self._end(v, "8-hour limit", at=v.broadcast_start + MAX_LIVE)
            v.errors.append(
                {
                    "creation_time": _graph_time(v.broadcast_start + MAX_LIVE),
                    "error_code": 1363023,
                    "error_type": "LIMIT_EXCEEDED",
                    "error_message": "Live videos can last at most 8 hours; this one was ended.",
                }
            )
        if v.ended is None and self._expired(v) and not any(e["error_code"] == 1363024 for e in v.errors):
            v.errors.append(
                {
                    "creation_time": _graph_time(v.created + UNUSED_URL_EXPIRY),
                    "error_code": 1363024,
                    "error_type": "STREAM_URL_EXPIRED",
                    "error_message": "The stream URL was not used within 24 hours and expired.",
                }
            )

    def _end(self, v: _LiveVideo, reason: str, at: datetime | None = None) -> None:
        v.ended, v.end_reason = at or self.clock.now(), reason
        self._gone(v.id)

    def _status(self, v: _LiveVideo) -> str:
        now = self.clock.now()
        if v.ended is not None:
            if v.end_reason == "canceled":
                return "SCHEDULED_CANCELED"
            if v.broadcast_start is None:
                return "LIVE_STOPPED"
            return "VOD" if now - v.ended >= PROCESSING else "LIVE_STOPPED"
        if v.broadcast_start is not None:
            return "LIVE"
        if v.planned_start is not None:
            return "SCHEDULED_EXPIRED" if self._expired(v) else "SCHEDULED_UNPUBLISHED"
        return "UNPUBLISHED"

    def _wanted_fields(self, params: Mapping[str, str]) -> tuple[str, ...]:
        if "fields" not in params:
            return _DEFAULT_FIELDS
        wanted = tuple(f.strip() for f in params["fields"].split(",") if f.strip())
        for f in wanted:
            if f not in LIVE_VIDEO_FIELDS:
                raise _param_error(f"Tried accessing nonexisting field ({f}) on node type (LiveVideo)")
        return wanted

    def _fields(self, v: _LiveVideo, wanted: tuple[str, ...]) -> dict[str, Any]:
        self._apply_rules(v)
        primary, secondary = v.ingests[0], v.ingests[1:]
        values: dict[str, Any] = {
            "id": v.id,
            "title": v.title,
            "description": v.description,
            "status": self._status(v),
            "stream_url": primary.url,
            "secure_stream_url": primary.url,
            "stream_secondary_urls": [i.url for i in secondary],
            "secure_stream_secondary_urls": [i.url for i in secondary],
            "ingest_streams": [self._ingest_stream(v, i) for i in v.ingests],
            "creation_time": _graph_time(v.created),
            "permalink_url": f"/{v.page}/videos/{v.id}/",
            "embed_html": (
                f'<iframe src="https://www.facebook.com/plugins/video.php?href=%2F{v.page}%2Fvideos'
                f'%2F{v.id}%2F" width="1280" height="720" frameborder="0" allowfullscreen="true"></iframe>'
            ),
            "is_reference_only": False,
            "live_views": 0,
            "dash_ingest_url": "",
            "video": {"id": v.id},
        }
        if v.planned_start is not None:
            values["planned_start_time"] = _graph_time(v.planned_start)
        if v.broadcast_start is not None:
            values["broadcast_start_time"] = _graph_time(v.broadcast_start)
        return {f: values[f] for f in ("id", *wanted) if f in values}

    def _ingest_stream(self, v: _LiveVideo, ingest: _Ingest) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "stream_id": ingest.stream_id,
            "stream_url": ingest.url,
            "secure_stream_url": ingest.url,
            "is_master": ingest.stream_id == "0",
        }
        arriving = v.arriving.get(ingest.stream_id)
        if arriving is not None:
            entry["stream_health"] = {
                "video_bitrate": arriving.video_bitrate or 0,
                "video_framerate": arriving.frame_rate or 0,
                "video_width": arriving.width or 0,
                "video_height": arriving.height or 0,
                "video_codec": arriving.video_codec or "",
                "audio_bitrate": arriving.audio_bitrate or 0,
                "audio_codec": arriving.audio_codec or "",
            }
        return entry

    # -- HTTP controls ------------------------------------------------------------------------

    async def _control_fault(self, request: web.Request) -> web.Response:
        fault = FaultRequest.parse(await request.read())
        self.fail_next(
            fault.status or 500,
            2 if fault.code is None else fault.code,
            fault.message or "An unexpected error has occurred. Please retry your request later.",
            count=fault.count,
            method=fault.method,
        )
        return web.json_response({"pending": self.faults.pending})

    async def _control_delete(self, request: web.Request) -> web.Response:
        try:
            self.delete_live_video(request.match_info["id"])
        except KeyError:
            return web.json_response({"error": "no such live video"}, status=404)
        return web.Response(status=204)


def _broadcast_status(value: str) -> list[str]:
    """`broadcast_status`: a JSON array of live-video statuses, or them comma-separated."""
    text = value.strip()
    try:
        wanted: Any = parse_json(text) if text.startswith("[") else [s.strip() for s in text.split(",")]
    except BadRequest:
        wanted = None
    if not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted):
        raise _param_error("Param broadcast_status must be an array of live video statuses")
    for i, s in enumerate(wanted):
        if s not in LIVE_STATUSES:
            raise _param_error(f"Param broadcast_status[{i}] must be one of {{{', '.join(LIVE_STATUSES)}}}")
    return wanted


def _flag(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


# -- standalone -------------------------------------------------------------------------------


async def start_facebook_emulator(
    config: FacebookEmulatorConfig,
    *,
    monitor: IngestMonitor,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    recordings: RecordingFeed | None = None,
) -> tuple[FacebookEmulator, web.AppRunner, str]:
    """Serve an emulator on host:port; returns it, its runner (call `cleanup()`), and its base URL.
    With `recordings` (the RTMP server recording the ingest), `recordings_of()` reports them."""
    emulator = FacebookEmulator(config, monitor=monitor, clock=clock, recordings=recordings)
    runner, base_url = await serve(emulator.app(), host, port)
    log.info("facebook_emulator_started", base_url=base_url, ingest=config.rtmp_url)
    return emulator, runner, base_url


async def run_facebook_emulator(
    port: int,
    rtmp_url: str | None,
    page_id: str,
    page_token: str,
    *,
    host: str = "127.0.0.1",
    rtmp_stat_url: str | None = None,
    backup_rtmp_url: str | None = None,
) -> None:
    """Run the emulator until cancelled, printing its base URL when ready (`summit emulate facebook`).

    See `run_youtube_emulator` for how `rtmp_url`, `rtmp_stat_url` and `rtmp_url=None` work.
    """
    ingest = await open_ingest(rtmp_url, rtmp_stat_url=rtmp_stat_url, backup_rtmp_url=backup_rtmp_url)
    config = FacebookEmulatorConfig(
        page_id=page_id, page_token=page_token, rtmp_url=ingest.url, backup_rtmp_url=ingest.backup_url
    )
    try:
        _emulator, runner, base_url = await start_facebook_emulator(
            config, monitor=ingest.monitor, host=host, port=port
        )
        try:

            def announce() -> None:
                print(base_url, flush=True)
                print(
                    f"  graph {base_url}/v26.0/{page_id}/live_videos  ingest {ingest.url}  backup {ingest.backup_url or ingest.url}",
                    flush=True,
                )

            await wait_for_stop_signal(announce)
        finally:
            await runner.cleanup()
    finally:
        await ingest.close()
