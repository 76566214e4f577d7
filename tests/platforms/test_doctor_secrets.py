"""`summit doctor` never echoes a secret, and a secrets file it cannot use is one clear finding —
binary, a directory, malformed, missing — never a traceback. The SRT passphrase credential is
checked like the stream key and applied only when publishing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from orchestrator.engine.ports import IngestTarget
from orchestrator.platforms.credentials import CredentialsMissing, CredentialStore, SecretsFileError
from orchestrator.platforms.doctor import Finding, doctor
from orchestrator.platforms.rtmp import RtmpPlatform
from orchestrator.platforms.settings import YouTubeSettings
from orchestrator.redaction import mask_text
from orchestrator.schedule.model import RtmpDestination, Session, YouTubeDestination

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
REFRESH = "1//0gRefreshTokenThatMustNeverBePrinted"
CLIENT_SECRET = "GOCSPX-client-secret-never-printed"
KEY = "live-key-0123456789-never-printed"
PASSPHRASE = "correct-horse-battery-staple"


def secrets_file(tmp_path: Path, data: dict[str, dict[str, str]]) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


@pytest.fixture
async def echoing_google() -> AsyncIterator[str]:
    """A token endpoint that refuses the refresh token and quotes it back, as a careless one might."""

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response(
            {"error": "invalid_grant", "error_description": f"token {form.get('refresh_token')} is revoked"},
            status=400,
        )

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_platform_echoing_the_token_cannot_make_the_doctor_print_it(
    tmp_path: Path, echoing_google: str
) -> None:
    path = secrets_file(
        tmp_path, {"seoul-en": {"client_id": "cid", "client_secret": CLIENT_SECRET, "refresh_token": REFRESH}}
    )
    destination = YouTubeDestination(kind="youtube", id="yt-en", language="en", channel="c", credentials="seoul-en")
    settings = YouTubeSettings(api_base=echoing_google, token_url=echoing_google + "/token")
    findings = await doctor([destination], credentials=CredentialStore(path), youtube=settings)
    (finding,) = [f for f in findings if f.destination == "yt-en"]
    assert finding.level == "error" and "invalid_grant" in finding.message and "is revoked" in finding.message
    assert REFRESH not in finding.message and "****" in finding.message


async def test_rtmp_key_and_srt_passphrase_are_found_and_never_printed(tmp_path: Path) -> None:
    path = secrets_file(
        tmp_path,
        {
            "partner": {"key": KEY, "passphrase": PASSPHRASE},
            "short": {"passphrase": "tiny"},
            "spaced": {"passphrase": "has spaces & ampersands"},
        },
    )
    ok = RtmpDestination(
        kind="rtmp", id="p1", language="en", url="srt://127.0.0.1:9", key="partner", passphrase="partner"
    )
    bad = RtmpDestination(kind="rtmp", id="p2", language="en", url="srt://127.0.0.1:9", passphrase="short")
    missing = RtmpDestination(kind="rtmp", id="p3", language="en", url="srt://127.0.0.1:9", passphrase="nobody")
    spaced = RtmpDestination(kind="rtmp", id="p4", language="en", url="srt://127.0.0.1:9", passphrase="spaced")
    findings = await doctor([ok, bad, missing, spaced], credentials=CredentialStore(path))
    text = "\n".join(map(str, findings))
    assert "p1: credentials: ok: SRT passphrase 'partner' found" in text
    assert "p2: credentials: error: SRT passphrase credentials 'short': passphrase must be 10 to 79 characters" in text
    assert "p4: credentials: error: SRT passphrase credentials 'spaced': passphrase must not contain spaces" in text
    assert "has spaces" not in text
    assert "p3: credentials: error: SRT passphrase credentials 'nobody' lack passphrase" in text
    assert "SUMMIT_CRED_NOBODY_PASSPHRASE" in text
    assert KEY not in text and PASSPHRASE not in text and "tiny" not in text


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.write_bytes(bytes(range(256))), "not UTF-8 text"),
        (lambda p: p.write_bytes(b"\x00\x01\x02secret-value-XYZ\xff"), "not UTF-8 text"),
        (lambda p: p.mkdir(), "is a directory, not a secrets file"),
        (lambda p: p.write_text("seoul-en: {client_secret: 'GOCSPX-leak' [\n"), "not valid YAML"),
        (lambda p: p.write_text("seoul-en: !!python/object/apply:os.system ['id']\n"), "not valid YAML"),
        (lambda p: None, "no such file"),
    ],
    ids=["binary", "binary-with-text", "directory", "malformed", "python-tag", "missing"],
)
async def test_a_secrets_file_it_cannot_use_is_one_clear_finding(tmp_path: Path, make: object, fragment: str) -> None:
    path = tmp_path / "secrets.yaml"
    make(path)  # type: ignore[operator]
    store = CredentialStore(path)
    with pytest.raises(SecretsFileError) as info:
        store.check_file()
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert "GOCSPX-leak" not in str(info.value) and "secret-value-XYZ" not in str(info.value)
    destination = RtmpDestination(kind="rtmp", id="p1", language="en", url="rtmp://127.0.0.1:9/app", key="partner")
    findings = await doctor([destination], credentials=store)
    first = findings[0]
    assert first == Finding("*", "credentials", "error", str(info.value))
    assert any(f.destination == "p1" and "secrets file cannot be used" in f.message for f in findings)


def test_summit_doctor_with_a_binary_secrets_file_exits_1_without_a_traceback(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_bytes(os.urandom(64) + b"\xff\xfe")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "doctor",
            str(DATA / "two-sessions.yaml"),
            "--secrets",
            str(secrets),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert f"*: credentials: error: secrets file {secrets}" in run.stdout and "not UTF-8 text" in run.stdout


async def test_the_rtmp_platform_applies_the_passphrase_when_publishing(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, {"partner": {"key": KEY, "passphrase": PASSPHRASE}})
    d = RtmpDestination(
        kind="rtmp",
        id="p1",
        language="en",
        url="srt://ingest.example.org:9000?latency=200000",
        backup_url="rtmp://backup.example.org/app",
        key="partner",
        passphrase="partner",
    )
    session = Session.model_validate(_session_data())
    prepared = await RtmpPlatform(CredentialStore(path)).prepare("a1", session, d)
    url = prepared.primary.publish_url().get_secret_value()
    assert url == f"srt://ingest.example.org:9000?latency=200000&passphrase={PASSPHRASE}&streamid={KEY}"
    assert prepared.backup is not None and prepared.backup.passphrase is None  # RTMP has no passphrase
    assert prepared.backup.publish_url().get_secret_value() == f"rtmp://backup.example.org/app/{KEY}"
    assert PASSPHRASE not in mask_text(url) and KEY not in mask_text(url)
    assert PASSPHRASE not in repr(prepared)


async def test_a_missing_passphrase_fails_the_prepare_naming_the_variable(tmp_path: Path) -> None:
    d = RtmpDestination(kind="rtmp", id="p1", language="en", url="srt://h:9000", passphrase="partner")
    with pytest.raises(Exception) as info:
        await RtmpPlatform(CredentialStore(secrets_file(tmp_path, {}))).prepare(
            "a1", Session.model_validate(_session_data()), d
        )
    assert "SUMMIT_CRED_PARTNER_PASSPHRASE" in str(info.value)
    assert isinstance(info.value.__cause__, type(None))
    assert not isinstance(info.value, CredentialsMissing)  # wrapped as the destination's failure


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize("caller_passphrase", [PASSPHRASE, None, "wrong-passphrase-42"])
async def test_ffmpeg_publishes_to_an_encrypted_srt_listener_only_with_the_passphrase(
    tmp_path: Path, caller_passphrase: str | None
) -> None:
    """A real SRT listener (ffmpeg, AES with the passphrase) receives the stream published to the
    URL the platform prepared; without the passphrase, or with a wrong one, nothing arrives."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    received = tmp_path / "received.ts"
    listener = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-i", f"srt://127.0.0.1:{port}?mode=listener&passphrase={PASSPHRASE}",
        "-t", "1", "-c", "copy", str(received),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    secrets = {"partner": {"key": KEY, **({"passphrase": caller_passphrase} if caller_passphrase else {})}}
    d = RtmpDestination(
        kind="rtmp",
        id="p1",
        language="en",
        url=f"srt://127.0.0.1:{port}",
        key="partner",
        passphrase="partner" if caller_passphrase else None,
    )
    prepared = await RtmpPlatform(CredentialStore(secrets_file(tmp_path, secrets))).prepare(
        "a1", Session.model_validate(_session_data()), d
    )
    await asyncio.sleep(0.5)  # the listener binds its port
    caller = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "3",
        "-c:v", "mpeg2video", "-f", "mpegts", prepared.primary.publish_url().get_secret_value(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(caller.wait(), 30)
        with contextlib.suppress(TimeoutError):  # a listener that got nothing keeps waiting
            await asyncio.wait_for(listener.wait(), 5)
    finally:
        for p in (caller, listener):
            if p.returncode is None:
                p.kill()
                await p.wait()
    got = received.exists() and received.stat().st_size > 0
    assert got == (caller_passphrase == PASSPHRASE)


def test_an_srt_ingest_without_a_passphrase_is_unchanged() -> None:
    assert IngestTarget("srt://h:9000").publish_url().get_secret_value() == "srt://h:9000"


def _session_data() -> dict[str, object]:
    return {
        "id": "opening",
        "title": "Opening",
        "start": "2026-03-29T10:00:00+02:00",
        "end": "2026-03-29T11:00:00+02:00",
        "floor_language": "en",
        "outputs": ["p1"],
        "rundown": [{"kind": "slate", "duration": "30m"}],
    }
