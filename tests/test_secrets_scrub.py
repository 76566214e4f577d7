"""Secrets scrubbing as a class: held values, URL userinfo and query secrets, public ids, and the
JSON the dashboard sends (never NaN/Infinity, never a mask over the event's own structure)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from orchestrator.clock import ManualClock
from orchestrator.engine.events import OutputPrepared
from orchestrator.outputs import FileOutputs
from orchestrator.redaction import Secrets, mask_ingest, mask_text
from orchestrator.schedule.model import Schedule
from orchestrator.system import SystemSettings, build_system
from orchestrator.web.commands import CommandRouter
from orchestrator.web.hub import DashboardHub
from tests.web.helpers import KST_0950


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("rtmps://producer:hunter2-pass@ingest.example/app", "hunter2-pass"),
        ("rtmps://producer:hunter2-pass@ingest.example/app", "producer"),
        ("connect https://tok3n-as-user@api.example/v1 failed", "tok3n-as-user"),
        ("srt://relay.example:9000?mode=caller&passphrase=0123456789abcdef&latency=200", "0123456789abcdef"),
        ("srt://relay.example:9000?streamid=publish/live/K3YK3YK3Y", "K3YK3YK3Y"),
        ("GET /x?access_token=EAAGsecret123&fields=id", "EAAGsecret123"),
        ("https://h/cb?sig=abcdef0123&password=pw-123456", "pw-123456"),
        ("Authorization: Bearer ya29.a0AfH6SMBx", "ya29.a0AfH6SMBx"),
        ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl"),
    ],
)
def test_patterns_hide_url_secrets(text: str, secret: str) -> None:
    masked = mask_text(text)
    assert secret not in masked and "****" in masked


def test_patterns_keep_what_is_no_secret() -> None:
    assert mask_text("srt://relay.example:9000?mode=caller&latency=200") == (
        "srt://relay.example:9000?mode=caller&latency=200"
    )
    assert mask_text("https://ingest.example/app") == "https://ingest.example/app"
    assert mask_text("mail me at ops@example.org") == "mail me at ops@example.org"


def test_held_values_are_masked_anywhere_and_public_ids_never() -> None:
    secrets = Secrets(public=["opening-keynote", "youtube-main"])
    secrets.add("youtube-main", "opening-keynote", "FB-998877665544-0-secretpart")
    assert secrets.values() == ["FB-998877665544-0-secretpart"]
    out = secrets.scrub({"action": "opening-keynote/youtube-main/go_live", "msg": "FB-998877665544-0-secretpart x"})
    assert out == {"action": "opening-keynote/youtube-main/go_live", "msg": "****part x"}


def test_scrubbed_data_is_strict_json() -> None:
    out = Secrets().scrub({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": (math.nan,)}})
    assert out == {"a": None, "b": [None, None, 1.5], "c": {"d": [None]}}
    json.dumps(out, allow_nan=False)


async def test_a_destination_whose_stream_name_is_its_id_stays_readable(two_sessions: Schedule, tmp_path: Path) -> None:
    """The RTMP redirect pushes each destination under its id; the system's secrets refuse to
    hold the schedule's ids, so the dashboard shows `climate/rec-ko/go_live`, not `climate/****/…`."""
    settings = SystemSettings(journal_path=tmp_path / "j.sqlite", recordings_dir=tmp_path / "rec")
    clock = ManualClock(KST_0950)
    async with build_system(two_sessions, clock, FileOutputs(), settings) as system:
        system.secrets.add("rec-ko", "climate", "test-two", "a-real-key-0042")
        assert system.secrets.values() == ["a-real-key-0042"]
        hub = DashboardHub(two_sessions, clock, secrets=system.secrets, plan=system.plan, wall=clock.wall)
        system.subscribe(hub)
        system.bus.publish(
            OutputPrepared("climate", "rec-ko", mask_ingest("rtmp://h/app", "rec-ko"), None, {}, None, clock.now())
        )
        text = hub.snapshot_json()
    assert '"climate/rec-ko/prepare"' in text or '"rec-ko"' in text
    assert "/****/" not in text and '"****"' not in text


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "[" * 20_000 + "]" * 20_000,  # under the size limit: refused for its depth
        '{"command": "ping", "args": {"a": ' + "[" * 1000 + "]" * 1000 + "}}",
        '{"command": "ping", "args": ' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}",
        '{"id": NaN, "command": "ping"}',
        '{"id": Infinity, "command": "ping"}',
        '{"id": 1e999, "command": "ping"}',
        '{"id": ' + "9" * 5000 + ', "command": "ping"}',
        '{"id": {"nested": [1]}, "command": "ping"}',
        '{"id": 1, "command": "ping", "args": {"x": NaN}}',
        "x" * 200_000,
        '{"command": "ping"' + " " * 70_000 + "}",
        "\ud800",
        "",
    ],
    ids=lambda t: t[:24],
)
async def test_the_command_edge_never_raises_and_replies_in_strict_json(text: str) -> None:
    router = CommandRouter()
    router.register("ping", lambda: {"pong": True})
    reply = await router.handle_text(text)
    assert reply.ok is False and reply.error
    json.dumps(reply.to_json(), allow_nan=False)  # what goes back over the socket is valid JSON


