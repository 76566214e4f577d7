"""summit export: the frab XML and the schedule JSON validate against the C3VOC XSD and JSON schema;
export → import → export gives the same document again."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from icalendar import Calendar

from orchestrator.cli import main
from orchestrator.interchange.export import export, to_schedule_json
from orchestrator.interchange.formats import parse
from orchestrator.interchange.importer import import_programme
from orchestrator.interchange.template import load_template
from orchestrator.schedule.loader import load_schedule
from orchestrator.schedule.model import Schedule
from tests.conftest import ROOT
from tests.interchange.conftest import EXAMPLE_TEMPLATE, FORUM_TEMPLATE, FRAB, HERE, JSON_SCHEMA, PRETALX, XSD

SCHEDULES = sorted((ROOT / "schedules").glob("*.yaml"))


@pytest.fixture(scope="module")
def xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


@pytest.fixture(scope="module")
def json_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(JSON_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]


def _imported(source: Path, fmt: str, template: Path) -> Schedule:
    programme = parse(source.read_bytes(), fmt, str(source))  # type: ignore[arg-type]
    return import_programme(programme, load_template(template), str(source))[1]


def _all_schedules() -> list[Schedule]:
    return [
        *(load_schedule(p) for p in SCHEDULES),
        _imported(PRETALX, "schedule-json", EXAMPLE_TEMPLATE),
        _imported(FRAB, "frab-xml", FORUM_TEMPLATE),
    ]


def test_the_contract_files_are_the_shared_ones() -> None:
    """Our copies of the formats' schemas are the shared contracts, when those are beside the project."""
    shared = ROOT.parent / "shared" / "contracts" / "schedule-formats"
    if not shared.is_dir():
        pytest.skip("no shared/ beside the project")
    for name in ("schedule.xml.xsd", "schema.json", "pretalx-democon.json"):
        assert (HERE / name).read_bytes() == (shared / name).read_bytes(), name


def test_the_pretalx_example_itself_validates(json_validator: jsonschema.protocols.Validator) -> None:
    """The schema is strict enough to matter: the real export passes, a broken one does not."""
    doc = json.loads(PRETALX.read_text())
    json_validator.validate(doc)
    del doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][0]["guid"]
    assert not json_validator.is_valid(doc)


def test_frab_xml_exports_validate_against_the_xsd(xsd: xmlschema.XMLSchema) -> None:
    for schedule in _all_schedules():
        data = export(schedule, "frab-xml")
        errors = list(xsd.iter_errors(data.decode("utf-8")))
        assert not errors, f"{schedule.event.id}: {errors[0]}"


def test_schedule_json_exports_validate_against_the_schema(json_validator: jsonschema.protocols.Validator) -> None:
    for schedule in _all_schedules():
        doc = json.loads(export(schedule, "schedule-json"))
        errors = sorted(json_validator.iter_errors(doc), key=str)
        assert not errors, f"{schedule.event.id}: {errors[0].json_path}: {errors[0].message}"


def test_the_xsd_catches_a_broken_export(xsd: xmlschema.XMLSchema) -> None:
    data = export(load_schedule(SCHEDULES[0]), "frab-xml").decode("utf-8")
    assert not xsd.is_valid(data.replace("<duration>", "<duration>1 hour", 1))


def test_the_ics_export_holds_every_session_in_the_event_zone() -> None:
    schedule = load_schedule(ROOT / "schedules" / "cac-2020.yaml")
    cal = Calendar.from_ical(export(schedule, "ics"))
    events = list(cal.walk("VEVENT"))
    assert len(events) == len(schedule.sessions)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Seoul"]
    mayors = next(e for e in events if "시장회의" in str(e["SUMMARY"]))
    start = mayors.decoded("DTSTART")
    assert start.isoformat() == "2020-06-02T22:00:00+09:00" and str(start.tzinfo) == "Asia/Seoul"
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_the_pretalx_example_keeps_its_guids_and_person_ids() -> None:
    doc = to_schedule_json(_imported(PRETALX, "schedule-json", EXAMPLE_TEMPLATE))
    original = json.loads(PRETALX.read_text())
    ours = {
        e["guid"]: (datetime.fromisoformat(e["date"]), e["duration"], e["title"], [p["id"] for p in e["persons"]])
        for d in doc["schedule"]["conference"]["days"]
        for evs in d["rooms"].values()
        for e in evs
    }
    theirs = {
        e["guid"]: (datetime.fromisoformat(e["date"]), e["duration"], e["title"], [p["id"] for p in e["persons"]])
        for d in original["schedule"]["conference"]["days"]
        for evs in d["rooms"].values()
        for e in evs
    }
    # Same talks, same persons; the times are the same instants, written in the event's zone (UTC).
    assert set(ours) == set(theirs)
    assert ours == theirs


@pytest.mark.parametrize("fmt", ["schedule-json", "frab-xml"])
@pytest.mark.parametrize("start", [ROOT / "schedules" / "cac-2020.yaml", PRETALX], ids=["cac-2020", "pretalx"])
def test_export_import_export_is_stable(tmp_path: Path, fmt: str, start: Path) -> None:
    template = EXAMPLE_TEMPLATE if start == PRETALX else tmp_path / "template.yaml"
    if start != PRETALX:
        schedule = load_schedule(start)
        langs = sorted({d.language for d in schedule.destinations})
        template.write_text(
            f"languages: {langs}\nlanguage: en\n"
            "destinations: [{id: 'rec-{room}-{language}', kind: file, language: '{language}'}]\n"
            "interpreters: [{id: i1, name: Interpreter, languages: [ko, en]}]\n"
            "booths: [{id: 'ko-en-{room}', languages: [ko, en], interpreters: [i1]}]\n"
            "session: {opening: {text: '{title}', duration: 30s}}\n"
        )
    first_yaml = tmp_path / "first.yaml"
    if start == PRETALX:
        assert (
            main(
                ["import", str(start), "--format", "schedule-json", "--template", str(template), "-o", str(first_yaml)]
            )
            == 0
        )
    else:
        first_yaml = start
    ext = "xml" if fmt == "frab-xml" else "json"
    export1 = tmp_path / f"one.{ext}"
    export2 = tmp_path / f"two.{ext}"
    assert main(["export", str(first_yaml), "--format", fmt, "-o", str(export1)]) == 0
    reimported = tmp_path / "again.yaml"
    assert main(["import", str(export1), "--format", fmt, "--template", str(template), "-o", str(reimported)]) == 0
    assert main(["export", str(reimported), "--format", fmt, "-o", str(export2)]) == 0
    assert export1.read_bytes() == export2.read_bytes()
    # A native schedule gets its own session ids back (the slug carries them, the guid vouches for them).
    if start != PRETALX:
        assert {s.id for s in load_schedule(reimported).sessions} == {s.id for s in load_schedule(start).sessions}


def test_export_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["export", str(ROOT / "schedules" / "wego-2021.yaml"), "--format", "ics"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"BEGIN:VCALENDAR") and b"stream" not in out.lower()
