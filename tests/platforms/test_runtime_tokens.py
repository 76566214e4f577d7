"""Tokens an adapter obtains at run time (OAuth access tokens, a rotated refresh token) join the
run's `Secrets` as soon as they are obtained, so they are masked by VALUE everywhere — here tokens
that look like ordinary words, which no pattern of `redaction.mask_text` would ever recognise."""

from __future__ import annotations

from collections.abc import MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from platform_helpers import MemoryJournal, YouTubeWorld, make_session, youtube_destination

from orchestrator.logconfig import configure_logging
from orchestrator.outputs import OutputsContext, Wiring
from orchestrator.platforms.errors import DestinationFailed
from orchestrator.platforms.youtube import YouTubePlatform
from orchestrator.redaction import Secrets, mask_text
from orchestrator.rehearsal import RehearsalOptions, rehearse
from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.standins.nginx import RtmpServer
from orchestrator.standins.outputs import EmulatedOutputs

WORD_TOKEN = "plum-orchard-velvet"  # an access token no pattern takes for one
ECHO = "may not create broadcasts"


async def test_every_token_the_youtube_adapter_obtains_is_held_at_once(
    youtube: YouTubeWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    youtube.emulator.tokens.new_token = lambda: WORD_TOKEN
    youtube.emulator.fail_next(403, "forbidden", method="liveBroadcasts.insert", message=f"{WORD_TOKEN} {ECHO}")
    assert mask_text(f"{WORD_TOKEN} {ECHO}") == f"{WORD_TOKEN} {ECHO}"  # patterns alone cannot help
    secrets = Secrets()
    platform = YouTubePlatform(youtube.credentials, journal, youtube.settings, secrets=secrets)
    try:
        with pytest.raises(DestinationFailed) as err:
            await platform.prepare("s1/yt-en/prepare", make_session(), youtube_destination())
    finally:
        await platform.close()
    held = secrets.values()
    assert WORD_TOKEN in held  # the access token, held before the call that failed
    creds = youtube.credentials.youtube("seoul-en")
    assert {creds.client_secret.get_secret_value(), creds.refresh_token.get_secret_value()} <= set(held)
    message = secrets.redact(str(err.value))
    assert ECHO in message and WORD_TOKEN not in message
    assert all(WORD_TOKEN not in repr(entry) for entry in logs)


class _WordTokenOutputs(EmulatedOutputs):
    """The rehearsal's emulated platforms, whose Google token endpoint hands out a plain-word
    access token and whose first broadcast insert answers with an error quoting it."""

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        wiring = await super().open(ctx, stack)
        assert self.local is not None
        self.local.youtube.tokens.new_token = lambda: WORD_TOKEN
        self.local.youtube.fail_next(403, "forbidden", method="liveBroadcasts.insert", message=f"{WORD_TOKEN} {ECHO}")
        return wiring


SCHEDULE = {
    "event": {"id": "tokens", "name": {"en": "Token drill"}, "timezone": "UTC"},
    "destinations": [{"id": "yt-en", "kind": "youtube", "language": "en", "channel": "Drill", "credentials": "yt"}],
    "sessions": [
        {
            "id": "only",
            "title": {"en": "Only"},
            "start": "2020-06-03T10:00:00+00:00",
            "end": "2020-06-03T10:05:00+00:00",
            "floor_language": "en",
            "outputs": ["yt-en"],
            "rundown": [{"kind": "slate", "text": "Welcome", "duration": "5m"}],
        }
    ],
}


@pytest.mark.slow
@pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed")
async def test_a_word_like_token_never_reaches_a_log_the_journal_or_the_report(tmp_path: Path) -> None:
    schedule = parse_schedule_text(yaml.safe_dump(SCHEDULE), "tokens.yaml")
    run_dir, log_path = tmp_path / "run", tmp_path / "summit.jsonl"
    with log_path.open("w", encoding="utf-8") as log_file:
        configure_logging("json", "debug", stream=log_file)
        try:
            report = await rehearse(
                schedule,
                RehearsalOptions(speed=120, run_dir=run_dir, media_dir=tmp_path / "media", progress=False,
                                 participants="none"),
                outputs=_WordTokenOutputs(run_dir / "ingest"),
            )  # fmt: skip
        finally:
            configure_logging("console", "warning")
    log_text = log_path.read_text(encoding="utf-8")
    journal = b"".join(p.read_bytes() for p in run_dir.glob("journal.sqlite*")).decode("utf-8", errors="replace")
    report_text = Path(report["report_path"]).read_text(encoding="utf-8")
    # The platform's error quoting the token did reach them (masked): the hunt below can fail.
    assert ECHO in log_text and ECHO in journal
    places = {
        "log": log_text,
        "journal": journal,
        "report": report_text,
        "file names": "\n".join(str(p) for p in tmp_path.rglob("*")),
    }
    assert [where for where, text in places.items() if WORD_TOKEN in text] == []