async def test_the_command_edge_still_serves_good_commands() -> None:
    router = CommandRouter()
    router.register("ping", lambda: {"pong": True})
    reply = await router.handle_text('{"id": "a-1", "command": "ping", "args": {}}')
    assert reply.to_json() == {"type": "reply", "id": "a-1", "ok": True, "result": {"pong": True}}
    reply = await router.handle_text('{"id": 7, "command": "ping", "args": {"depth": [[[[1.5]]]]}}')
    assert reply.id == 7 and reply.ok is False and "unexpected keyword" in (reply.error or "")


def test_the_log_processor_masks_held_values_patterns_and_tracebacks(tmp_path: Path) -> None:
    """Values, not patterns: a held key in any field, in an exception's text and in a standard
    library logger's line; URL userinfo and passphrases by pattern."""
    import logging

    import structlog

    from orchestrator.logconfig import configure_logging

    held = Secrets(["Zq9xHELD-secret-value-77"])  # alive while the lines are written
    out = tmp_path / "log.jsonl"
    with out.open("w", encoding="utf-8") as stream:
        configure_logging("json", "debug", stream=stream)
        try:
            log = structlog.get_logger("test")
            log.info("platform_said", message="refused key Zq9xHELD-secret-value-77 for stream", n=3)
            log.info("url", target="srt://relay:9000?passphrase=abcdefgh12345&latency=1", src="rtmps://u:pw123456@h/a")
            try:
                raise RuntimeError("cannot publish to rtmp://h/app/Zq9xHELD-secret-value-77")
            except RuntimeError:
                log.exception("publish_failed")
            logging.getLogger("aiohttp.client").warning("got %s", "Zq9xHELD-secret-value-77")
        finally:
            configure_logging("console", "warning")
    text = out.read_text(encoding="utf-8")
    assert len(held) == 1 and text.count("\n") >= 4
    for secret in ("Zq9xHELD-secret-value", "abcdefgh12345", "pw123456"):
        assert secret not in text, secret
    assert "Traceback" in text and "publish_failed" in text  # the traceback is kept, masked


def test_a_malformed_http_request_is_one_log_line_without_the_bytes() -> None:
    import logging

    from aiohttp.http_exceptions import LineTooLong

    from orchestrator.logconfig import _REFUSED

    try:
        raise LineTooLong("Authorization: Bearer ya29.secret-token" * 10, "8190")
    except LineTooLong:
        import sys

        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, "x", 1, "Error handling request", (), sys.exc_info()
        )
    assert _REFUSED.filter(record)
    line = record.getMessage()
    assert record.exc_info is None and record.levelno == logging.WARNING
    assert line.startswith("refused a malformed HTTP request (400") and "ya29" not in line


def test_credentials_handed_out_are_masked_in_every_log_line(tmp_path: Path) -> None:
    """A token from the secrets file, once loaded, is held: a platform's message quoting it is
    masked by the log processor though nothing else marked it."""
    import structlog

    from orchestrator.logconfig import configure_logging
    from orchestrator.platforms.credentials import CredentialStore

    store = CredentialStore(values={"fb": {"page_id": "1234", "page_token": "EAAGfile-token-loaded-0042"}})
    assert store.facebook("fb").page_token.get_secret_value() == "EAAGfile-token-loaded-0042"
    out = tmp_path / "log.jsonl"
    with out.open("w", encoding="utf-8") as stream:
        configure_logging("json", "info", stream=stream)
        try:
            structlog.get_logger("test").warning("graph_error", message="token EAAGfile-token-loaded-0042 expired")
        finally:
            configure_logging("console", "warning")
    text = out.read_text(encoding="utf-8")
    assert "graph_error" in text and "EAAGfile-token-loaded" not in text


def test_a_job_cancelled_by_the_stop_is_one_line() -> None:
    import asyncio
    import logging
    import sys

    from orchestrator.logconfig import _CANCELLED

    try:
        raise asyncio.CancelledError
    except asyncio.CancelledError:
        record = logging.LogRecord(
            "apscheduler.executors.default",
            logging.ERROR,
            "x",
            1,
            'Job "%s" raised an exception',
            ("run",),
            sys.exc_info(),
        )
    assert _CANCELLED.filter(record)
    assert record.exc_info is None and "cancelled: the run is stopping" in record.getMessage()
