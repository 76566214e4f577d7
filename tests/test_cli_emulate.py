"""`summit emulate` runs on its own, prints its base URL, and speaks the real paths."""

from __future__ import annotations

import asyncio
import sys

import aiohttp


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "emulate", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    assert line.startswith("http://127.0.0.1:"), line
    return proc, line


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 15)


async def test_youtube_emulator_issues_tokens_only_to_its_client() -> None:
    proc, base = await _start("youtube", "--client-id", "cid", "--client-secret", "csecret", "--refresh-token", "rt-1")
    try:
        async with aiohttp.ClientSession() as http:
            form = {
                "grant_type": "refresh_token",
                "client_id": "cid",
                "client_secret": "csecret",
                "refresh_token": "rt-1",
            }
            async with http.post(f"{base}/token", data=form) as resp:
                assert resp.status == 200
                token = (await resp.json())["access_token"]
            async with http.post(f"{base}/token", data={**form, "refresh_token": "stolen"}) as resp:
                assert resp.status in (400, 401) and (await resp.json())["error"] == "invalid_grant"
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(
                f"{base}/youtube/v3/liveBroadcasts", params={"part": "snippet", "mine": "true"}, headers=headers
            ) as resp:
                assert resp.status == 200 and (await resp.json())["kind"] == "youtube#liveBroadcastListResponse"
    finally:
        await _stop(proc)


async def test_facebook_emulator_rejects_a_wrong_page_token() -> None:
    proc, base = await _start("facebook", "--page-id", "1234567", "--page-token", "EAAGgood")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/v26.0/1234567/live_videos", params={"access_token": "EAAGbad"}, data={"status": "UNPUBLISHED"}
            ) as resp:
                body = await resp.json()
                assert (
                    resp.status in (400, 401)
                    and body["error"]["type"] == "OAuthException"
                    and body["error"]["code"] == 190
                )
            async with http.post(
                f"{base}/v26.0/1234567/live_videos", params={"access_token": "EAAGgood"}, data={"status": "UNPUBLISHED"}
            ) as resp:
                body = await resp.json()
                assert resp.status == 200 and "secure_stream_url" in body and body["id"]
    finally:
        await _stop(proc)
