"""A rehearsal of two sessions end to end: real media, real adapters, recordings read back with PyAV."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from orchestrator.rehearsal import RehearsalOptions, rehearse
from orchestrator.schedule.loader import load_schedule
from tests.conftest import DATA, ROOT

pytestmark = pytest.mark.slow

REPORT_ACTION_KEYS = {"id", "kind", "session", "scheduled", "executed", "error_ms"}
FPS = 30


def _frames_written(report: dict, session: str, destination: str) -> int:
    """Frames the programme wrote to one output, as its end_broadcast action journalled them."""
    (end,) = (
        a
        for a in report["actions"]
        if a["kind"] == "end_broadcast" and a["session"] == session and a["destination"] == destination
    )
    assert end["outcome"] == "ok" and not end["detail"]["errors"], end
    return end["detail"]["frames"]


def _check_report(report: dict, sessions: set[str], outputs: int) -> None:
    assert report["summary"]["failed"] == 0 and report["summary"]["not_run"] == 0
    assert all(set(a) >= REPORT_ACTION_KEYS for a in report["actions"])
    # every action ran and its lateness was measured (how late: scripts/bench/rehearsal.py)
    assert all(a["executed"] is not None and a["error_ms"] is not None for a in report["actions"])
    assert all(a["detail"]["applied"] == "on_frame" for a in report["actions"] if a["kind"] == "cue")
    assert {s["id"] for s in report["sessions"]} == sessions
    assert all(s["on_air"] and s["off_air"] and s["state"] == "ended" for s in report["sessions"])
    assert len(report["outputs"]) == outputs
    for o in report["outputs"]:
        assert {"destination", "session", "path", "duration_s", "video_codec", "audio_codec"} <= set(o)
        assert o["video_codec"] == "h264" and o["audio_codec"] == "aac", o
        # the recording holds every frame the programme wrote to that output, and only those
        # (whether it lasts its session at the rehearsal speed: scripts/bench/rehearsal.py)
        frames = _frames_written(report, o["session"], o["destination"])
        assert frames > 0 and o["duration_s"] == pytest.approx(frames / FPS, abs=3 / FPS), (o, frames)
        with av.open(o["path"]) as f:
            assert f.streams.video[0].codec_context.width == 640
            assert f.streams.audio[0].codec_context.sample_rate == 48000


async def test_two_sessions_recorded_to_files(tmp_path: Path) -> None:
    schedule = load_schedule(DATA / "two-sessions.yaml")
    report = await rehearse(
        schedule,
        RehearsalOptions(
            speed=600,
            run_dir=tmp_path / "run",
            media_dir=tmp_path / "media",
            progress=False,
            outputs="files",
            participants="none",  # nobody joins: the remote segment falls back (bots: tests/participants)
        ),
    )
    _check_report(report, {"climate", "dialogue"}, outputs=4)
    saved = json.loads(Path(report["report_path"]).read_text())
    assert saved["summary"] == report["summary"]
    cue = next(a for a in report["actions"] if a["id"] == "climate/cue/03-clip")
    assert cue["detail"]["applied"] == "on_frame"
    fallback = next(a for a in report["actions"] if a["id"] == "dialogue/cue/02-remote")
    assert "backup" in fallback["detail"].get("fallback", "") or "clip" in fallback["detail"].get("fallback", "")


async def test_a_cac_session_through_the_platform_emulators(tmp_path: Path) -> None:
    """The mayors' meeting: two YouTube channels, Facebook and the satellite partner, each through
    its real adapter against the local emulators, media pushed to nginx-rtmp and read back."""
    schedule = load_schedule(ROOT / "schedules" / "cac-2020.yaml")
    report = await rehearse(
        schedule,
        RehearsalOptions(
            speed=600,
            only={"mayors-meeting"},
            run_dir=tmp_path / "run",
            media_dir=tmp_path / "media",
            progress=False,
            outputs="platforms",
        ),
    )
    assert report["outputs_mode"] == "platforms"
    _check_report(report, {"mayors-meeting"}, outputs=4)
    assert {o["destination"] for o in report["outputs"]} == {"yt-ko", "yt-en", "fb-en", "arirang"}
    text = Path(report["report_path"]).read_text()
    # no stream key in the report: recordings are renamed after session and destination
    assert all(Path(o["path"]).name == f"{o['destination']}.flv" for o in report["outputs"])
    assert "FB-" not in text


async def test_rehearsal_pushes_to_a_users_rtmp_server(tmp_path: Path) -> None:
    """`--rtmp URL`: every destination is pushed to URL/<destination id> on a server the user runs."""
    from orchestrator.standins.nginx import RtmpServer

    schedule = load_schedule(DATA / "two-sessions.yaml")
    async with RtmpServer(record_dir=tmp_path / "server") as server:
        report = await rehearse(
            schedule,
            RehearsalOptions(
                speed=600,
                only={"climate"},
                run_dir=tmp_path / "run",
                media_dir=tmp_path / "media",
                progress=False,
                rtmp_url=server.url,
            ),
        )
        recorded = server.recordings_of()
    assert report["outputs_mode"] == "rtmp" and report["summary"]["failed"] == 0
    assert {o["path"] for o in report["outputs"]} == {f"{server.url}/rec-ko", f"{server.url}/rec-en"}
    assert recorded is not None
    for dest in ("rec-ko", "rec-en"):
        files = list(recorded.glob(f"{dest}-*.flv"))
        assert files, f"nothing arrived for {dest}"
        with av.open(str(max(files, key=lambda f: f.stat().st_size))) as f:
            assert f.streams.video[0].codec_context.name == "h264" and f.streams.audio[0].codec_context.name == "aac"


def _push_studio(url: str, seconds: float, stop) -> None:  # type: ignore[no-untyped-def]
    """The studio mixer: a blue picture with a 500 Hz tone, pushed in real time."""
    import time as _time

    import numpy as np

    with av.open(url, "w", format="flv", options={"flvflags": "no_duration_filesize"}) as out:
        v = out.add_stream("libx264", rate=25, options={"tune": "zerolatency", "preset": "ultrafast", "g": "50"})
        v.width, v.height, v.pix_fmt = 320, 180, "yuv420p"
        a = out.add_stream("aac", rate=48000, layout="stereo")
        blue = np.zeros((180, 320, 3), np.uint8)
        blue[..., 2] = 220
        t0 = _time.time()
        n = 0
        while n < seconds * 25 and not stop.is_set():
            frame = av.VideoFrame.from_ndarray(blue, format="rgb24")
            frame.pts = n
            out.mux(v.encode(frame))
            t = (np.arange(1920) + n * 1920) / 48000
            sound = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([sound, sound]), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, n * 1920
            out.mux(a.encode(af))
            n += 1
            _time.sleep(max(0.0, t0 + n / 25 - _time.time()))


async def test_a_hybrid_event_shows_the_studio_feed(tmp_path: Path) -> None:
    """The studio mixer pushes to an RTMP server; studio segments show that feed, not a card."""
    import asyncio
    import threading

    from orchestrator.schedule.model import Schedule
    from orchestrator.standins.nginx import RtmpServer

    async with RtmpServer() as server:
        stop = threading.Event()
        pusher = asyncio.ensure_future(asyncio.to_thread(_push_studio, f"{server.url}/studio", 60, stop))
        try:
            await server.wait_for_publisher("studio", timeout=15)
            data = load_schedule(DATA / "two-sessions.yaml").model_dump()
            data["event"]["studio_feed"] = f"{server.url}/studio"
            report = await rehearse(
                Schedule.model_validate(data),
                # At 200x the preparation (T-30 min) comes 9 s before the cue: time enough to open
                # the RTMP feed (3-6 s of probing), as the half hour is live.
                RehearsalOptions(
                    speed=200,
                    only={"climate"},
                    run_dir=tmp_path / "run",
                    media_dir=tmp_path / "media",
                    progress=False,
                    outputs="files",
                ),
            )
        finally:
            stop.set()
            await pusher
    studio = next(a for a in report["actions"] if a["id"] == "climate/cue/02-studio")
    assert studio["outcome"] == "ok" and "fallback" not in studio.get("detail", {}), studio
    rec = next(o["path"] for o in report["outputs"] if o["destination"] == "rec-ko")
    applied_frame = studio["detail"]["frame_index"]
    with av.open(rec) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    picture = frames[applied_frame + 15].reshape(-1, 3).mean(axis=0)
    assert picture[2] > 150 and picture[0] < 60, picture  # the studio's blue is on air


async def test_back_to_back_sessions_on_one_stream_key_get_their_own_recordings(tmp_path: Path) -> None:
    """WeGO's sessions follow each other on persistent YouTube streams (one key per channel): each
    session's read-back recording is its own, as long as that session's programme."""
    schedule = load_schedule(ROOT / "schedules" / "wego-2021.yaml")
    report = await rehearse(
        schedule,
        RehearsalOptions(
            speed=600,
            only={"opening", "plenary"},
            run_dir=tmp_path / "run",
            media_dir=tmp_path / "media",
            progress=False,
            outputs="platforms",
        ),
    )
    assert report["summary"]["failed"] == 0
    assert {o["session"] for o in report["outputs"]} == {"opening", "plenary"}
    by_session: dict[str, set[str]] = {}
    for o in report["outputs"]:
        assert o["duration_s"] is not None, o
        by_session.setdefault(o["session"], set()).add(o["path"])
        # Every frame that session's programme wrote to that output, and none of the other
        # session's: a recording running on across the shared key would hold both sessions' frames.
        frames = _frames_written(report, o["session"], o["destination"])
        assert o["duration_s"] == pytest.approx(frames / FPS, abs=3 / FPS), (o, frames)
    assert not by_session["opening"] & by_session["plenary"]  # and each has files of its own
