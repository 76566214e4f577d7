from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.planning.actions import ActionKind
from orchestrator.planning.cues import AudioKind, VideoKind
from orchestrator.planning.plan import PlanSettings, plan
from orchestrator.schedule.model import Schedule


def test_every_session_and_destination_gets_its_actions_on_time(two_sessions: Schedule) -> None:
    p = plan(two_sessions)
    ids = [a.id for a in p.actions]
    assert len(ids) == len(set(ids)), "ids are unique"
    start = datetime(2020, 6, 3, 1, 0, tzinfo=UTC)
    assert p.action("climate/prepare").at == start - timedelta(minutes=30)
    assert p.action("climate/rec-ko/prepare").at == start - timedelta(minutes=30)
    assert p.action("climate/standby").at == start - timedelta(minutes=10)
    assert p.action("climate/rec-en/go_live").at == start
    assert p.action("climate/rec-en/end").at == start + timedelta(hours=1)
    assert p.action("climate/end").after == ("climate/rec-ko/end", "climate/rec-en/end")
    assert [a.at for a in p.actions] == sorted(a.at for a in p.actions)


def test_plan_is_stable(two_sessions: Schedule) -> None:
    assert [a.to_json() for a in plan(two_sessions).actions] == [a.to_json() for a in plan(two_sessions).actions]


def test_cues_follow_the_rundown_and_close_the_gap(two_sessions: Schedule) -> None:
    prog = plan(two_sessions).cue_sheets["climate"]
    start = datetime(2020, 6, 3, 1, 0, tzinfo=UTC)
    assert [(c.segment_id, c.at - start) for c in prog.cues] == [
        ("01-slate", timedelta(0)),
        ("02-studio", timedelta(minutes=2)),
        ("03-clip", timedelta(minutes=12)),
        ("04-break", timedelta(minutes=32)),  # the clip lasts 20 min
        ("closing", timedelta(minutes=37)),
    ]
    clip = prog.cues[2]
    assert clip.video.kind == VideoKind.CLIP and clip.video.clip_path == "media/test-two/bowles-talk.mp4"
    # Bowles speaks English: English gets the floor, Korean gets the interpreter
    assert clip.audio["en"].kind == AudioKind.FLOOR
    assert clip.audio["ko"].kind == AudioKind.INTERPRETATION and clip.audio["ko"].booth_id == "ko-en"
    mayor = prog.cues[1]
    assert mayor.audio["ko"].kind == AudioKind.FLOOR and mayor.audio["en"].kind == AudioKind.INTERPRETATION
    assert prog.standby.countdown_to == start


def test_remote_speaker_carries_the_backup_clip(two_sessions: Schedule) -> None:
    cue = plan(two_sessions).cue_sheets["dialogue"].cues[1]
    assert cue.video.kind == VideoKind.REMOTE and cue.video.speaker_id == "diamond"
    assert cue.video.backup is not None and cue.video.backup.clip_path == "media/test-two/diamond-backup.mp4"


def test_handover_waits_for_the_previous_session_on_the_same_destination(two_sessions: Schedule) -> None:
    data = two_sessions.model_dump()
    # the dialogue now starts 5 minutes after the climate session ends: its stand-by (T-10) would
    # overlap, so each destination is taken over at the climate session's end instead.
    data["sessions"][1]["start"] = datetime(2020, 6, 3, 2, 5, tzinfo=UTC)
    data["sessions"][1]["end"] = datetime(2020, 6, 3, 3, 5, tzinfo=UTC)
    p = plan(Schedule.model_validate(data))
    take = p.action("dialogue/rec-ko/standby")
    assert take.at == datetime(2020, 6, 3, 2, 0, tzinfo=UTC)
    assert "climate/rec-ko/end" in take.after
    order = [a.id for a in p.actions]
    assert order.index("climate/rec-ko/end") < order.index("dialogue/rec-ko/standby")
    assert p.action("dialogue/standby").at == datetime(2020, 6, 3, 1, 55, tzinfo=UTC)


def test_only_filters_sessions_and_names_unknown_ones(two_sessions: Schedule) -> None:
    p = plan(two_sessions, only={"dialogue"})
    assert {a.session for a in p.actions} == {"dialogue"}
    with pytest.raises(KeyError, match="nope"):
        plan(two_sessions, only={"nope"})


def test_lead_times_are_settings(two_sessions: Schedule) -> None:
    p = plan(two_sessions, PlanSettings(prepare_lead=timedelta(hours=1), standby_lead=timedelta(minutes=5)))
    start = datetime(2020, 6, 3, 1, 0, tzinfo=UTC)
    assert p.action("climate/prepare").at == start - timedelta(hours=1)
    assert p.action("climate/standby").at == start - timedelta(minutes=5)
    assert all(a.kind in ActionKind for a in p.actions)


def test_a_clip_speaks_its_own_language(two_sessions: Schedule) -> None:
    """A Korean-dubbed recording of an English speaker: the Korean programme takes its soundtrack."""
    data = two_sessions.model_dump()
    data["clips"][0]["language"] = "ko"
    cue = plan(Schedule.model_validate(data)).cue_sheets["climate"].cues[2]
    assert cue.spoken_language == "ko"
    assert cue.audio["ko"].kind == AudioKind.FLOOR and cue.audio["en"].kind == AudioKind.INTERPRETATION


def test_a_segment_may_fade_in(two_sessions: Schedule) -> None:
    data = two_sessions.model_dump()
    data["sessions"][0]["rundown"][1].update(transition="fade", fade_ms=800)
    cues = plan(Schedule.model_validate(data)).cue_sheets["climate"].cues
    assert cues[1].fade_s == 0.8 and cues[0].fade_s == 0.0 and cues[2].fade_s == 0.0


def test_a_segment_named_closing_does_not_clash_with_the_closing_card(two_sessions: Schedule) -> None:
    data = two_sessions.model_dump()
    data["sessions"][0]["rundown"][3]["id"] = "closing"  # the break is called "closing"
    prog = plan(Schedule.model_validate(data)).cue_sheets["climate"]
    assert [c.segment_id for c in prog.cues][-2:] == ["closing", "closing-card"]


def test_every_shipped_schedule_plans_with_unique_ids() -> None:
    from orchestrator.schedule.loader import load_schedule
    from tests.conftest import ROOT

    for path in sorted((ROOT / "schedules").glob("*.yaml")):
        ids = [a.id for a in plan(load_schedule(path)).actions]
        assert len(ids) == len(set(ids)), path.name
