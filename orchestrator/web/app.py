"""The dashboard over HTTP: the page, the snapshot as JSON, and a WebSocket pushing snapshots.

    GET /            the dashboard page (static/index.html; plain JS, no build step, no CDN)
    GET /static/…    its script and style
    GET /api/state   the current snapshot
    GET /ws          snapshots pushed on every change (≤ 4/s) and every second; accepts commands
                     (see orchestrator.web.commands)

Who may see what: `orchestrator.web.auth` (every route declares a role; sign-in at /login; with no
users file, the local machine only).

A socket's caller is checked again before every command, before every push and once a second: a
page left open after its user signed out (on a shared control-room PC), was removed or lost their
token stops hearing the event. Signing out closes that session's sockets at once; a removed user
or a revoked token (the users file re-read) within the second. The close code is `CLOSE_SIGNED_OUT`
(4401, "unauthorized" in the application range) with the reason as its message, so the page asks
who it is and shows the sign-in link instead of reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from orchestrator.web.auth import ACCESS, Access, Role, User, declare, requires
from orchestrator.web.commands import calling_as
from orchestrator.web.hub import DashboardHub

log = structlog.get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

HUB = web.AppKey("dashboard_hub", DashboardHub)
SOCKETS = web.AppKey("dashboard_sockets", weakref.WeakSet[web.WebSocketResponse])

CLOSE_SIGNED_OUT = 4401  # the caller's credentials no longer count: the page shows the sign-in link
RECHECK_S = 1.0  # how often every open socket's caller is checked again, pushes or not


class Viewer:
    """One dashboard socket as the broadcaster sees it: before each push its caller is checked
    again, and one who no longer counts gets the close instead of the frame."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.sid = request.app[ACCESS].session_id(request)  # to find it when that session signs out
        self.ended = False
        self.closing: asyncio.Task[Any] | None = None  # the close under way, once ended

    @property
    def closed(self) -> bool:
        return self.ended or self.ws.closed

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if self.caller() is not None:
            await self.ws.send_str(data, compress)

    def caller(self) -> User | None:
        """Who the socket's credentials name now; None (and the socket closing) when nobody."""
        if self.closed:
            return None
        found = self.request.app[ACCESS].reidentify(self.request)
        if isinstance(found, User):
            return found
        self.end(found)
        return None

    def end(self, reason: str) -> None:
        """Stop at once (no frame goes out after this) and close with the reason, in the background:
        a page that does not answer the close must not hold up the push or the sign-out."""
        if self.closed:
            return
        self.ended = True
        log.info("dashboard_client_closed", reason=reason.replace(" ", "_"), peer=self.request.remote)
        self.closing = task = asyncio.get_running_loop().create_task(
            self.ws.close(code=CLOSE_SIGNED_OUT, message=reason.encode()), name="dashboard-socket-close"
        )
        _closing.add(task)
        task.add_done_callback(_closing.discard)


VIEWERS = web.AppKey("dashboard_viewers", weakref.WeakSet[Viewer])
_closing: set[asyncio.Task[Any]] = set()  # close tasks in flight (the loop keeps only weak references)

# Strict JSON: NaN/Infinity would make the page's JSON.parse drop the whole message (scrub maps them to null).
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

