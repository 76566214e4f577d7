"""The real join page in headless Chromium (Playwright, Debian's chromium) with fake devices fed
from a y4m picture and a wav tone made here: it asks for camera and microphone, shows the preview
and the resolution, and its Join button brings the picture to the media plane; the technical
check loops the picture back to the page."""

from __future__ import annotations

import math
import re
import shutil
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest

from orchestrator.engine.events import ParticipantChanged
from tests.participants.conftest import Served
from tests.participants.test_peers import until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def make_y4m(path: Path, width: int = 640, height: int = 360, fps: int = 30, seconds: float = 2.0) -> None:
    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(fps * seconds)):
            rgb = np.zeros((height, width, 3), np.uint8)
            rgb[:, :] = (200, 40, 40)
            x = (i * 8) % (width - 40)
            rgb[height // 2 : height // 2 + 40, x : x + 40] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def make_wav(path: Path, seconds: float = 2.0, hz: float = 440.0, rate: int = 48000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(rate * seconds)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(n)))


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    y4m, wav = tmp_path / "camera.y4m", tmp_path / "mic.wav"
    make_y4m(y4m)
    make_wav(wav)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={y4m}",
                f"--use-file-for-fake-audio-capture={wav}",
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield b
        finally:
            await b.close()


async def test_chromium_joins_with_the_join_button(served: Served, browser: object) -> None:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(served.url("diamond"))
    join = page.get_by_role("button", name=re.compile("Join"))
    await join.wait_for()
    await page.wait_for_function("!document.getElementById('join').disabled", timeout=15000)
    assert (await page.text_content("#resolution")).startswith("640x360")
    await join.click()
    feed = served.live._feed("remote diamond")
    await until(lambda: feed.picture()[0] is not None and feed.picture()[1] < 0.2, timeout=20)
    picture, _ = feed.picture()
    assert picture is not None and picture.width == 640
    await until(lambda: served.participants.presence["diamond"].state == "green_room", timeout=10)
    # the page's own figures reach the dashboard: RTT from the browser, the device it named
    await until(
        lambda: any(
            isinstance(e, ParticipantChanged) and e.person == "diamond" and e.rtt_ms is not None for e in served.events
        ),
        timeout=15,
    )
    last = next(e for e in reversed(served.events) if isinstance(e, ParticipantChanged) and e.person == "diamond")
    assert last.device and "Chrome" in last.device and last.resolution == "640x360"
    await page.get_by_role("button", name=re.compile("Leave")).click()
    await until(lambda: served.participants.presence["diamond"].state == "left", timeout=10)


async def test_chromium_technical_check_loops_the_picture_back(served: Served, browser: object) -> None:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(served.url("diamond"))
    await page.wait_for_function("!document.getElementById('check').disabled", timeout=15000)
    await page.get_by_role("button", name=re.compile("Technical check")).click()
    await page.wait_for_function("document.getElementById('remote').videoWidth > 0", timeout=20000)
    await until(lambda: served.participants.presence["diamond"].state == "checking", timeout=10)
    assert served.live._feed("remote diamond").picture()[0] is None  # a check is not on the programme


async def test_chromium_reconnects_with_a_new_peer_after_a_blip(served: Served, browser: object) -> None:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(served.url("diamond"))
    await page.wait_for_function("!document.getElementById('join').disabled", timeout=15000)
    await page.get_by_role("button", name=re.compile("Join")).click()
    presence = served.participants.presence["diamond"]
    await until(lambda: presence.state == "green_room", timeout=20)
    first = presence.peer
    assert first is not None
    # the network blips: the server's side of the connection is gone, the page is not told why
    await served.participants._end(served.participants.peers[first], goodbye=False)
    await until(lambda: presence.peer not in (None, first) and presence.state == "green_room", timeout=30)
    feed = served.live._feed("remote diamond")
    await until(lambda: feed.picture()[1] < 0.2, timeout=10)
    assert await page.evaluate("window.summit.peer") == presence.peer


async def test_chromium_interpreter_page_has_the_booth(served: Served, browser: object) -> None:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(served.url("kim"))
    await page.wait_for_function("!document.getElementById('join').disabled", timeout=15000)
    assert await page.is_visible("#booth")
    await page.get_by_role("button", name=re.compile("Join")).click()
    duty = served.participants.duties["ko-en"]
    await until(lambda: duty.on_duty == "kim" and served.participants.presence["kim"].state == "on_air", timeout=20)
    await until(lambda: served.live._feed("booth ko-en").sound_age() < 0.3, timeout=10)
    await page.wait_for_function("document.getElementById('on-duty').textContent.includes('you')", timeout=10000)
    await page.get_by_role("button", name=re.compile("Microphone off")).click()
    await until(lambda: duty.mic_open is False, timeout=10)
    await page.get_by_role("button", name=re.compile("Microphone on")).click()
    await until(lambda: duty.mic_open is True, timeout=10)
    await page.fill("#line", "booth check")
    await page.get_by_role("button", name=re.compile("Send")).click()
    await page.wait_for_function("document.getElementById('messages').textContent.includes('booth check')")
