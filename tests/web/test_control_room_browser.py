"""The control room in headless Chromium over a real compressed rehearsal: the real media plane,
the real YouTube adapter against its emulator, a local nginx-rtmp. The operator watches the
session change over, holds it, takes the stand-by slate (and it is what nginx received), extends
the session, acknowledges an alert, resumes, and downloads the as-run log."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import shutil
from datetime import timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from orchestrator.planning.plan import PlanSettings, plan
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.loader import load_schedule
from orchestrator.standins.nginx import RtmpServer
from orchestrator.standins.outputs import EmulatedOutputs
from orchestrator.system import SystemSettings, build_system
from tests.conftest import ROOT
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = ROOT / "tests" / "artifacts"
SPEED = 120.0  # 30 event minutes on air in 15 s (a hold stops the rundown as long as it lasts)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.skipif(not RtmpServer.available(), reason="needs nginx with the RTMP module"),
]


def picture(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.float32)


def recorded_pictures(path: Path, every: int = 5) -> list[np.ndarray]:
    """Every `every`-th frame nginx has recorded in `path` so far (it may still be writing it), at
    the thumbnails' size."""
    out = []
    try:
        with av.open(str(path)) as f:
            for i, frame in enumerate(f.decode(video=0)):
                if i % every == 0:
                    out.append(frame.reformat(width=320, height=180, format="rgb24").to_ndarray().astype(np.float32))
    except (av.FFmpegError, OSError):  # the end of a file still being written
        pass
    return out


def took_over(record_dir: Path, before: np.ndarray, standby: np.ndarray) -> bool:
    """Whether one of nginx's recordings shows what was on before, then the stand-by slate."""
    where = np.abs(before - standby).max(axis=2) > 40  # the pixels where the two pictures differ
    for path in sorted(record_dir.rglob("*.flv")):
        near = [(diff(f[where], before[where]), diff(f[where], standby[where])) for f in recorded_pictures(path)]
        was_before = [i for i, (b, s) in enumerate(near) if b < 0.4 * s]
        was_standby = [i for i, (b, s) in enumerate(near) if s < 0.4 * b]
        if was_before and was_standby and min(was_before) < max(was_standby):
            return True
    return False


def diff(a: np.ndarray, b: np.ndarray) -> float:  # mean absolute difference, 0..255
    return float(np.mean(np.abs(a - b)))


async def thumbnail(page: object, url: str) -> bytes:
    for _ in range(50):
        resp = await page.request.get(f"{url}/api/sessions/main/thumbnail.jpg")  # type: ignore[attr-defined]
        if resp.status == 200:
            return bytes(await resp.body())
        await asyncio.sleep(0.1)
    raise AssertionError("the programme never had a picture")


