"""The participants' routes on the dashboard's web server (added through its extension seam).

    GET     /join/{token}           the join page (speakers and interpreters), or a clear page saying
                                    why the link does not work (4xx, Korean and English)
    GET     /join/static/{name}     its script and style
    GET     /join/{token}/info      who the link is for, their session, the ICE servers (JSON)
    POST    /join/{token}/offer     {"sdp", "purpose": "check"|"live", "device"} → {"sdp", "peer"}
    POST    /join/{token}/leave     {"peer"}: goodbye
    GET     /join/{token}/events    WebSocket: status (tally, countdown, booth), text channel, figures
    POST    /join/{token}, /whip    WHIP (RFC 9725): application/sdp + `Authorization: Bearer <token>`
                                    → 201, Location, the answer
    DELETE  /whip/session/{id}      ends a WHIP session; PATCH → 405 (no trickle, no ICE restart)
    OPTIONS on each WHIP URL        CORS preflight

Every handler checks the link itself and is declared public to the access middleware (the
attribute `orchestrator.web.auth.public` sets; this adapter does not import the web adapter)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSMsgType, hdrs, web

from orchestrator.links import LinkClaims, LinkError
from orchestrator.participants.service import JoinError, Participants

log = structlog.get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
_ASSETS = {"join.js": "text/javascript", "join.css": "text/css"}
_MAX_SDP = 64 * 1024
_ACCESS_ATTR = "__summit_access__"  # orchestrator.web.auth.ACCESS_ATTR
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# status and the two languages' words for each reason a link fails
_FAILURES: dict[str, tuple[int, str, str]] = {
    "malformed": (404, "This is not a join link.", "올바른 참가 링크가 아닙니다."),
    "bad_signature": (403, "This join link is not valid.", "유효하지 않은 참가 링크입니다."),
    "wrong_event": (403, "This join link belongs to another event.", "다른 행사의 참가 링크입니다."),
    "expired": (410, "This join link has expired.", "참가 링크의 유효 기간이 끝났습니다."),
    "revoked": (
        410,
        "This join link has been withdrawn. Please ask the organisers for a new one.",
        "이 참가 링크는 취소되었습니다. 주최 측에 새 링크를 요청해 주세요.",
    ),
}


def public(handler: Handler) -> Handler:
    setattr(handler, _ACCESS_ATTR, "public")  # what orchestrator.web.auth.public does
    return handler


def link_failure_page(reason: str) -> web.Response:
    status, en, ko = _FAILURES.get(reason, _FAILURES["malformed"])
    body = f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>참가 링크 · Join link</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/join/static/join.css"></head>
<body class="failure"><main>
<h1 lang="ko">{escape(ko)}</h1>
<h1 lang="en">{escape(en)}</h1>
<p lang="ko">문의: 행사 운영팀</p><p lang="en">Questions: the event's production team.</p>
</main></body></html>"""
    return web.Response(status=status, text=body, content_type="text/html", headers={hdrs.CACHE_CONTROL: "no-store"})