_SECURITY_HEADERS = {
    # Everything the page needs comes from here; nothing is inlined or fetched elsewhere.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# Another part adds its routes to the same server (the participants' join pages and WHIP) through
# one of these, called with the application before it starts.
AppExtension = Callable[[web.Application], None]


def make_dashboard_app(
    hub: DashboardHub, extensions: Sequence[AppExtension] = (), access: Access | None = None
) -> web.Application:
    app = web.Application()
    (access or Access()).install(app)  # no Access given: no users, the local machine only
    app[HUB] = hub
    sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
    app[SOCKETS] = sockets
    viewers: weakref.WeakSet[Viewer] = weakref.WeakSet()
    app[VIEWERS] = viewers
    app.router.add_get("/", _index)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/ws", _websocket)
    declare(app.router.add_static("/static/", STATIC), Role.VIEWER)
    app.cleanup_ctx.append(_broadcasting)
    app.cleanup_ctx.append(_watching_callers)
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(_security_headers)
    for extend in extensions:
        extend(app)
    return app


async def serve_dashboard(
    hub: DashboardHub,
    host: str = "127.0.0.1",
    port: int = 0,
    extensions: Sequence[AppExtension] = (),
    access: Access | None = None,
) -> tuple[web.AppRunner, str]:
    """Start the dashboard; returns its runner (`await runner.cleanup()` to stop) and base URL.
    Port 0 picks a free one. Raises `AccessError` for a non-loopback host with no users file."""
    access = access or Access()
    access.bind(host)
    runner = web.AppRunner(make_dashboard_app(hub, extensions, access), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    url = f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
    log.info("dashboard_started", url=url, event_id=hub.schedule.event.id, auth_required=access.auth_required)
    return runner, url


# ---------------------------------------------------------------------- handlers


@requires(Role.VIEWER)
async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={hdrs.CACHE_CONTROL: "no-cache"})


@requires(Role.VIEWER)
async def _state(request: web.Request) -> web.Response:
    snapshot = request.app[HUB].snapshot()
    return web.json_response(snapshot, dumps=_dumps, headers={hdrs.CACHE_CONTROL: "no-store"})


@requires(Role.VIEWER)
async def _websocket(request: web.Request) -> web.WebSocketResponse:
    if not _same_origin(request):
        # A page on another site must not read the event (nor, later, send overrides) through
        # the operator's browser.
        raise web.HTTPForbidden(text="the dashboard WebSocket only accepts its own page")
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    viewer = Viewer(ws, request)
    request.app[SOCKETS].add(ws)
    request.app[VIEWERS].add(viewer)
    hub.broadcaster.add(viewer)
    log.info("dashboard_client_connected", peer=request.remote, clients=len(hub.broadcaster.clients))
    try:
        await viewer.send_str(_dumps({"type": "snapshot", "data": hub.snapshot()}))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                # Who sends this command *now*: since the socket opened they may have signed out,
                # been removed, had their token revoked or their role lowered.
                caller = viewer.caller()
                if caller is None:
                    if viewer.closing is not None:  # with the reason, before the handler's own close
                        await viewer.closing
                    break
                with calling_as(caller):  # commands check the caller's role
                    reply = await hub.commands.handle_text(msg.data)
                await viewer.send_str(_dumps(hub.scrub(reply.to_json())))
    except ConnectionError:
        pass  # the page went away mid-send; the finally below forgets it
    finally:
        hub.broadcaster.discard(viewer)
        log.info("dashboard_client_disconnected", peer=request.remote, clients=len(hub.broadcaster.clients))
    return ws


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True  # not a browser (a script, a test client): no cross-site risk
    return request.app[ACCESS].origin_allowed(request, origin)  # knows trusted proxies and public URLs


# ---------------------------------------------------------------------- lifecycle


async def _broadcasting(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[HUB].broadcaster.run(), name="dashboard-broadcast")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _watching_callers(app: web.Application) -> AsyncIterator[None]:
    """Signing out closes the session's sockets at once; every second, every socket's caller is
    checked again (a user removed or a token revoked: the users file is re-read when it changed)."""
    viewers = app[VIEWERS]

    def signed_out(sid: str) -> None:
        for viewer in list(viewers):
            if viewer.sid == sid:
                viewer.end("signed out")

    async def watch() -> None:
        while True:
            await asyncio.sleep(RECHECK_S)
            for viewer in list(viewers):
                viewer.caller()

    unsubscribe = app[ACCESS].on_signout(signed_out)
    task = asyncio.create_task(watch(), name="dashboard-callers")
    yield
    unsubscribe()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"dashboard stopping")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)
