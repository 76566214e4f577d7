"""A rehearsal with bots: they join by the links the rehearsal wrote (links.json, 0600), the
speaker's card reaches the programme at their cue, the bot that drops mid-segment gives way to the
backup and the programme comes back to it; the report counts joins, drops and time on air."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import av
import numpy as np
import pytest

from orchestrator.rehearsal import RehearsalOptions, rehearse
from orchestrator.schedule.loader import load_schedule
from tests.conftest import DATA

pytestmark = pytest.mark.slow

CARD_RGB = np.array([20, 60, 120])  # the bot's card background (orchestrator.standins.bots.CardTrack)


def _card_shown(path: str, every: int = 15) -> list[bool]:
    """For every `every`th frame of a recording: does it show the bot's card?"""
    out = []
    with av.open(path) as f:
        for i, frame in enumerate(f.decode(video=0)):
            if i % every:
                continue
            a = frame.to_ndarray(format="rgb24")
            h, w, _ = a.shape
            region = a[int(h * 0.05) : int(h * 0.15), int(w * 0.8) : int(w * 0.95)].reshape(-1, 3).mean(0)
            out.append(bool(np.abs(region - CARD_RGB).max() < 25))
    return out


async def test_bots_join_by_link_and_reach_the_programme(tmp_path: Path) -> None:
    schedule = load_schedule(DATA / "two-sessions.yaml")
    run_dir = tmp_path / "run"
    report = await rehearse(
        schedule,
        RehearsalOptions(
            speed=240,
            only={"dialogue"},
            run_dir=run_dir,
            media_dir=tmp_path / "media",
            progress=False,
            outputs="files",
            participants="bots",
        ),
    )
    links = run_dir / "links.json"
    assert stat.S_IMODE(links.stat().st_mode) == 0o600
    rows = json.loads(links.read_text())
    assert {(r["person"], r["role"]) for r in rows} == {
        ("diamond", "speaker"),
        ("kim", "interpreter"),
        ("lee", "interpreter"),
    }
    assert all(r["url"].startswith("http://127.0.0.1:") and "/join/" in r["url"] and r["name"] for r in rows)

    assert report["summary"]["failed"] == 0
    cue = next(a for a in report["actions"] if a["id"] == "dialogue/cue/02-remote")
    assert cue["detail"]["applied"] == "on_frame" and not cue["detail"].get("fallback"), cue
    people = {p["person"]: p for p in report["participants"]}
    assert people["diamond"]["joins"] == 1 and people["diamond"]["drops"] == 1
    assert people["diamond"]["on_air_s"] > 1200  # most of the 40 min segment, less the drop
    assert people["kim"]["joins"] == 1 and people["lee"]["joins"] == 1
    assert people["kim"]["on_air_s"] + people["lee"]["on_air_s"] > 0

    recording = next(o["path"] for o in report["outputs"] if o["destination"] == "rec-en")
    shown = _card_shown(recording)
    assert sum(shown) >= 8, shown  # at least 4 s of the speaker's own picture
    first = shown.index(True)
    gap = shown.index(False, first)  # the drop: the programme shows the backup …
    assert True in shown[gap:], shown  # … and comes back to the speaker by itself


async def test_bot_mayors_reach_the_platforms_through_nginx_rtmp(tmp_path: Path) -> None:
    """The mayors' meeting through the real adapters, the emulators and nginx-rtmp: each remote
    mayor joins as a bot and their picture is in what the platforms received."""
    from orchestrator.standins.nginx import RtmpServer
    from tests.conftest import ROOT

    if not RtmpServer.available():
        pytest.skip("nginx with the rtmp module is not installed")
    schedule = load_schedule(ROOT / "schedules" / "cac-2020.yaml")
    report = await rehearse(
        schedule,
        RehearsalOptions(
            speed=240,
            only={"mayors-meeting"},
            run_dir=tmp_path / "run",
            media_dir=tmp_path / "media",
            progress=False,
            outputs="platforms",
            participants="bots",
        ),
    )
    assert report["outputs_mode"] == "platforms" and report["summary"]["failed"] == 0
    people = {p["person"]: p for p in report["participants"]}
    for mayor in ("mayor-budapest", "mayor-tel-aviv", "mayor-buenos-aires"):
        assert people[mayor]["joins"] >= 1 and people[mayor]["on_air_s"] > 120, people[mayor]
    received = next(o["path"] for o in report["outputs"] if o["destination"] == "yt-en")
    assert sum(_card_shown(received)) >= 6  # 3 s or more of the mayors' own pictures, read back
