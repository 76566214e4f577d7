"""The three event files in schedules/: they load, and they say what the sources say."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from orchestrator.schedule.checks import segment_duration
from orchestrator.schedule.loader import load_schedule, schedule_warnings
from orchestrator.schedule.model import (
    Appearance,
    ClipSegment,
    FacebookDestination,
    FileDestination,
    RemoteSegment,
    RtmpDestination,
    Schedule,
    StudioSegment,
    YouTubeDestination,
)

SCHEDULES = Path(__file__).resolve().parents[2] / "schedules"
FILES = ["cac-2020.yaml", "wego-2021.yaml", "wcs-mayors-forum-2023.yaml"]


@pytest.fixture(scope="module")
def cac() -> Schedule:
    return load_schedule(SCHEDULES / "cac-2020.yaml")


@pytest.fixture(scope="module")
def wego() -> Schedule:
    return load_schedule(SCHEDULES / "wego-2021.yaml")


@pytest.fixture(scope="module")
def wcs() -> Schedule:
    return load_schedule(SCHEDULES / "wcs-mayors-forum-2023.yaml")


def local(s: Schedule, dt):
    return dt.astimezone(s.event.tz)


# ---------------------------------------------------------------------------------------------
# All three


@pytest.mark.parametrize("name", FILES)
def test_loads_without_errors_or_warnings(name: str) -> None:
    s = load_schedule(SCHEDULES / name)
    assert schedule_warnings(s) == []
    assert s.event.timezone == "Asia/Seoul"


@pytest.mark.parametrize("name", FILES)
def test_every_time_but_the_known_ones_is_marked_illustrative(name: str) -> None:
    text = (SCHEDULES / name).read_text(encoding="utf-8")
    times = [line for line in text.splitlines() if re.match(r"^\s+(start|end): \d{4}-", line)]
    assert times
    for line in times:
        assert "# illustrative time" in line or "# known time" in line, line


@pytest.mark.parametrize("name", FILES)
def test_titles_in_korean_and_english_and_every_session_interpreted(name: str) -> None:
    s = load_schedule(SCHEDULES / name)
    for session in s.sessions:
        assert {"en", "ko"} <= set(session.title.languages), session.id
        assert re.search(r"[\uac00-\ud7a3]", session.title.get("ko")), session.id  # Hangul
        assert session.booths == ["ko-en"]
    booth = s.booth("ko-en")
    assert booth.rehearsal_feed.kind == "tone"
    assert {i.name for i in s.interpreters} == {"Interpreter A", "Interpreter B"}


@pytest.mark.parametrize("name", FILES)
def test_credentials_are_names_not_secrets(name: str) -> None:
    s = load_schedule(SCHEDULES / name)
    for d in s.destinations:
        if isinstance(d, (YouTubeDestination, FacebookDestination)):
            assert re.fullmatch(r"[a-z0-9-]+", d.credentials)
        if isinstance(d, RtmpDestination):
            assert d.key is None or re.fullmatch(r"[a-z0-9-]+", d.key)
            assert "?" not in d.url and d.url.count("/") <= 3


@pytest.mark.parametrize("name", FILES)
def test_clips_live_under_the_event_folder_and_belong_to_someone(name: str) -> None:
    s = load_schedule(SCHEDULES / name)
    folder = {"cac-2020.yaml": "cac-2020/", "wego-2021.yaml": "wego-2021/", "wcs-mayors-forum-2023.yaml": "wcs-2023/"}[
        name
    ]
    used = {seg.clip for x in s.sessions for seg in x.rundown if isinstance(seg, ClipSegment)}
    used |= {sp.clip for sp in s.speakers if sp.clip} | {sp.backup_clip for sp in s.speakers if sp.backup_clip}
    for clip in s.clips:
        assert clip.path.startswith(folder) and clip.path.endswith(".mp4"), clip.path
        assert timedelta(minutes=5) <= clip.duration <= timedelta(minutes=15), clip.id
        assert clip.language in ("ko", "en")
        assert clip.id in used, f"clip {clip.id} is never played"
    assert len({c.path for c in s.clips}) == len(s.clips)


@pytest.mark.parametrize("name", FILES)
def test_prerecorded_speakers_play_their_clip_and_live_ones_have_a_backup(name: str) -> None:
    s = load_schedule(SCHEDULES / name)
    for sp in s.speakers:
        if sp.appearance == Appearance.PRERECORDED:
            assert sp.clip is not None
        if sp.appearance == Appearance.LIVE:
            assert sp.backup_clip is not None
    for session in s.sessions:
        for seg in session.rundown:
            if isinstance(seg, RemoteSegment):
                assert s.speaker(seg.speaker).appearance == Appearance.LIVE
            if isinstance(seg, StudioSegment):
                for sid in [seg.speaker, *seg.speakers]:
                    if sid:
                        assert s.speaker(sid).appearance == Appearance.STUDIO, (session.id, sid)
            if isinstance(seg, ClipSegment) and seg.speaker:
                sp = s.speaker(seg.speaker)
                assert sp.appearance == Appearance.STUDIO or sp.clip == seg.clip, (session.id, seg.clip)


@pytest.mark.parametrize("name", FILES)
def test_no_invented_names_for_unknown_interpreters(name: str) -> None:
    text = (SCHEDULES / name).read_text(encoding="utf-8")
    assert "Fictional placeholders" in text


# ---------------------------------------------------------------------------------------------
# CAC Global Summit 2020


def test_cac_event(cac: Schedule) -> None:
    assert cac.event.id == "cac-2020"
    assert cac.event.days == [date(2020, 6, d) for d in range(1, 6)]
    assert cac.event.max_session == timedelta(minutes=90)
    assert "CAC" in cac.event.name.get("en") and "서밋" in cac.event.name.get("ko")


def test_cac_fifteen_sessions_by_day(cac: Schedule) -> None:
    by_day: dict[int, list[str]] = {}
    for s in sorted(cac.sessions, key=lambda s: s.start):
        by_day.setdefault(local(cac, s.start).day, []).append(s.title.get("en"))
    assert len(cac.sessions) == 15
    assert by_day == {
        1: ["Pre-Summit Day"],
        2: ["World Mayors' Meeting"],
        3: ["Climate & Environment", "Quarantine", "Education", "City Sharing", "Citizen Participation"],
        4: ["Eminent-Scholar Dialogue", "Culture & Arts", "Welfare", "Public Transport"],
        5: ["Smart City", "Innovative Companies IR", "Sports", "Closing Dialogue"],
    }
    ko = {s.id: s.title.get("ko") for s in cac.sessions}
    assert ko["mayors-meeting"] == "도시정부 시장회의"
    assert ko["scholar-dialogue"] == "저명인사 석학대담"
    assert ko["closing-dialogue"] == "종합대담"
    assert ko["innovative-companies-ir"] == "혁신기업 IR"


def test_cac_mayors_meeting_at_22_kst(cac: Schedule) -> None:
    m = cac.session("mayors-meeting")
    assert local(cac, m.start).date() == date(2020, 6, 2)
    assert local(cac, m.start).time() == time(22, 0)
    assert m.start.utcoffset() == timedelta(hours=9)


def test_cac_sessions_fit_90_minutes_and_their_rundown_fits_them(cac: Schedule) -> None:
    for s in cac.sessions:
        assert s.duration <= timedelta(minutes=90), s.id
        total = sum((segment_duration(cac, seg) for seg in s.rundown), timedelta(0))
        assert timedelta(minutes=45) <= total <= s.duration, s.id
        kinds = {seg.kind for seg in s.rundown}
        assert "slate" in kinds and kinds & {"studio", "remote", "clip"}, s.id
    assert cac.session("scholar-dialogue").duration == timedelta(minutes=90)  # "1시간30분 동안"


def test_cac_at_least_30_minutes_between_sessions_on_a_destination(cac: Schedule) -> None:
    for d in cac.destinations:
        sessions = sorted((s for s in cac.sessions if d.id in s.outputs), key=lambda s: s.start)
        for a, b in pairwise(sessions):
            assert b.start - a.end >= timedelta(minutes=30), (d.id, a.id, b.id)


def test_cac_destinations(cac: Schedule) -> None:
    yt_ko, yt_en, fb, arirang = (cac.destination(i) for i in ("yt-ko", "yt-en", "fb-en", "arirang"))
    assert isinstance(yt_ko, YouTubeDestination) and (yt_ko.language, yt_ko.channel, yt_ko.credentials) == (
        "ko",
        "seoul-ko",
        "yt-seoul-ko",
    )
    assert isinstance(yt_en, YouTubeDestination) and (yt_en.language, yt_en.channel, yt_en.credentials) == (
        "en",
        "seoul-en",
        "yt-seoul-en",
    )
    assert isinstance(fb, FacebookDestination) and (fb.language, fb.page, fb.credentials) == (
        "en",
        "seoul-en-page",
        "fb-seoul",
    )
    assert isinstance(arirang, RtmpDestination)
    assert (arirang.language, arirang.url, arirang.key) == ("en", "rtmp://ingest.arirang.invalid/live", "arirang-key")
    for s in cac.sessions:
        assert {"yt-ko", "yt-en", "arirang"} <= set(s.outputs), s.id
    on_facebook = {s.id for s in cac.sessions if "fb-en" in s.outputs}
    assert on_facebook == {"mayors-meeting", "climate-environment", "scholar-dialogue", "closing-dialogue"}


def test_cac_speakers_from_the_sources(cac: Schedule) -> None:
    names = {sp.name for sp in cac.speakers}
    for name in (
        "Park Won-soon",
        "Samuel Bowles",
        "Jared Diamond",
        "Choe Jae-chun",
        "Na Baek-ju",
        "Ilya Belyakov",
        "Susan",
        "Ankod",
    ):
        assert name in names
    cities = {sp.city for sp in cac.speakers}
    for city in (
        "Moscow",
        "Jakarta",
        "Istanbul",
        "Budapest",
        "Tehran",
        "Tel Aviv",
        "Buenos Aires",
        "Vancouver",
        "Chongqing",
        "Delhi",
        "Los Angeles",
    ):
        assert city in cities
    park = cac.speaker("park")
    assert park.name_local == "박원순" and park.appearance == Appearance.STUDIO
    diamond = cac.speaker("diamond")
    assert diamond.appearance == Appearance.LIVE and diamond.backup_clip == "diamond-backup"
    assert cac.speaker("bowles").appearance == Appearance.PRERECORDED
    assert {sp.country for sp in cac.speakers if sp.id in ("ilya", "susan", "ankod")} == {
        "Russia",
        "Nepal",
        "United Kingdom",
    }
    # unknown people appear by role: no first-name/last-name pairs for the city heads
    for sp in cac.speakers:
        if sp.id.startswith(("mayor-", "rep-")):
            assert re.match(r"^(Mayor|Governor|Head of Government|Representative) of ", sp.name), sp.name


def test_cac_scholar_dialogue_is_park_in_the_hall_and_diamond_live(cac: Schedule) -> None:
    s = cac.session("scholar-dialogue")
    speakers = {getattr(seg, "speaker", None) for seg in s.rundown}
    assert {"park", "diamond"} <= speakers
    assert any(isinstance(seg, RemoteSegment) and seg.speaker == "diamond" for seg in s.rundown)
    assert cac.clip("diamond-backup").duration >= max(
        seg.duration
        for seg in s.rundown
        if isinstance(seg, RemoteSegment) and seg.title and "Jared Diamond:" in seg.title
    )


def test_cac_climate_session(cac: Schedule) -> None:
    s = cac.session("climate-environment")
    used = {seg.speaker for seg in s.rundown if getattr(seg, "speaker", None)} | {
        sp for seg in s.rundown if isinstance(seg, StudioSegment) for sp in seg.speakers
    }
    assert {"park", "choe", "bowles"} <= used
    assert "기후 변화가 촉발한 코로나" in s.description.get("ko")


# ---------------------------------------------------------------------------------------------
# WeGO 5th General Assembly 2021


def test_wego_hybrid_at_ddp_from_15_00(wego: Schedule) -> None:
    assert wego.event.hybrid is True
    assert "DDP" in wego.event.venue
    first = min(wego.sessions, key=lambda s: s.start)
    assert local(wego, first.start).date() == date(2021, 10, 18)
    assert local(wego, first.start).time() == time(15, 0)
    kinds = {seg.kind for s in wego.sessions for seg in s.rundown}
    assert {"studio", "remote", "clip"} <= kinds


def test_wego_running_order(wego: Schedule) -> None:
    opening = wego.session("opening")
    speakers = [getattr(seg, "speaker", None) for seg in opening.rundown if seg.kind != "slate"]
    assert speakers[1:5] == ["oh", "bangkok", "sao-paulo", "un-habitat"]
    address = next(seg for seg in opening.rundown if getattr(seg, "speaker", None) == "oh")
    assert isinstance(address, ClipSegment) and wego.speaker("oh").appearance == Appearance.PRERECORDED
    assert wego.speaker("oh").name == "Oh Se-hoon"
    assert wego.speaker("bangkok").name == "Deputy Governor of Bangkok"
    assert wego.speaker("sao-paulo").name == "Mayor of São Paulo"
    assert wego.speaker("un-habitat").name == "Executive Director of UN-Habitat"
    ordered = [s.id for s in sorted(wego.sessions, key=lambda s: s.start)]
    assert ordered == ["opening", "plenary", "awards"]
    plenary_titles = " ".join(seg.title or "" for seg in wego.session("plenary").rundown)
    assert "strategic plan" in plenary_titles and "Election" in plenary_titles and "host city" in plenary_titles


def test_wego_outputs(wego: Schedule) -> None:
    live_seoul, wego_yt = wego.destination("live-seoul"), wego.destination("wego-youtube")
    assert isinstance(live_seoul, YouTubeDestination) and live_seoul.language == "ko"
    assert isinstance(wego_yt, YouTubeDestination) and wego_yt.language == "en"
    files = [d for d in wego.destinations if isinstance(d, FileDestination)]
    assert sorted(d.language for d in files) == ["en", "ko"]
    for s in wego.sessions:
        assert set(s.outputs) == {d.id for d in wego.destinations}


# ---------------------------------------------------------------------------------------------
# World Cities Summit Mayors Forum 2023


def test_wcs_days_and_outputs(wcs: Schedule) -> None:
    assert wcs.event.days == [date(2023, 9, 24), date(2023, 9, 25), date(2023, 9, 26)]
    assert "DDP" in wcs.event.venue
    kinds = {(d.kind, d.language) for d in wcs.destinations}
    assert kinds == {("youtube", "ko"), ("youtube", "en"), ("file", "ko"), ("file", "en")}


def test_wcs_keynote_twelve_cities_and_the_prize_on_25_sept(wcs: Schedule) -> None:
    keynote = wcs.session("opening-keynote")
    assert any(getattr(seg, "speaker", None) == "oh" for seg in keynote.rundown)
    assert wcs.speaker("oh").name == "Oh Se-hoon"
    cases = [
        seg
        for s in wcs.sessions
        if s.id.startswith("city-cases")
        for seg in s.rundown
        if seg.kind in ("studio", "clip") and getattr(seg, "speaker", None)
    ]
    cities = {wcs.speaker(seg.speaker).city for seg in cases}
    assert len(cities) == 12
    assert {"Wellington", "Dublin", "Suzhou", "Taipei"} <= cities
    assert wcs.speaker("whanau").name == "Tory Whanau" and wcs.speaker("chiang").name == "Chiang Wan-an"
    prize = wcs.session("smart-city-prize")
    assert local(wcs, prize.start).date() == date(2023, 9, 25)
    assert "스마트도시상" in prize.title.get("ko")
