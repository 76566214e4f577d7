"""Hostile or broken exports get a clear error naming the problem, never a traceback or a hang."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.interchange.formats import MAX_BYTES, InterchangeError, parse
from orchestrator.interchange.source import read_source
from tests.interchange.conftest import EXAMPLE_TEMPLATE, FRAB, pretalx_doc

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<schedule><version>1</version><conference><acronym>lolz</acronym><title>&lol9;</title></conference></schedule>
"""


def _xml_error(data: bytes) -> str:
    with pytest.raises(InterchangeError) as err:
        parse(data, "frab-xml", "hostile.xml")
    return str(err.value)


def test_entity_expansion_is_refused() -> None:
    assert "refused (entity expansion)" in _xml_error(BILLION_LAUGHS)


def test_an_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read-me")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<schedule><conference><acronym>abcd</acronym><title>&x;</title></conference></schedule>"
    ).encode()
    message = _xml_error(data)
    assert "refused" in message and "do-not-read-me" not in message


def test_a_file_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.write(b'{"schedule": {"conference": {"days": [' + b" " * (MAX_BYTES + 10) + b"]}}}")
    with pytest.raises(InterchangeError) as err:
        read_source(str(big))
    assert "larger than the 16 MiB allowed" in str(err.value)
    with pytest.raises(InterchangeError) as err:
        parse(big.read_bytes(), "schedule-json", "big.json")
    assert "more than the 16 MiB allowed" in str(err.value)


def test_deeply_nested_json_is_refused() -> None:
    with pytest.raises(InterchangeError) as err:
        parse(b"[" * 100_000 + b"]" * 100_000, "schedule-json", "deep.json")
    assert "deep.json" in str(err.value)


def test_not_xml_and_not_json() -> None:
    assert "not well-formed XML" in _xml_error(b"<schedule><conference>")
    with pytest.raises(InterchangeError) as err:
        parse(b"{nope", "schedule-json", "x.json")
    assert "not valid JSON" in str(err.value)
    with pytest.raises(InterchangeError) as err:
        parse(b'{"something": "else"}', "schedule-json", "x.json")
    assert "no schedule.conference" in str(err.value)
    assert "not <schedule>" in _xml_error(b"<html><body/></html>")


def test_missing_fields_are_named_per_talk() -> None:
    doc = pretalx_doc()
    talk = doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][0]
    del talk["duration"]
    talk2 = doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][1]
    talk2["date"] = "2020-12-14T09:30:00"  # no offset: the time would be ambiguous
    del doc["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][2]["title"]
    with pytest.raises(InterchangeError) as err:
        parse(json.dumps(doc).encode(), "schedule-json", "x.json")
    message = str(err.value)
    assert "3 problems" in message
    assert "talk 'Focused 5thgeneration hardware' (Gray Room" in message and "has no duration as HH:MM" in message
    assert "talk 'Quality-focused 6thgeneration website'" in message and "no start with a time zone" in message
    assert "a talk without a title" in message and "guid a179c8ac" in message


def test_a_frab_talk_without_guid_or_id(tmp_path: Path) -> None:
    text = FRAB.read_text().replace(' guid="5f0c2a9e-1b7d-4c3e-8f21-6a9d0e4b7a03" id="103"', "")
    assert "talk 'Transport workshop' (Hall B" in _xml_error(text.encode())
    assert "neither a guid nor an id" in _xml_error(text.encode())


def test_the_cli_reports_a_missing_source_and_a_bad_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o.yaml")
    args = ["--format", "frab-xml", "--template", str(EXAMPLE_TEMPLATE), "-o", out]
    assert main(["import", str(tmp_path / "missing.xml"), *args]) == 2
    assert "missing.xml: 1 problem" in capsys.readouterr().err
    # A closed port on loopback: the error names the host, never the query (it may hold a token).
    assert main(["import", "http://127.0.0.1:9/schedule.xml?token=abcdef123", *args]) == 2
    err = capsys.readouterr().err
    assert "http://127.0.0.1:9/schedule.xml" in err and "abcdef123" not in err and "cannot fetch" in err


def test_too_many_talks_are_refused() -> None:
    talk = {"guid": None, "date": "2020-12-14T09:00:00+01:00", "duration": "00:05", "title": "t", "persons": []}
    talks = [dict(talk, id=i + 1, guid=f"00000000-0000-4000-8000-{i:012d}") for i in range(5001)]
    doc = {
        "schedule": {
            "conference": {"acronym": "many", "title": "Many", "days": [{"date": "2020-12-14", "rooms": {"A": talks}}]}
        }
    }
    with pytest.raises(InterchangeError) as err:
        parse(json.dumps(doc).encode(), "schedule-json", "many.json")
    assert "5001 talks, more than the 5000 allowed" in str(err.value)
