"""Link serving: a valid link gets the join page; a wrong, expired or revoked one a clear page in
Korean and English with a 4xx status, never a server error."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from orchestrator.links import LinkSigner
from tests.participants.conftest import SECRET, Served


async def test_a_valid_link_gets_the_join_page_with_a_join_button(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.url("diamond")) as res:
        assert res.status == 200
        page = await res.text()
    assert 'id="join"' in page and "Join" in page
    assert served.token("diamond") not in page  # the page reads its token from its own address


async def test_info_names_the_person_and_their_session(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.url("diamond") + "/info") as res:
        info = await res.json()
    assert info["person"] == "diamond" and info["role"] == "speaker" and info["name"] == "Jared Diamond"
    assert info["session"] is not None and info["ice_servers"] == []


async def _status_and_text(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as res:
        return res.status, await res.text()


async def test_wrong_links_get_a_bilingual_page_with_a_4xx(served: Served) -> None:
    good = served.token("diamond")
    other_event = LinkSigner(SECRET, "another-event").issue(
        "diamond", "speaker", served.clock.now() + timedelta(days=1)
    )
    forged = LinkSigner("not-the-secret-at-all-0123456789", served.participants.schedule.event.id).issue(
        "diamond", "speaker", served.clock.now() + timedelta(days=1)
    )
    for token, status in [
        ("nonsense", 404),
        (good[:-3] + "AAA", 403),
        (other_event.token, 403),
        (forged.token, 403),
        ("x" * 5000, 404),
        (good.split(".")[0] + ".%C3%A9%E2%82%AC", 404),  # characters no token has
        ("%00.%00", 403),
    ]:
        got, text = await _status_and_text(f"{served.base_url}/join/{token}")
        assert got == status, token
        assert "참가 링크" in text and "join link" in text.lower()


async def test_an_expired_link_gets_410(served: Served) -> None:
    url = served.url("diamond")
    served.clock.advance(timedelta(days=30))
    status, text = await _status_and_text(url)
    assert status == 410 and "expired" in text and "유효 기간" in text


async def test_a_revoked_link_gets_410_and_the_new_one_works(served: Served) -> None:
    old = served.url("diamond")
    generation = served.participants.book.revoke("diamond")
    assert served.journal.recall("link-generation:diamond") == str(generation)
    status, text = await _status_and_text(old)
    assert status == 410 and "withdrawn" in text and "취소" in text
    status, _ = await _status_and_text(served.url("diamond"))
    assert status == 200
    async with aiohttp.ClientSession() as http, http.post(old + "/offer", json={"sdp": "v=0"}) as res:
        assert res.status == 410 and (await res.json())["error"] == "revoked"