async def test_an_operator_takes_over_a_rehearsal(tmp_path: Path) -> None:
    schedule = load_schedule(DATA / "control-room.yaml")
    settings = SystemSettings(
        journal_path=tmp_path / "journal.sqlite", recordings_dir=tmp_path / "recordings", media_dir=tmp_path / "media"
    )
    the_plan = plan(
        schedule,
        PlanSettings(prepare_lead=timedelta(minutes=4), standby_lead=timedelta(minutes=2), media_root=str(tmp_path)),
    )
    clock = rehearsal_clock(the_plan, SPEED, start_in_s=3.0, gap_s=1.0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 1200}, accept_downloads=True)
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            outputs = EmulatedOutputs(tmp_path / "ingest")
            async with build_system(schedule, clock, outputs, settings, the_plan=the_plan) as system:
                url = await system.serve_dashboard(0)
                run = asyncio.create_task(system.run())
                try:
                    await page.goto(url)
                    await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=5000)
                    await expect(page.locator("#user")).to_have_text("local · admin", timeout=5000)
                    await expect(page.locator("#loopback-banner")).to_be_visible(timeout=5000)

                    # the session changes over: on air, the first segment taken on the timeline
                    await expect(page.locator("#onair")).to_have_attribute("data-state", "live", timeout=20000)
                    first = page.locator('#timeline [data-cue="main/cue/01-slate"]')
                    await expect(first).to_have_class("tl-seg slate taken", timeout=5000)

                    # hold: the rundown stops, the programme stays
                    await page.click("#btn-hold")
                    await expect(page.locator("#command-result")).to_contain_text("hold main", timeout=5000)
                    await expect(page.locator("#programme-held")).to_be_visible(timeout=5000)
                    await expect(page.locator('#timeline .tl-session[data-session="main"]')).to_have_class(
                        "tl-session live held", timeout=5000
                    )
                    await asyncio.sleep(1.2)  # a programme picture of what is on now
                    before = picture(await thumbnail(page, url))

                    # take the stand-by slate
                    await page.click("#btn-standby")
                    await expect(page.locator("#command-result")).to_contain_text(
                        "took the stand-by slate", timeout=5000
                    )
                    await expect(page.locator("#programme-caption")).to_contain_text("stand-by slate", timeout=5000)
                    standby = before
                    for _ in range(100):  # the programme's next picture (about a second; more under load)
                        standby = picture(await thumbnail(page, url))
                        if (np.abs(before - standby).max(axis=2) > 40).sum() > 500:
                            break
                        await asyncio.sleep(0.1)
                    await expect(page.locator("#programme-img")).to_have_attribute("data-session", "main", timeout=3000)
                    shown = before
                    for _ in range(50):  # the page's programme monitor shows the slate too
                        src = await page.locator("#programme-img").get_attribute("src") or ""
                        if src.startswith("data:image/jpeg;base64,"):
                            shown = picture(base64.b64decode(src.split(",", 1)[1]))
                            if diff(shown, standby) < diff(shown, before):
                                break
                        await asyncio.sleep(0.1)
                    Image.fromarray(shown.astype(np.uint8)).save(ARTIFACTS / "page-programme.png")
                    assert diff(shown, standby) < diff(shown, before)
                    # ... and so does what nginx-rtmp receives on the YouTube ingest, read back while
                    # the session is held (under load a publisher may drop and restart: keep looking)
                    assert (np.abs(before - standby).max(axis=2) > 40).sum() > 500, "the two pictures look alike"
                    for _ in range(120):
                        if await asyncio.to_thread(took_over, tmp_path / "ingest", before, standby):
                            break
                        await asyncio.sleep(0.5)
                    else:
                        files = {p.name: p.stat().st_size for p in (tmp_path / "ingest").rglob("*.flv")}
                        raise AssertionError(f"nginx never received the stand-by slate after what was on: {files}")

                    # an alert, acknowledged by the operator
                    system.bus.alert("warning", "yt-en: the platform reports a low bitrate", session="main")
                    alert = page.locator("#alerts li.warning", has_text="low bitrate")
                    await expect(alert).to_be_visible(timeout=5000)
                    await alert.locator("button.ack").click()
                    await expect(alert.locator(".acked-by")).to_have_text("✓ local", timeout=5000)

                    # restart the Korean recording: it goes on in a second file, the first one is kept
                    await page.click('#destinations [data-restart="rec-ko"]')
                    await expect(page.locator("#command-result")).to_contain_text("rec-ko restarted", timeout=5000)

                    # extend by five minutes: the scheduled end moves
                    await expect(page.locator("#onair-meta")).to_have_text("scheduled end 10:30", timeout=5000)
                    await page.click("#btn-extend-5")
                    await expect(page.locator("#onair-meta")).to_have_text("scheduled end 10:35", timeout=5000)
                    await expect(page.locator("#meters .meter")).to_have_count(2, timeout=3000)
                    shot = ARTIFACTS / "dashboard-mid-session.png"
                    await page.screenshot(path=str(shot), full_page=True)

                    # resume: the rundown runs again, the session ends
                    await page.click("#btn-resume")
                    await expect(page.locator("#programme-held")).to_be_hidden(timeout=5000)
                    await expect(page.locator('#sessions tr[data-session="main"]')).to_have_attribute(
                        "data-state", "ended", timeout=30000
                    )
                    snapshot = await asyncio.wait_for(run, 30)

                    # the as-run log, downloaded and parsed
                    async with page.expect_download() as waiting:
                        await page.click("#asrun-csv")
                    download = await waiting.value
                    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
                    manual = [(r["who"], r["what"], r["outcome"]) for r in rows if r["who"] == "local"]
                    assert manual == [
                        ("local", "hold", "ok"),
                        ("local", "take", "ok"),
                        ("local", "acknowledge", "ok"),
                        ("local", "restart_output", "ok"),
                        ("local", "extend", "ok"),
                        ("local", "resume", "ok"),
                    ]
                    assert any(r["what"] == "alert:warning" and "low bitrate" in r["detail"] for r in rows)
                    stop = next(r for r in rows if r["id"] == "main/end")
                    assert stop["outcome"] == "ok" and stop["scheduled"].startswith("2021-09-01T10:35:00.000+09:00")
                    assert problems == []
                finally:
                    if not run.done():
                        run.cancel()
                recordings = await system.recordings(snapshot)
        finally:
            await browser.close()

    assert recordings[("main", "yt-en")]  # the emulator says which recording was the broadcast's
    korean = sorted(p.name for p in (tmp_path / "recordings").rglob("*.flv") if "rec-ko" in p.name)
    assert korean == ["rec-ko.flv", "rec-ko.part2.flv"], korean
    assert all(recorded_pictures(p) for p in (tmp_path / "recordings").rglob("rec-ko*.flv"))
    docs = ROOT / "docs" / "dashboard.png"
    if not docs.exists():
        shutil.copy(shot, docs)
