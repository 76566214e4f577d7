"""summit import: the pretalx example and a frab file become schedules that validate, ids stay put."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.interchange.formats import InterchangeError, parse
from orchestrator.interchange.importer import import_programme
from orchestrator.interchange.template import load_template
from orchestrator.schedule.loader import load_schedule
from orchestrator.schedule.model import RemoteSegment, StudioSegment
from tests.interchange.conftest import EXAMPLE_TEMPLATE, FORUM_TEMPLATE, FRAB, PRETALX, pretalx_doc, write_json


def _import(tmp_path: Path, source: Path, fmt: str, template: Path = EXAMPLE_TEMPLATE, name: str = "out.yaml") -> Path:
    out = tmp_path / name
    assert main(["import", str(source), "--format", fmt, "--template", str(template), "-o", str(out)]) == 0
    return out


def test_the_pretalx_example_imports_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _import(tmp_path, PRETALX, "schedule-json")
    assert "36 sessions in 2 room(s)" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
    assert "ok — democon: 36 sessions over 3 day(s)" in capsys.readouterr().out
    schedule = load_schedule(out)
    assert schedule.event.timezone == "UTC" and schedule.event.name.get("ko") == "데모콘"
    first = schedule.session("8079583e-8321-506c-95af-fd2903a5f075")  # the export's guid is the id
    assert first.title.get("en") == "Focused 5thgeneration hardware" and first.floor_language == "en"
    assert first.start.isoformat() == "2020-12-14T09:00:00+01:00" and first.duration.total_seconds() == 30 * 60
    assert first.venue == "Gray Room" and first.outputs == ["rec-gray-en", "rec-gray-ko"]
    assert first.booths == ["en-ko-gray"]
    # The speaker keeps the export's person id; the template gave them their time zone.
    brian = schedule.speaker("p26")
    assert brian.name == "Brian Robinson" and brian.timezone == "America/Los_Angeles"
    seg = first.rundown[1]
    assert isinstance(seg, RemoteSegment) and seg.speaker == "p26"
    # A person found by name in the template: Curtis Andrews speaks five times, keeps one id.
    curtis = [s for s in schedule.speakers if s.name == "Curtis Andrews"]
    assert len(curtis) == 1 and curtis[0].timezone == "Asia/Seoul" and curtis[0].languages[0] == "ko"


def test_parallel_rooms_become_parallel_sessions_on_their_rooms_destinations(tmp_path: Path) -> None:
    schedule = load_schedule(_import(tmp_path, FRAB, "frab-xml", FORUM_TEMPLATE))
    at_ten = [s for s in schedule.sessions if s.start.hour == 10 and s.start.day == 26]
    assert {s.venue for s in at_ten} == {"Hall A", "Hall B"}
    by_room = {s.venue: s for s in at_ten}
    assert by_room["Hall A"].outputs == ["yt-a-ko", "yt-a-en"] and by_room["Hall A"].booths == ["ko-en-a"]
    assert by_room["Hall B"].outputs == ["yt-b-ko", "yt-b-en"] and by_room["Hall B"].booths == ["ko-en-b"]
    # A Korean talk keeps its Korean title as the floor's; a studio speaker gets a studio segment.
    korean = schedule.session("5f0c2a9e-1b7d-4c3e-8f21-6a9d0e4b7a02")
    assert korean.floor_language == "ko" and korean.title.get("ko") == "스마트 도시 정책"
    kim = schedule.speaker("1c8e6d2a-9f4b-4e3a-b7d1-0a2c5e8f9b11")
    assert isinstance(korean.rundown[1], StudioSegment) and korean.rundown[1].speaker == kim.id
    # The rundown fills the talk: a 30 s slate, then the speakers share the rest.
    total = sum((s.duration.total_seconds() for s in korean.rundown if s.duration), 0.0)
    assert total == korean.duration.total_seconds()


def test_reimporting_an_updated_export_keeps_every_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = load_schedule(_import(tmp_path, PRETALX, "schedule-json"))
    doc = pretalx_doc()
    day = doc["schedule"]["conference"]["days"][0]
    talk = day["rooms"]["Gray Room"][0]
    talk["title"] = "Focused 6thgeneration hardware (updated)"
    talk["persons"][0]["public_name"] = "Brian J. Robinson"
    moved = day["rooms"]["Gray Room"][3]  # 11:30 → 11:00, still free in its room
    moved["date"] = moved["date"].replace("T11:30", "T11:00")
    moved["start"] = "11:00"
    new = copy.deepcopy(day["rooms"]["Gray Room"][-1])
    new.update(guid="3f7d3c1e-0000-4000-8000-000000000001", id=999, title="A late addition")
    new["date"] = new["date"].replace("T15:00", "T16:00")
    new["start"] = "16:00"
    day["rooms"]["Gray Room"].append(new)
    updated = write_json(tmp_path / "updated.json", doc)
    out = tmp_path / "out.yaml"
    assert (
        main(["import", str(updated), "--format", "schedule-json", "--template", str(EXAMPLE_TEMPLATE), "-o", str(out)])
        == 0
    )
    assert "36 sessions kept their ids, 1 new, 0 gone" in capsys.readouterr().out
    second = load_schedule(out)
    assert {s.id for s in first.sessions} | {"3f7d3c1e-0000-4000-8000-000000000001"} == {s.id for s in second.sessions}
    assert {s.id for s in first.speakers} == {s.id for s in second.speakers}
    changed = second.session(talk["guid"])
    assert changed.title.get("en").endswith("(updated)") and second.speaker("p26").name == "Brian J. Robinson"
    assert second.session(moved["guid"]).start.hour == 11 and second.session(moved["guid"]).start.minute == 0


def _problems(doc: dict[str, object], tmp_path: Path, template: Path = EXAMPLE_TEMPLATE) -> str:
    source = write_json(tmp_path / "bad.json", doc)  # type: ignore[arg-type]
    with pytest.raises(InterchangeError) as err:
        import_programme(parse(source.read_bytes(), "schedule-json", str(source)), load_template(template), str(source))
    return str(err.value)


def test_a_talk_longer_than_the_session_limit_is_named(tmp_path: Path) -> None:
    doc = pretalx_doc()
    doc["schedule"]["conference"]["days"][0]["rooms"]["Tan Room"][0]["duration"] = "02:30"
    message = _problems(doc, tmp_path)
    assert "talk 'Managed stable function' (Tan Room, 2020-12-14 09:00, guid 3a74bb53" in message
    assert "runs 2h30m, longer than the event's session limit of 2h" in message


def test_a_person_without_a_name_is_named_with_the_talk(tmp_path: Path) -> None:
    doc = pretalx_doc()
    doc["schedule"]["conference"]["days"][1]["rooms"]["Gray Room"][0]["persons"][0]["public_name"] = " "
    message = _problems(doc, tmp_path)
    assert "talk 'User-centric non-volatile moderator'" in message and "person without a name (person 1)" in message


def test_overlapping_talks_in_one_room_are_both_named(tmp_path: Path) -> None:
    doc = pretalx_doc()
    room = doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"]
    room[1]["date"] = room[1]["date"].replace("T09:30", "T09:15")
    message = _problems(doc, tmp_path)
    assert "talk 'Quality-focused 6thgeneration website'" in message
    assert "starts before talk 'Focused 5thgeneration hardware'" in message and "same room" in message


def test_a_validation_problem_names_the_talk_not_an_index(tmp_path: Path) -> None:
    """A template without a booth: the English talks cannot reach the Korean outputs."""
    template = tmp_path / "no-booth.yaml"
    text = EXAMPLE_TEMPLATE.read_text()
    text = text.replace("  - {id: en-ko-gray", "  # ").replace("  - {id: en-ko-tan", "  # ")
    template.write_text(text.replace("\nbooths:\n", "\nbooths: []\n"))
    message = _problems(pretalx_doc(), tmp_path, template)
    assert "talk 'Focused 5thgeneration hardware' (Gray Room" in message
    assert "no booth on duty interprets en→ko" in message and "sessions[" not in message


def test_the_cli_says_which_talk_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = pretalx_doc()
    doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][0]["duration"] = "03:00"
    source = write_json(tmp_path / "bad.json", doc)
    out = tmp_path / "out.yaml"
    args = ["import", str(source), "--format", "schedule-json", "--template", str(EXAMPLE_TEMPLATE), "-o", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "talk 'Focused 5thgeneration hardware'" in err and "runs 3h, longer than" in err
    assert "starts before talk 'Focused 5thgeneration hardware'" in err and "Traceback" not in err
    assert not out.exists()


def test_a_prerecorded_speaker_without_a_clip_is_named(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(
        EXAMPLE_TEMPLATE.read_text().replace("p26: {timezone", "p26: {appearance: prerecorded, timezone")
    )
    message = _problems(pretalx_doc(), tmp_path, template)
    assert "speaker 'Brian Robinson' (p26) is pre-recorded but the template names no clip" in message


def test_a_broken_template_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("languages: [en]\ndestinations: []\nspeakerz: {}\n")
    out = tmp_path / "o.yaml"
    assert main(["import", str(PRETALX), "--format", "schedule-json", "--template", str(template), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(template) in err and "destinations" in err and "speakerz" in err


def test_an_export_is_fetched_by_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`summit import http://…`: a local HTTP server hands out the frab file."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # the test server's own access log
            pass

    handler = functools.partial(Quiet, directory=str(FRAB.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{FRAB.name}"
        out = tmp_path / "forum.yaml"
        with_token = url + "?token=abc123secret"  # an export link may carry an access token
        assert (
            main(["import", with_token, "--format", "frab-xml", "--template", str(FORUM_TEMPLATE), "-o", str(out)]) == 0
        )
        assert len(load_schedule(out).sessions) == 4
        said = capsys.readouterr()
        assert url in out.read_text() and url in said.out
        assert "abc123secret" not in out.read_text() + said.out + said.err
        missing = url.replace(FRAB.name, "nope.xml")
        assert main(["import", missing, "--format", "frab-xml", "--template", str(FORUM_TEMPLATE), "-o", str(out)]) == 2
        assert "the server answered 404" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()


def test_a_bad_time_zone_in_the_template_names_the_speaker(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(EXAMPLE_TEMPLATE.read_text().replace("America/Los_Angeles", "America/Atlantis"))
    message = _problems(pretalx_doc(), tmp_path, template)
    assert "speaker 'Brian Robinson' (p26) (timezone): 'America/Atlantis' is not a known time zone" in message


def test_titles_that_yaml_would_misread_come_back_as_written(tmp_path: Path) -> None:
    doc = pretalx_doc()
    titles = ["no", "12:30", "null", "- a dash", "# not a comment", "{room} & {language}", "'quoted'", "서울: 도시"]
    talks = doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"]
    for talk, title in zip(talks, titles, strict=False):
        talk["title"] = title
    source = write_json(tmp_path / "odd.json", doc)
    schedule = load_schedule(_import(tmp_path, source, "schedule-json"))
    got = [schedule.session(t["guid"]).title.get("en") for t in talks[: len(titles)]]
    assert got == titles


def test_a_template_destination_made_twice_under_one_id_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(EXAMPLE_TEMPLATE.read_text().replace('{id: "rec-{room}-{language}"', '{id: "rec-{language}"'))
    message = _problems(pretalx_doc(), tmp_path, template)
    assert "template destinations[0]: the id 'rec-en' is made twice (put {room} and {language} in its id" in message
