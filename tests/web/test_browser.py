"""The dashboard in headless Chromium while a short run of the two-session event plays on a
compressed clock (engine test doubles, so only the page and the hub are real here)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.engine.control import Control
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.ports import IngestTarget, PreparedDestination
from orchestrator.engine.runner import Runner, RunnerSettings
from orchestrator.planning.plan import plan
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.loader import load_schedule
from orchestrator.web import api
from orchestrator.web.app import serve_dashboard
from orchestrator.web.hub import DashboardHub
from tests.engine.doubles import RecordingPlatform
from tests.web.control_doubles import OperatorMediaDouble

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

DATA = Path(__file__).resolve().parent.parent / "data"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SPEED = 1200.0  # the event's 3 busy hours in 9 s; the climate session is on air for 3 s of them

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


class KeyedPlatform(RecordingPlatform):
    """The recording double, handing out a stream key that looks like a real one."""

    async def prepare(self, action_id, session, destination) -> PreparedDestination:  # type: ignore[no-untyped-def]
        prepared = await super().prepare(action_id, session, destination)
        key = SecretStr(f"sk-LIVE-{session.id}-abcdef123456")
        return dataclasses.replace(prepared, primary=IngestTarget(prepared.primary.url, key))


async def test_the_dashboard_follows_a_run(tmp_path: Path) -> None:
    schedule = load_schedule(DATA / "two-sessions.yaml")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 960}, device_scale_factor=1)
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            the_plan = plan(schedule)
            clock = rehearsal_clock(the_plan, SPEED, start_in_s=0.8, gap_s=0.2)
            journal = SqliteJournal()
            runner = Runner(
                schedule,
                the_plan,
                clock=clock,
                media=OperatorMediaDouble(clock),
                platforms={d.id: KeyedPlatform() for d in schedule.destinations},
                journal=journal,
                settings=RunnerSettings(cue_arm_lead_s=0.05),
            )
            hub = DashboardHub(schedule, clock, secrets=runner.bus.secrets, plan=the_plan)
            runner.bus.subscribe(hub)
            media = runner._media
            assert isinstance(media, OperatorMediaDouble)
            control_api = api.ControlApi(Control(runner, media, journal, runner.bus, clock), hub, journal, media)
            app_runner, url = await serve_dashboard(hub, extensions=[api.extension(control_api)])
            run = asyncio.create_task(runner.run())
            try:
                await page.goto(url)
                onair = page.locator("#onair")
                await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=3000)

                # the climate session goes on air: the lamp is lit, its titles in both languages
                await expect(onair).to_have_attribute("data-session", "climate", timeout=5000)
                await expect(onair).to_have_attribute("data-state", "live", timeout=100)
                await expect(page.locator("#onair-lamp")).to_have_text("ON AIR", timeout=100)
                await expect(page.locator("#onair-title-ko")).to_have_text("기후·환경", timeout=100)
                await expect(page.locator("#onair-title-en")).to_have_text("Climate & Environment", timeout=100)
                await expect(page.locator('#sessions tr[data-session="climate"]')).to_have_attribute(
                    "data-state", "live", timeout=100
                )

                # an alert raised through the hub reaches the alerts panel, key masked
                runner.bus.alert(
                    "error",
                    "rec-en: ingest refused key sk-LIVE-climate-abcdef123456",
                    session="climate",
                    destination="rec-en",
                )
                runner.bus.alert("warning", "booth ko-en: interpreter audio is silent", session="climate")
                alert = page.locator("#alerts li.error")
                await expect(alert).to_contain_text("rec-en: ingest refused key ****3456", timeout=1500)
                await expect(page.locator("#alerts li.warning")).to_contain_text(
                    "interpreter audio is silent", timeout=500
                )

                # the destinations of the session on air, ingests masked
                ingest = page.locator('#destinations tr[data-destination="rec-ko"] .ingest')
                await expect(ingest).to_have_text("rtmp://127.0.0.1:1/live/****3456", timeout=500)
                await expect(onair).to_have_attribute("data-state", "live", timeout=100)  # still live for the picture
                await page.screenshot(path=str(tmp_path / "dashboard-live.png"), full_page=True)
                assert "sk-LIVE" not in await page.content()

                # the handover and the end of the event
                await expect(onair).to_have_attribute("data-session", "dialogue", timeout=6000)
                await expect(page.locator("#onair-title-ko")).to_have_text("석학 대담", timeout=100)
                await asyncio.wait_for(run, 10)
                await expect(page.locator("#next-what")).to_have_text("All sessions done", timeout=2000)
                await expect(page.locator('#sessions tr[data-state="ended"]')).to_have_count(2, timeout=500)
                await expect(onair).to_have_attribute("data-state", "off", timeout=500)
                ended = page.locator('#destinations tr[data-destination="rec-en"] .pill')
                await expect(ended).to_have_text("ended", timeout=500)
                await page.screenshot(path=str(tmp_path / "dashboard-done.png"), full_page=True)
                assert "sk-LIVE" not in await page.content()
                assert problems == []
            finally:
                if not run.done():
                    run.cancel()
                await app_runner.cleanup()
                journal.close()
        finally:
            await browser.close()


async def test_the_page_resyncs_after_a_server_restart(tmp_path: Path) -> None:
    """The server goes away and comes back (a restart: a new process, a new hub, on the same port):
    the page says it lost the link, reconnects by itself and shows the new server's state."""
    import socket

    from orchestrator.clock import SystemClock

    schedule = load_schedule(DATA / "two-sessions.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def start(alert: str | None) -> tuple[object, DashboardHub]:
        hub = DashboardHub(schedule, SystemClock(), plan=plan(schedule))
        if alert:
            from orchestrator.engine.events import EventBus

            bus = EventBus(hub.clock)
            bus.subscribe(hub)
            bus.alert("warning", alert)
        runner, _url = await serve_dashboard(hub, port=port)
        return runner, hub

    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            first, _ = await start(None)
            await page.goto(f"http://127.0.0.1:{port}")
            await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=5000)
            await expect(page.locator("#alerts li.empty")).to_have_text("No alerts")
            await first.cleanup()  # type: ignore[attr-defined]
            await expect(page.locator("#link")).to_have_attribute("data-state", "down", timeout=5000)
            second, _ = await start("restarted: the journal was replayed")
            try:
                await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=10000)
                await expect(page.locator("#alerts li.warning")).to_contain_text("restarted", timeout=3000)
            finally:
                await second.cleanup()  # type: ignore[attr-defined]
        finally:
            await browser.close()


