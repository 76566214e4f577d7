"""The hub's snapshot at chosen moments of the two-session test event (runner played by hand)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from pydantic import SecretStr

from orchestrator.clock import ManualClock
from orchestrator.engine.events import SessionStateChanged
from orchestrator.planning.state import SessionState
from orchestrator.redaction import Secrets, mask_ingest
from orchestrator.schedule.model import Schedule
from orchestrator.web.hub import DashboardHub
from tests.web.helpers import KEY, KST_0950, MASKED, Stage


@pytest.fixture
def stage(two_sessions: Schedule) -> Iterator[Stage]:
    s = Stage(two_sessions)
    yield s
    s.close()


def live_climate(stage: Stage) -> None:
    """The climate session at 10:20 KST: prepared, on air, first cues run, rec-ko live."""
    stage.at("2020-06-03T09:30:00+09:00")
    stage.move("climate", SessionState.PREPARING)
    stage.finish("climate/prepare")
    stage.prepare("climate", "rec-ko")
    stage.at("2020-06-03T09:50:00+09:00")
    stage.move("climate", SessionState.STANDBY)
    stage.finish("climate/standby")
    stage.finish("climate/rec-ko/standby", error_ms=-4.0)
    stage.at("2020-06-03T10:00:00+09:00")
    stage.move("climate", SessionState.LIVE)
    stage.finish("climate/go_live", error_ms=1.5)
    stage.finish("climate/rec-ko/go_live", error_ms=250.0)
    stage.at("2020-06-03T10:20:00+09:00")


def test_before_anything_runs(two_sessions: Schedule) -> None:
    clock = ManualClock(KST_0950)
    hub = DashboardHub(two_sessions, clock, wall=clock.wall)
    snap = hub.snapshot()
    json.dumps(snap)  # pure data
    assert snap["event"] == {
        "id": "test-two",
        "name": {"en": "Two-session test event", "ko": "두 세션 시험 행사"},
        "timezone": "Asia/Seoul",
    }
    assert snap["now"] == "2020-06-03T09:50:00+09:00"  # the event's time zone, not UTC
    assert snap["zone"] == "KST"
    assert [(s["id"], s["state"], s["start"]) for s in snap["sessions"]] == [
        ("climate", "scheduled", "2020-06-03T10:00:00+09:00"),
        ("dialogue", "scheduled", "2020-06-03T11:30:00+09:00"),
    ]
    assert snap["on_air"] is None and snap["focus_session"] == "climate"
    assert [(d["id"], d["kind"], d["language"], d["status"], d["ingest"]) for d in snap["destinations"]] == [
        ("rec-ko", "file", "ko", "waiting", None),
        ("rec-en", "file", "en", "waiting", None),
    ]
    assert snap["next_action"] is None and snap["progress"] == {"done": 0, "total": 0, "failed": 0}


def test_on_air_next_changeover_and_lateness(stage: Stage) -> None:
    live_climate(stage)
    snap = stage.hub.snapshot()
    assert snap["on_air"] == {
        "id": "climate",
        "title": {"en": "Climate & Environment", "ko": "기후·환경"},
        "state": "live",
        "since": "2020-06-03T10:00:00+09:00",
        "end": "2020-06-03T11:00:00+09:00",
        "ends_in_s": 2400.0,
        "held": False,
    }
    states = {s["id"]: (s["state"], s["on_air"]) for s in snap["sessions"]}
    assert states == {"climate": ("live", "2020-06-03T10:00:00+09:00"), "dialogue": ("scheduled", None)}
    # the next thing to happen, and the next moment the audience sees, with wall-second countdowns
    nxt = snap["next_action"]
    assert nxt["kind"] == "prepare_broadcast" and nxt["at"] == "2020-06-03T09:30:00+09:00"  # rec-en never prepared here
    change = snap["next_changeover"]
    assert (change["id"], change["change"], change["countdown_s"]) == ("climate/end", "off_air", 2400.0)
    assert change["title"]["ko"] == "기후·환경"
    # destinations of the session on air, with what each did last
    dest = {d["id"]: d for d in snap["destinations"]}
    assert dest["rec-ko"]["status"] == "live"
    assert dest["rec-ko"]["last_action"]["error_ms"] == 250.0
    assert dest["rec-ko"]["platform_ids"] == {"broadcast": "bc-climate", "stream": "st-1"}
    assert dest["rec-en"]["status"] == "waiting" and dest["rec-en"]["ingest"] is None
    # newest first, each with its lateness
    recent = [(a["id"], a["error_ms"]) for a in snap["recent_actions"]]
    assert recent[:2] == [("climate/rec-ko/go_live", 250.0), ("climate/go_live", 1.5)]
    assert snap["progress"]["done"] == 6


def test_focus_moves_to_the_next_session_after_the_end(stage: Stage) -> None:
    live_climate(stage)
    stage.at("2020-06-03T11:00:00+09:00")
    stage.move("climate", SessionState.ENDED)
    stage.move("dialogue", SessionState.PREPARING)
    snap = stage.hub.snapshot()
    assert snap["on_air"] is None and snap["focus_session"] == "dialogue"
    climate = next(s for s in snap["sessions"] if s["id"] == "climate")
    assert climate["off_air"] == "2020-06-03T11:00:00+09:00"
    # after the last session the dashboard keeps showing it: how its outputs ended
    stage.move("dialogue", SessionState.ENDED)
    assert stage.hub.snapshot()["focus_session"] == "dialogue"


def test_a_stream_key_never_reaches_the_snapshot(stage: Stage) -> None:
    live_climate(stage)
    # a key may also come back inside what a platform says, in any shape
    stage.bus.alert("error", f"YouTube refused stream key {KEY} for climate", session="climate", destination="rec-ko")
    stage.bus.alert("warning", "retrying rtmp://x.example/live/another-key-998877", session="climate")
    stage.finish("climate/rec-en/prepare", "failed", error=f"403 for {KEY}?token=abc")
    text = stage.hub.snapshot_json()
    assert KEY not in text and "another-key-998877" not in text and "token=abc" not in text
    snap = json.loads(text)
    dest = {d["id"]: d for d in snap["destinations"]}
    assert dest["rec-ko"]["ingest"] == f"rtmp://a.rtmp.youtube.com/live2/{MASKED}"
    assert dest["rec-ko"]["backup_ingest"] == f"rtmp://b.rtmp.youtube.com/live2?backup=1/{MASKED}"
    assert snap["alerts"][1]["message"] == f"YouTube refused stream key {MASKED} for climate"
    assert snap["alerts"][0]["message"] == "retrying rtmp://x.example/live/****8877"
    assert MASKED in dest["rec-en"]["last_action"]["error"]
    # the log got the masked text too (the bus masks before any observer hears)
    assert stage.logged and all(KEY not in a.message for a in stage.logged)


def test_alerts_keep_level_event_time_and_order(stage: Stage) -> None:
    stage.at("2020-06-03T09:55:00+09:00")
    stage.bus.alert("warning", "clip bowles-talk: 2 s shorter than the segment", session="climate")
    stage.at("2020-06-03T09:56:30+09:00")
    stage.bus.alert("ERROR", "rec-en prepare failed", session="climate", destination="rec-en")
    alerts = stage.hub.snapshot()["alerts"]
    assert [(a["level"], a["at"], a["destination"]) for a in alerts] == [
        ("error", "2020-06-03T09:56:30+09:00", "rec-en"),
        ("warning", "2020-06-03T09:55:00+09:00", None),
    ]
    assert [a["seq"] for a in alerts] == [2, 1]
    assert len(stage.logged) == 2


def test_states_reported_without_a_plan(two_sessions: Schedule) -> None:
    """A hub told only of state changes (no plan yet) still shows what it was told."""
    clock = ManualClock(datetime.fromisoformat("2020-06-03T10:05:00+09:00"))
    hub = DashboardHub(two_sessions, clock, wall=clock.wall)
    hub(SessionStateChanged("climate", SessionState.LIVE, clock.now()))
    snap = hub.snapshot()
    assert snap["on_air"]["id"] == "climate" and snap["on_air"]["since"] == "2020-06-03T10:05:00+09:00"


def test_subscribing_twice_delivers_once(stage: Stage) -> None:
    stage.bus.subscribe(stage.hub)  # again: no second delivery
    v0 = stage.hub.version
    stage.bus.alert("warning", "x")
    assert stage.hub.version == v0 + 1


def test_every_change_bumps_the_version(stage: Stage) -> None:
    v0 = stage.hub.version
    stage.bus.alert("warning", "x")
    stage.move("climate", SessionState.PREPARING)
    stage.finish("climate/prepare")
    assert stage.hub.version == v0 + 3


@pytest.mark.parametrize(
    ("url", "key", "shown"),
    [
        ("rtmp://a.rtmp.youtube.com/live2", KEY, f"rtmp://a.rtmp.youtube.com/live2/{MASKED}"),
        (
            "rtmps://live-api-s.facebook.com:443/rtmp/",
            "FB-1234567890?s_bl=1&a=Zq9x",
            "rtmps://live-api-s.facebook.com:443/rtmp/****Zq9x",
        ),
        ("srt://ingest.example:9000?latency=200", KEY, f"srt://ingest.example:9000?latency=200&streamid={MASKED}"),
        ("rtmp://127.0.0.1:1/live", "short", "rtmp://127.0.0.1:1/live/****"),
        ("/tmp/rec/climate/rec-ko.flv", None, "/tmp/rec/climate/rec-ko.flv"),
    ],
)
def test_masked_ingest(url: str, key: str | None, shown: str) -> None:
    assert mask_ingest(url, key) == shown


def test_scrub_replaces_known_keys_anywhere() -> None:
    secrets = Secrets([SecretStr("FB-1234567890?s_bl=1&a=Zq9x"), None])
    # the key, and its stream name as nginx logs it (without the query string)
    assert secrets.values() == ["FB-1234567890?s_bl=1&a=Zq9x", "FB-1234567890"]
    out = secrets.scrub({"a": ["stream FB-1234567890 stalled", 3, None], "b": SecretStr("whatever-long-1")})
    assert out == {"a": ["stream ****7890 stalled", 3, None], "b": "****ng-1"}