def participant_routes(participants: Participants) -> Callable[[web.Application], None]:
    """The extension that adds every participants route to a web application."""

    def claims_of(request: web.Request, token: str | None = None) -> LinkClaims:
        return participants.verify(token if token is not None else request.match_info["token"])

    @public
    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound(text="no such file")
        return web.FileResponse(
            STATIC / name, headers={hdrs.CONTENT_TYPE: _ASSETS[name], hdrs.CACHE_CONTROL: "no-cache"}
        )

    @public
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            claims_of(request)
        except LinkError as exc:
            log.info("join_link_refused", reason=exc.reason, peer=request.remote)
            return link_failure_page(exc.reason)
        return web.FileResponse(
            STATIC / "join.html",
            headers={hdrs.CACHE_CONTROL: "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def json_body(request: web.Request) -> dict[str, Any]:
        if request.content_length and request.content_length > _MAX_SDP:
            raise web.HTTPRequestEntityTooLarge(max_size=_MAX_SDP, actual_size=request.content_length)
        try:
            data = json.loads(await request.text())
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text="the request body is not JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="the request body is not a JSON object")
        return data

    def refused(exc: LinkError) -> web.Response:
        status = _FAILURES.get(exc.reason, _FAILURES["malformed"])[0]
        return web.json_response({"error": exc.reason, "message": str(exc)}, status=status)

    @public
    async def info(request: web.Request) -> web.StreamResponse:
        try:
            claims = claims_of(request)
        except LinkError as exc:
            return refused(exc)
        return web.json_response(participants.info(claims), headers={hdrs.CACHE_CONTROL: "no-store"})

    @public
    async def offer(request: web.Request) -> web.StreamResponse:
        try:
            claims = claims_of(request)
        except LinkError as exc:
            return refused(exc)
        data = await json_body(request)
        sdp, purpose = data.get("sdp"), data.get("purpose", "live")
        if not isinstance(sdp, str) or purpose not in ("check", "live"):
            raise web.HTTPBadRequest(text="send {sdp: <the offer>, purpose: check|live}")
        device = str(data.get("device") or request.headers.get(hdrs.USER_AGENT, "browser"))
        try:
            peer = await participants.join(claims, sdp, purpose=purpose, device=device)
        except JoinError as exc:
            return web.json_response({"error": "join", "message": str(exc)}, status=exc.status)
        return web.json_response({"type": "answer", "sdp": participants.answer(peer), "peer": peer.id})

    @public
    async def leave(request: web.Request) -> web.StreamResponse:
        try:
            claims = claims_of(request)
        except LinkError as exc:
            return refused(exc)
        data = await json_body(request)
        peer = participants.peers.get(str(data.get("peer", "")))
        if peer is None or peer.person != claims.person:
            raise web.HTTPNotFound(text="no such connection")
        await participants.leave(peer.id)
        return web.json_response({"ok": True})

    @public
    async def events(request: web.Request) -> web.StreamResponse:
        try:
            claims = claims_of(request)
        except LinkError as exc:
            return refused(exc)
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=16 * 1024)
        await ws.prepare(request)
        participants.attach(claims.person, ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    reply = participants.client_message(claims, data)
                    if reply is not None:
                        await ws.send_json(reply)
        except ConnectionError:
            pass
        finally:
            participants.detach(claims.person, ws)
        return ws

    # -------------------------------------------------------------- WHIP

    cors = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Expose-Headers": "Location",
    }

    def bearer(request: web.Request) -> str | None:
        value = request.headers.get(hdrs.AUTHORIZATION, "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def whip_refused(status: int, message: str, **headers: str) -> web.Response:
        return web.Response(status=status, text=message, headers=cors | headers)

    @public
    async def whip_post(request: web.Request) -> web.StreamResponse:
        token = bearer(request)
        path_token = request.match_info.get("token")
        if token is None:
            return whip_refused(
                401, "send the link's token as Authorization: Bearer …", **{"WWW-Authenticate": "Bearer"}
            )
        if path_token is not None and path_token != token:
            return whip_refused(403, "the bearer token is not this link's token")
        try:
            claims = claims_of(request, token)
        except LinkError as exc:
            return whip_refused(_FAILURES.get(exc.reason, _FAILURES["malformed"])[0], str(exc))
        if request.content_type != "application/sdp":
            return whip_refused(415, "a WHIP offer is application/sdp", **{"Accept-Post": "application/sdp"})
        if request.content_length and request.content_length > _MAX_SDP:
            return whip_refused(413, "the offer is too large")
        sdp = await request.text()
        if not sdp.startswith("v=0"):
            return whip_refused(400, "the body is not an SDP offer")
        device = "WHIP " + request.headers.get(hdrs.USER_AGENT, "client")[:120]
        try:
            peer = await participants.join(claims, sdp, purpose="live", device=device, whip=True)
        except JoinError as exc:
            extra = {"Retry-After": "30"} if exc.status == 503 else {}
            return whip_refused(exc.status, str(exc), **extra)
        location = f"/whip/session/{peer.id}"
        return web.Response(
            status=201,
            text=participants.answer(peer),
            content_type="application/sdp",
            headers=cors | {hdrs.LOCATION: location, hdrs.ETAG: f'"{peer.id}"'},
        )

    @public
    async def whip_options(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers=cors | {"Accept-Post": "application/sdp"})

    async def whip_session(request: web.Request) -> tuple[str, web.Response | None]:
        peer_id = request.match_info["peer"]
        peer = participants.peers.get(peer_id)
        token = bearer(request)
        if peer is None or not peer.whip:
            return peer_id, whip_refused(404, "no such WHIP session")
        if token is None:
            return peer_id, whip_refused(401, "send the link's token as Authorization: Bearer …")
        try:
            claims = claims_of(request, token)
        except LinkError as exc:
            return peer_id, whip_refused(_FAILURES.get(exc.reason, _FAILURES["malformed"])[0], str(exc))
        if claims.person != peer.person:
            return peer_id, whip_refused(403, "this session belongs to someone else")
        return peer_id, None

    @public
    async def whip_delete(request: web.Request) -> web.StreamResponse:
        peer_id, problem = await whip_session(request)
        if problem is not None:
            return problem
        await participants.leave(peer_id)
        return web.Response(status=200, headers=cors)

    @public
    async def whip_patch(request: web.Request) -> web.StreamResponse:
        _peer_id, problem = await whip_session(request)
        if problem is not None:
            return problem
        return whip_refused(405, "trickle ICE and ICE restarts are not supported; start a new session", Allow="DELETE")

    def extend(app: web.Application) -> None:
        r = app.router
        r.add_get("/join/static/{name}", asset)
        r.add_get("/join/{token}", page)
        r.add_post("/join/{token}", whip_post)
        r.add_route("OPTIONS", "/join/{token}", whip_options)
        r.add_get("/join/{token}/info", info)
        r.add_post("/join/{token}/offer", offer)
        r.add_post("/join/{token}/leave", leave)
        r.add_get("/join/{token}/events", events)
        r.add_post("/whip", whip_post)
        r.add_route("OPTIONS", "/whip", whip_options)
        r.add_delete("/whip/session/{peer}", whip_delete)
        r.add_patch("/whip/session/{peer}", whip_patch)
        r.add_route("OPTIONS", "/whip/session/{peer}", whip_options)

    return extend
