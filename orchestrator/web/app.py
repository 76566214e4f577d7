"""The dashboard over HTTP: the page, the snapshot as JSON, and a WebSocket pushing snapshots.

    GET /            the dashboard page (static/index.html; plain JS, no build step, no CDN)
    GET /static/…    its script and style
    GET /api/state   the current snapshot
    GET /ws          snapshots pushed on every change (≤ 4/s) and every second; accepts commands
                     (see orchestrator.web.commands)

Who may see what: `orchestrator.web.auth` (every route declares a role; sign-in at /login; with no
users file, the local machine only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path

import structlog
from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from orchestrator.web.auth import ACCESS, Access, Role, declare, recheck, requires
from orchestrator.web.commands import calling_as
from orchestrator.web.hub import DashboardHub

log = structlog.get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

HUB = web.AppKey("dashboard_hub", DashboardHub)
SOCKETS = web.AppKey("dashboard_sockets", weakref.WeakSet[web.WebSocketResponse])

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
    app.router.add_get("/", _index)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/ws", _websocket)
    declare(app.router.add_static("/static/", STATIC), Role.VIEWER)
    app.cleanup_ctx.append(_broadcasting)
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
    request.app[SOCKETS].add(ws)
    hub.broadcaster.add(ws)
    log.info("dashboard_client_connected", peer=request.remote, clients=len(hub.broadcaster.clients))
    try:
        await ws.send_str(_dumps({"type": "snapshot", "data": hub.snapshot()}))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                # Who sends this command *now*: since the socket opened they may have signed out,
                # been removed, had their token revoked or their role lowered.
                caller = recheck(request)
                if caller is None:
                    log.info("dashboard_client_refused", reason="credentials_gone", peer=request.remote)
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"signed out")
                    break
                with calling_as(caller):  # commands check the caller's role
                    reply = await hub.commands.handle_text(msg.data)
                await ws.send_str(_dumps(hub.scrub(reply.to_json())))
    except ConnectionError:
        pass  # the page went away mid-send; the finally below forgets it
    finally:
        hub.broadcaster.discard(ws)
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


async def _close_sockets(app: web.Application) -> None:
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"dashboard stopping")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)
