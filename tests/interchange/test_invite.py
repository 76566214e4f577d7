"""summit invite: each person's calendar and message carry their local times (across a DST change)
and their own join link; the secret is required, never shown."""

from __future__ import annotations

import csv
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from orchestrator.cli import main
from orchestrator.links import LinkSigner
from orchestrator.linksecret import LinkSecretError, load_link_secret
from tests.interchange.conftest import HERE

DST = HERE / "invite-dst.yaml"
BASE = "https://join.example.org/summit"


def _invite(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "invites"
    assert main(["invite", str(DST), "--base-url", BASE, "-o", str(out), *extra]) == 0
    return out


def _events(path: Path) -> dict[str, tuple[datetime, datetime]]:
    cal = Calendar.from_ical(path.read_bytes())
    return {str(e["SUMMARY"]): (e.decoded("DTSTART"), e.decoded("DTEND")) for e in cal.walk("VEVENT")}


def test_everyone_on_air_gets_a_calendar_and_a_message(
    tmp_path: Path, secret_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _invite(tmp_path)
    names = sorted(p.name for p in out.iterdir())
    people = ["host", "interpreter-kim", "la", "moscow"]
    assert names == sorted(["people.csv", *(f"{p}.{ext}" for p in people for ext in ("ics", "txt", "html"))])
    rows = list(csv.DictReader((out / "people.csv").open()))
    la = next(r for r in rows if r["id"] == "la")
    assert la["time_zone"] == "America/Los_Angeles" and la["first_needed_local"] == "2021-03-12T16:15-08:00"
    assert la["join_link"] == "yes" and la["sessions"] == "before after" and la["files"] == "la.*"
    assert next(r for r in rows if r["id"] == "kim")["files"] == "interpreter-kim.*"
    assert "/join/" not in (out / "people.csv").read_text()
    said = capsys.readouterr()
    assert "invitations for 4 people (2 with a personal join link)" in said.out
    assert "/join/" not in said.out + said.err and secret_env not in said.out + said.err
    # Personal links: owner-only files, in a folder only the owner opens.
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())


def test_local_times_across_time_zones_and_a_dst_change(tmp_path: Path, secret_env: str) -> None:
    out = _invite(tmp_path)
    la = _events(out / "la.ics")
    before = la["Before the change"][0]
    after = la["After the change"][0]
    # 10:00 in Seoul: 17:00 PST on Friday, then 18:00 PDT on Sunday, after the clocks moved.
    assert str(before.tzinfo) == "America/Los_Angeles" and str(after.tzinfo) == "America/Los_Angeles"
    assert (before.isoformat(), after.isoformat()) == ("2021-03-12T17:00:00-08:00", "2021-03-14T18:00:00-07:00")
    check = la["Technical check / 기술 점검: After the change"]
    assert check[0].isoformat() == "2021-03-14T17:15:00-07:00" and check[1].isoformat() == "2021-03-14T17:30:00-07:00"
    ics = (out / "la.ics").read_text()
    assert "DTSTART;TZID=America/Los_Angeles:20210312T170000" in ics and "BEGIN:VTIMEZONE" in ics
    text = (out / "la.txt").read_text()
    assert "Fri 12 March 2021 17:00–18:00 (PST)" in text and "Sun 14 March 2021 18:00–19:00 (PDT)" in text
    assert "2021년 3월 12일 (금) 17:00–18:00 (PST)" in text and "2021년 3월 14일 (일) 18:00–19:00 (PDT)" in text
    assert "you are on air 17:10–17:30" in text and "출연 시간 18:05–18:25" in text
    # Moscow keeps UTC+3: 04:00; the pre-recorded mayor has no check, only their slot.
    moscow = _events(out / "moscow.ics")
    assert list(moscow) == ["Before the change"]
    assert moscow["Before the change"][0].isoformat() == "2021-03-13T04:00:00+03:00"
    assert "recording will be played" in (out / "moscow.txt").read_text()
    # No timezone of their own: the event's.
    host = _events(out / "host.ics")
    assert host["Before the change"][0].isoformat() == "2021-03-13T10:00:00+09:00"
    assert "come to the studio at Seoul City Hall" in (out / "host.txt").read_text()


def test_each_person_gets_their_own_valid_link(tmp_path: Path, secret_env: str) -> None:
    out = _invite(tmp_path, "--check-lead", "1h", "--check-length", "20m")
    signer = LinkSigner(secret_env, "dst-forum")
    for person, role in (("la", "speaker"), ("interpreter-kim", "interpreter")):
        cal = Calendar.from_ical((out / f"{person}.ics").read_bytes())
        urls = {str(e["URL"]) for e in cal.walk("VEVENT")}
        assert len(urls) == 1
        url = urls.pop()
        assert url.startswith(BASE + "/join/")
        claims = signer.verify(url.rsplit("/", 1)[1], datetime(2021, 3, 15, tzinfo=UTC))
        assert claims.person == person.removeprefix("interpreter-") and claims.role == role
        assert url in (out / f"{person}.txt").read_text()
        assert f'href="{url}"' in (out / f"{person}.html").read_text()
    kim = _events(out / "interpreter-kim.ics")
    assert kim["Technical check / 기술 점검: Before the change"][0].isoformat() == "2021-03-13T09:00:00+09:00"
    assert kim["Technical check / 기술 점검: Before the change"][1].isoformat() == "2021-03-13T09:20:00+09:00"
    # Nobody's file holds another person's link, and the studio speaker has none.
    assert "/join/" not in (out / "host.txt").read_text() and "/join/" not in (out / "host.ics").read_text()


def test_the_message_is_in_korean_and_english_and_escaped(tmp_path: Path, secret_env: str) -> None:
    out = _invite(tmp_path)
    page = (out / "host.html").read_text()
    assert '<section lang="ko">' in page and '<section lang="en">' in page
    assert "Park &lt;Host&gt; &amp; Co 님께" in page and "<Host>" not in page
    text = (out / "host.txt").read_text()
    assert text.index("님께") < text.index("Dear Park <Host> & Co")
    assert "서머타임 포럼에 참여해 주셔서 감사합니다" in text and "변경 전" in text


def test_no_secret_is_a_clear_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SUMMIT_LINK_SECRET", raising=False)
    out = tmp_path / "invites"
    assert main(["invite", str(DST), "--base-url", BASE, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no join-link secret: give --link-secret-file PATH or set SUMMIT_LINK_SECRET" in err
    assert not out.exists()


def test_the_secret_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SUMMIT_LINK_SECRET", raising=False)
    plain = tmp_path / "link.secret"
    plain.write_text("a-secret-of-enough-length-42\n")
    assert load_link_secret(plain).get_secret_value() == "a-secret-of-enough-length-42"
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("credentials: {}\nlink_secret: another-secret-long-enough\n")
    assert load_link_secret(secrets).get_secret_value() == "another-secret-long-enough"
    _invite(tmp_path, "--link-secret-file", str(secrets))
    short = tmp_path / "short.secret"
    short.write_text("tiny-secret")
    assert (
        main(["invite", str(DST), "--base-url", BASE, "-o", str(tmp_path / "x"), "--link-secret-file", str(short)]) == 2
    )
    err = capsys.readouterr().err
    assert "shorter than 16 bytes" in err and "tiny-secret" not in err
    with pytest.raises(LinkSecretError, match="does not exist"):
        load_link_secret(tmp_path / "missing")
    nokey = tmp_path / "nokey.yaml"
    nokey.write_text("credentials: {}\n")
    with pytest.raises(LinkSecretError, match="no 'link_secret' key"):
        load_link_secret(nokey)


def test_a_bad_base_url(tmp_path: Path, secret_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", str(DST), "--base-url", "join.example.org", "-o", str(tmp_path / "x")]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err


def test_the_message_says_whose_time_zone_it_is(tmp_path: Path, secret_env: str) -> None:
    out = _invite(tmp_path)
    la = (out / "la.txt").read_text()
    assert "All times below are in your time zone, America/Los_Angeles." in la
    assert "계신 곳의 시간(America/Los_Angeles) 기준입니다" in la
    kim = (out / "interpreter-kim.txt").read_text()  # no zone of their own: the event's, said as such
    assert "All times below are Asia/Seoul time." in kim and "모두 Asia/Seoul 기준입니다" in kim