async def test_people_and_booths_with_their_figures_and_alarms() -> None:
    """What the participants adapter and the media plane publish reaches the page: each person's
    state and link figures, each booth's interpreter on duty with their shift time, a handover due
    and the silence alarm."""
    from datetime import timedelta

    from orchestrator.clock import SystemClock
    from orchestrator.engine.events import BoothChanged, EventBus, ParticipantChanged, RouteChanged

    schedule = load_schedule(DATA / "two-sessions.yaml")
    clock = SystemClock()
    hub = DashboardHub(schedule, clock, plan=plan(schedule))
    bus = EventBus(clock)
    bus.subscribe(hub)
    app_runner, url = await serve_dashboard(hub)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(url)
            await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=5000)
            now = clock.now()
            bus.publish(ParticipantChanged("ana", "speaker", "green_room", now, session="climate",
                                           resolution="640x360", rtt_ms=42.4, loss_pct=0.5, fps=30.0, kbps=812.0))  # fmt: skip
            bus.publish(BoothChanged("ko-en", "climate", "ivy", "jun", now - timedelta(minutes=31), now,
                                     handover_due=True, mic_open=True))  # fmt: skip
            person = page.locator('#participants tr[data-person="ana"]')
            await expect(person).to_contain_text("green room", timeout=3000)
            await expect(person).to_contain_text("640x360 · 30 fps · 812 kb/s · 42 ms · 0.5% loss", timeout=500)
            booth = page.locator('#booths tr[data-booth="ko-en"]')
            await expect(booth).to_contain_text("ivy", timeout=2000)
            await expect(booth).to_contain_text("31 min", timeout=500)
            await expect(booth).to_contain_text("HANDOVER", timeout=500)
            await expect(booth.locator('[data-alarm="silence"]')).to_have_count(0)
            bus.publish(RouteChanged("climate", "en", "floor", clock.now(), reason="silence", silent=True))
            await expect(booth.locator('[data-alarm="silence"]')).to_have_text("SILENT", timeout=2000)
            bus.publish(RouteChanged("climate", "en", "ko-en", clock.now(), reason="recovered", silent=False))
            await expect(booth.locator('[data-alarm="silence"]')).to_have_count(0, timeout=2000)
        finally:
            await browser.close()
            await app_runner.cleanup()
