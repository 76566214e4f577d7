"""The real join page in headless Firefox (Debian's firefox-esr, driven by Mozilla's Marionette
client) with Firefox's fake camera and microphone: the page asks for the devices, its Join button
brings the person's picture to the media plane and the page says it is connected.

Camera and microphone are allowed in Firefox's permission manager, as a person's "Allow" would,
not by `media.navigator.permission.disabled`: with that pref Firefox still hid its host addresses
behind mDNS names in the offer even after getUserMedia (seen here with firefox-esr 153), and the
server never connected to those, so that pref would hide whether the permission-first order works."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ifaddr
import pytest

from orchestrator.engine.events import ParticipantChanged
from tests.participants.conftest import Served
from tests.participants.test_peers import until

pytestmark = pytest.mark.slow

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")

# Fake devices; nothing fetched from the network (updates, OpenH264, telemetry).
PREFS: dict[str, object] = {
    "media.navigator.streams.fake": True,
    "media.autoplay.default": 0,
    "media.gmp-manager.updateEnabled": False,
    "app.update.disabledForTesting": True,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
}


@pytest.fixture
def host_addresses() -> tuple[str, ...]:
    """Firefox never gathers a loopback candidate (its loopback prefs notwithstanding, it offered
    only eth0's IPv4 and IPv6 here), so for this test the server's ICE uses the machine's own
    non-loopback IPv4 address, the one aioice would offer by default. Packets to it stay inside
    the machine: the kernel delivers them locally."""
    own = [
        ip.ip for a in ifaddr.get_adapters() for ip in a.ips if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]
    assert own, "the machine has no non-loopback IPv4 address for Firefox's ICE to reach"
    return (own[0],)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def firefox(tmp_path: Path) -> Iterator[Any]:
    from marionette_driver.errors import MarionetteException
    from marionette_driver.marionette import Marionette

    assert FIREFOX is not None, "firefox-esr is not installed (scripts/setup installs it)"
    profile = tmp_path / "firefox-profile"
    profile.mkdir()
    port = free_port()
    prefs = {**PREFS, "marionette.port": port}
    (profile / "user.js").write_text("".join(f'user_pref("{k}", {json.dumps(v)});\n' for k, v in prefs.items()))
    process = subprocess.Popen(
        [
            FIREFOX,
            "--headless",
            "--marionette",
            "-remote-allow-system-access",
            "--no-remote",
            "--profile",
            str(profile),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Marionette(host="127.0.0.1", port=port)
    try:
        client.start_session(timeout=60)
        yield client
    finally:
        # Firefox may already be gone; the process is ended below either way
        with contextlib.suppress(MarionetteException, OSError):
            client.delete_session()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def in_browser(call: Any, *args: Any) -> Any:
    """Marionette blocks on its socket; the server answering the page runs on this event loop."""
    return await asyncio.to_thread(call, *args)


async def page_until(firefox: Any, script: str, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await in_browser(firefox.execute_script, f"return Boolean({script});"):
        if asyncio.get_running_loop().time() > deadline:
            state = await in_browser(
                firefox.execute_script,
                "return [document.getElementById('connection').textContent,"
                " document.getElementById('permission').textContent];",
            )
            raise AssertionError(f"the page never had {script!r}; connection, message: {state}")
        await asyncio.sleep(0.2)


def allow_devices(firefox: Any, origin: str) -> None:
    """The person's answer to Firefox's prompt, given ahead: camera and microphone allowed for
    the origin (WebDriver's Set Permission knows neither, so Firefox's permission manager)."""
    with firefox.using_context("chrome"):
        firefox.execute_script(
            """
            const principal = Services.scriptSecurityManager.createContentPrincipalFromOrigin(arguments[0]);
            for (const what of ["camera", "microphone"]) {
              Services.perms.addFromPrincipal(principal, what, Services.perms.ALLOW_ACTION);
            }
            """,
            script_args=[origin],
        )


async def open_link(firefox: Any, served: Served, person: str) -> None:
    await in_browser(allow_devices, firefox, served.base_url)
    await in_browser(firefox.navigate, served.url(person))
    # the page asks for camera and microphone first: Join is enabled once Firefox gave them
    await page_until(firefox, "!document.getElementById('join').disabled", timeout=15)


async def test_firefox_joins_with_the_join_button(served: Served, firefox: Any) -> None:
    await open_link(firefox, served, "diamond")
    resolution = await in_browser(firefox.execute_script, "return document.getElementById('resolution').textContent;")
    assert resolution.startswith("640x"), resolution

    buttons = await in_browser(firefox.find_elements, "css selector", "button")
    labelled = [(b, await in_browser(lambda b=b: (b.computed_role, b.computed_label))) for b in buttons]
    join = [b for b, (role, label) in labelled if role == "button" and "Join" in label]
    assert len(join) == 1, [label for _, (_, label) in labelled]
    await in_browser(join[0].click)
    # camera and microphone came first, so the offer names real host addresses, not the mDNS
    # names Firefox hides them behind before permission (which aiortc cannot resolve)
    await page_until(firefox, "window.wrappedJSObject.summit.peer", timeout=20)
    offer = await in_browser(firefox.execute_script, "return window.wrappedJSObject.summit.pc.localDescription.sdp;")
    candidates = [line for line in offer.splitlines() if line.startswith("a=candidate:")]
    assert candidates and not [c for c in candidates if ".local " in c], candidates

    feed = served.live._feed("remote diamond")
    await until(lambda: feed.picture()[0] is not None and feed.picture()[1] < 0.2, timeout=20)
    picture, _ = feed.picture()
    assert picture is not None and picture.width == 640
    await until(lambda: served.participants.presence["diamond"].state == "green_room", timeout=10)
    await page_until(firefox, "document.getElementById('connection').textContent === 'connected'", timeout=10)
    # the page's own figures reach the dashboard: the round trip measured by Firefox, its name
    await until(
        lambda: any(
            isinstance(e, ParticipantChanged) and e.person == "diamond" and e.rtt_ms is not None for e in served.events
        ),
        timeout=15,
    )
    last = next(e for e in reversed(served.events) if isinstance(e, ParticipantChanged) and e.person == "diamond")
    assert last.device and "Firefox" in last.device
    await in_browser(lambda: firefox.find_element("css selector", "#leave").click())
    await until(lambda: served.participants.presence["diamond"].state == "left", timeout=10)


async def test_firefox_technical_check_loops_the_picture_back(served: Served, firefox: Any) -> None:
    await open_link(firefox, served, "diamond")
    await in_browser(lambda: firefox.find_element("css selector", "#check").click())
    # the server's VP8 comes back and Firefox decodes it
    await page_until(firefox, "document.getElementById('remote').videoWidth > 0", timeout=20)
    await until(lambda: served.participants.presence["diamond"].state == "checking", timeout=10)
    assert served.live._feed("remote diamond").picture()[0] is None  # a check is not on the programme


async def test_firefox_interpreter_goes_on_duty_with_sound_only(served: Served, firefox: Any) -> None:
    await open_link(firefox, served, "kim")
    assert await in_browser(firefox.execute_script, "return !document.getElementById('booth').hidden;")
    await in_browser(lambda: firefox.find_element("css selector", "#join").click())
    duty = served.participants.duties["ko-en"]
    await until(lambda: duty.on_duty == "kim" and served.participants.presence["kim"].state == "on_air", timeout=20)
    await until(lambda: served.live._feed("booth ko-en").sound_age() < 0.3, timeout=10)
    await page_until(firefox, "document.getElementById('on-duty').textContent.includes('you')", timeout=10)
