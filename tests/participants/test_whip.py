"""WHIP (RFC 9725) on each link: POST application/sdp with the link's token as Bearer → 201 +
Location + answer; DELETE on the Location ends it; wrong content type, bad SDP, a missing or foreign
token → 4xx; OPTIONS answers CORS; PATCH (trickle, ICE restart) → 405."""

from __future__ import annotations

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from orchestrator.standins.bots import CardTrack, ToneTrack
from tests.participants.conftest import Served
from tests.participants.test_peers import until


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(CardTrack("OBS"), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_whip_publish_and_delete(served: Served) -> None:
    pc, sdp = await _offer()
    token = served.token("diamond")
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {token}", "User-Agent": "OBS/30"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{served.base_url}/whip", data=sdp, headers=headers) as res:
            assert res.status == 201
            assert res.content_type == "application/sdp"
            location = res.headers["Location"]
            answer = await res.text()
        assert location.startswith("/whip/session/") and answer.startswith("v=0")
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        feed = served.live._feed("remote diamond")
        await until(lambda: feed.picture()[0] is not None)
        assert served.participants.presence["diamond"].device == "WHIP OBS/30"
        async with http.patch(served.base_url + location, headers=headers) as res:
            assert res.status == 405
        async with http.delete(served.base_url + location) as res:
            assert res.status == 401  # no token, no delete
        async with http.delete(served.base_url + location, headers={"Authorization": f"Bearer {token}"}) as res:
            assert res.status == 200
        await until(lambda: served.participants.presence["diamond"].state == "left")
        async with http.delete(served.base_url + location, headers={"Authorization": f"Bearer {token}"}) as res:
            assert res.status == 404
    await pc.close()


async def test_the_link_itself_is_a_whip_endpoint(served: Served) -> None:
    pc, sdp = await _offer()
    token = served.token("diamond")
    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"}
        async with http.post(served.url("diamond"), data=sdp, headers=headers) as res:
            assert res.status == 201 and "Location" in res.headers
        other = {"Content-Type": "application/sdp", "Authorization": f"Bearer {served.token('kim')}"}
        async with http.post(served.url("diamond"), data=sdp, headers=other) as res:
            assert res.status == 403
    await pc.close()


async def test_whip_refuses_bad_requests_with_4xx(served: Served) -> None:
    token = served.token("diamond")
    url = f"{served.base_url}/whip"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data="v=0\r\n", headers={"Content-Type": "application/sdp"}) as res:
            assert res.status == 401 and res.headers["WWW-Authenticate"] == "Bearer"
        async with http.post(
            url, data="v=0\r\n", headers={"Content-Type": "application/sdp", "Authorization": "Bearer nonsense"}
        ) as res:
            assert res.status == 404
        auth = {"Authorization": f"Bearer {token}"}
        async with http.post(url, json={"sdp": "v=0"}, headers=auth) as res:
            assert res.status == 415 and res.headers["Accept-Post"] == "application/sdp"
        async with http.post(url, data="hello", headers=auth | {"Content-Type": "application/sdp"}) as res:
            assert res.status == 400
        broken = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=garbage\r\n"
        async with http.post(url, data=broken, headers=auth | {"Content-Type": "application/sdp"}) as res:
            assert res.status == 400
        async with http.options(
            url, headers={"Origin": "https://obs.example", "Access-Control-Request-Method": "POST"}
        ) as res:
            assert res.status == 204
            assert "POST" in res.headers["Access-Control-Allow-Methods"]
            assert "Authorization" in res.headers["Access-Control-Allow-Headers"]
            assert res.headers["Access-Control-Expose-Headers"] == "Location"
    assert not served.participants.peers  # nothing was left half-open
