"""A viewer in headless Chromium: signed in on the real /login page (a users file written with the
users API), the whole dashboard in view, no override control offered, and a command forced from the
page's own context — with the CSRF token, as the page's script would send it — answered 403 and
never journalled. The operator's page, beside it, offers the same controls enabled."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from orchestrator.clock import SystemClock
from orchestrator.outputs import FileOutputs
from orchestrator.participants.settings import ParticipantSettings
from orchestrator.schedule.model import Schedule
from orchestrator.system import System, SystemSettings, build_system
from orchestrator.web.auth import AccessOptions
from tests.web.helpers import KST_0950
from tests.web.test_auth import PASSWORDS, make_users_file
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

# a forced command from the page: the CSRF cookie's value in the header, as app.js sends it
FORCED_POST = """async ([path, body]) => {
    const csrf = document.cookie.split('; ').find(c => c.startsWith('summit_csrf=')).split('=')[1];
    const r = await fetch(path, {method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
                                 headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}});
    return {status: r.status, body: await r.json()};
}"""


@pytest.fixture
async def system(two_sessions: Schedule, tmp_path: Path) -> AsyncIterator[System]:
    users_file = tmp_path / "users.yaml"
    make_users_file(users_file)  # vera (viewer), otto (operator), ada (admin), via orchestrator.web.users
    settings = SystemSettings(
        journal_path=tmp_path / "journal.sqlite",
        recordings_dir=tmp_path / "rec",
        participants=ParticipantSettings(
            link_secret=SecretStr("a-test-link-secret-that-is-long-enough"), host_addresses=("127.0.0.1",)
        ),
    )
    # event time runs on from 09:50 (the page is pushed to as time passes, which a manual clock would stop)
    started = time.time()
    clock = SystemClock(wall=lambda: KST_0950.timestamp() + time.time() - started)
    async with build_system(two_sessions, clock, FileOutputs(), settings, log_events=False) as s:
        await s.serve_dashboard(0, access=AccessOptions(users_file=users_file))
        s.bus.alert("warning", "the studio feed is late")  # an alert an operator could acknowledge
        yield s


async def _sign_in(page: Any, url: str, name: str) -> None:
    await page.goto(url + "/")
    await expect(page.locator("#name")).to_be_visible()  # a stranger is sent to the sign-in page
    await page.fill("#name", name)
    await page.fill("#password", PASSWORDS[name])
    await page.click("#submit")
    await expect(page).to_have_url(url + "/")
    await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=10_000)


async def test_a_viewer_sees_the_dashboard_and_is_refused_an_override(system: System, tmp_path: Path) -> None:
    url = system.dashboard_url
    assert url is not None
    sid = system.schedule.sessions[0].id
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            viewer = await browser.new_page(viewport={"width": 1280, "height": 1400})
            problems: list[str] = []
            viewer.on("pageerror", lambda exc: problems.append(str(exc)))
            await _sign_in(viewer, url, "vera")

            # the dashboard, read only
            await expect(viewer.locator("#user")).to_have_text("vera · viewer")
            await expect(viewer.locator("#sessions tr")).to_have_count(len(system.schedule.sessions))
            await expect(viewer.locator("#alerts li.warning")).to_contain_text("the studio feed is late")
            await expect(viewer.locator("#chat-threads [data-thread='person:diamond']")).to_be_visible()
            await expect(viewer.locator("#viewer-note")).to_be_visible()
            await expect(viewer.locator("#control-buttons")).to_be_hidden()
            await expect(viewer.locator("#btn-hold")).to_be_hidden()
            await expect(viewer.locator("#alerts button.ack")).to_have_count(1)
            await expect(viewer.locator("#alerts button.ack")).to_be_hidden()
            await expect(viewer.locator("#alerts button.ack")).to_be_disabled()
            await expect(viewer.locator("#chat-form")).to_be_hidden()
            await viewer.screenshot(path=str(tmp_path / "viewer-dashboard.png"))

            # forced from the page's context: the server refuses, whatever the page shows
            for path, body in [
                (f"/api/sessions/{sid}/hold", {}),
                ("/api/sessions/standby-does-not-matter/take", {"source": "standby"}),
                ("/api/alerts/1/acknowledge", {}),
                ("/api/participants/diamond/say", {"text": "hello from a viewer"}),
            ]:
                answer = await viewer.evaluate(FORCED_POST, [path, body])
                assert answer["status"] == 403, (path, answer)
                assert answer["body"] == {"error": answer["body"]["error"], "status": 403}
                assert "operator" in answer["body"]["error"], answer
            assert system.journal.overrides() == []  # refused before the control room: nothing journalled
            assert system.participants is not None and system.participants.chat == []

            # an operator's page on the same server offers the controls, and its commands get through
            operator = await browser.new_page(viewport={"width": 1280, "height": 1400})
            operator.on("pageerror", lambda exc: problems.append(str(exc)))
            await _sign_in(operator, url, "otto")
            await expect(operator.locator("#viewer-note")).to_be_hidden()
            await expect(operator.locator("#control-buttons")).to_be_visible()
            await expect(operator.locator("#alerts button.ack")).to_be_enabled()
            answer = await operator.evaluate(FORCED_POST, ["/api/alerts/1/acknowledge", {}])
            assert answer["status"] == 200, answer
            # and the viewer's page shows who acknowledged it, still with nothing to press
            await expect(viewer.locator("#alerts .acked-by")).to_contain_text("otto")
            await expect(viewer.locator("#control-buttons")).to_be_hidden()
            assert problems == []
        finally:
            await browser.close()
