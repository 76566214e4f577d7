"""Signing in on the real page in headless Chromium: a wrong password is refused, the right one
lands on the dashboard with its live WebSocket, the page's script can post with the CSRF cookie,
and signing out ends the session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.schedule.model import Schedule
from orchestrator.web.app import serve_dashboard
from orchestrator.web.auth import Access
from tests.web.helpers import Stage
from tests.web.test_auth import PASSWORDS, make_users_file
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


async def test_sign_in_on_the_page_and_see_the_dashboard(two_sessions: Schedule, tmp_path: Path) -> None:
    users_file = tmp_path / "users.yaml"
    make_users_file(users_file)
    stage = Stage(two_sessions)
    runner, url = await serve_dashboard(stage.hub, access=Access.configure(users_file, secret_file=tmp_path / "key"))
    try:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                problems: list[str] = []
                page.on("pageerror", lambda exc: problems.append(str(exc)))

                # the dashboard sends a stranger to the sign-in page
                await page.goto(url + "/")
                await expect(page).to_have_url(re.compile(r"/login\?next=/$"))
                await expect(page.locator("h1")).to_contain_text("로그인")
                await expect(page.locator("#message")).to_be_hidden()

                # a wrong password: refused, said so in both languages, still on the sign-in page
                await page.fill("#name", "otto")
                await page.fill("#password", "not-the-password")
                async with page.expect_response(
                    lambda r: r.url.endswith("/login") and r.request.method == "POST"
                ) as info:
                    await page.click("#submit")
                assert (await info.value).status == 401
                await expect(page.locator("#message")).to_be_visible()
                await expect(page.locator("#message")).to_contain_text("Wrong name or password")
                assert not any(c["name"] == "summit_session" for c in await page.context.cookies())

                # the right one: the dashboard, live over its WebSocket
                await page.fill("#name", "otto")
                await page.fill("#password", PASSWORDS["otto"])
                await page.click("#submit")
                await expect(page).to_have_url(url + "/")
                await expect(page.locator("#onair")).to_be_visible()
                await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=5000)
                session = next(c for c in await page.context.cookies() if c["name"] == "summit_session")
                assert session["httpOnly"] and session["sameSite"] == "Strict"
                assert "summit_session" not in await page.evaluate("document.cookie")  # out of scripts' reach
                await page.screenshot(path=str(tmp_path / "auth-signed-in.png"))

                # the page's own script: who am I, and a post carrying the CSRF cookie's value
                me = await page.evaluate("fetch('/api/me').then(r => r.json())")
                assert me["name"] == "otto" and me["role"] == "operator" and me["auth_required"] is True
                status = await page.evaluate(
                    """async () => {
                        const csrf = document.cookie.split('; ').find(c => c.startsWith('summit_csrf=')).split('=')[1];
                        const r = await fetch('/logout', {method: 'POST', headers: {'X-CSRF-Token': csrf},
                                                          redirect: 'manual'});
                        return r.type === 'opaqueredirect' ? 303 : r.status;
                    }"""
                )
                assert status == 303
                await page.goto(url + "/")
                await expect(page).to_have_url(re.compile(r"/login"))
                assert problems == []
            finally:
                await browser.close()
    finally:
        await runner.cleanup()


async def test_a_page_signed_out_elsewhere_shows_the_sign_in_link_and_stops(
    two_sessions: Schedule, tmp_path: Path
) -> None:
    """Two tabs of one browser: signing out in one closes the other's socket; that page clears the
    event off the screen, shows the sign-in link and does not reconnect in a loop."""
    users_file = tmp_path / "users.yaml"
    make_users_file(users_file)
    stage = Stage(two_sessions)
    runner, url = await serve_dashboard(stage.hub, access=Access.configure(users_file, secret_file=tmp_path / "key"))
    try:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                sockets: list[object] = []
                page.on("websocket", lambda ws: sockets.append(ws))
                await page.goto(url + "/login")
                await page.fill("#name", "otto")
                await page.fill("#password", PASSWORDS["otto"])
                await page.click("#submit")
                await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=5000)
                await expect(page.locator("main.grid")).to_be_visible()
                assert len(sockets) == 1

                other = await context.new_page()  # the same browser's other tab signs out
                await other.goto(url + "/")
                await other.click("#signout button")
                await expect(other).to_have_url(re.compile(r"/login"))

                await expect(page.locator("#link")).to_have_attribute("data-state", "signed-out", timeout=5000)
                await expect(page.locator("#signin-banner")).to_be_visible()
                await expect(page.locator("#signin-reason")).to_have_text("Signed out")
                await expect(page.locator("main.grid")).to_be_hidden()  # nothing of the event left on screen
                await expect(page.locator("#signin-link")).to_have_attribute("href", "/login?next=%2F")
                # a reconnect loop would open a new socket within its first 0.5 s retry
                await page.wait_for_timeout(2000)
                assert len(sockets) == 1
                assert problems == []
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
