"""Schedules that parse but that a producer wants refused or warned about, each reported with the
file, the line and the path: times that disagree with the event's zone, clips outside the media
folder or missing, people in two places at once, values YAML or pydantic would misread, thin
rundowns, credentials pasted where names belong, and URLs that carry secrets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.schedule.loader import Located, ScheduleError, check_file, parse_schedule_text, schedule_warnings
from orchestrator.schedule.model import looks_like_secret

DATA = Path(__file__).resolve().parents[1] / "data"
BASE = (DATA / "two-sessions.yaml").read_text(encoding="utf-8")
FILE = "case.yaml"

# The test event moved to Berlin on the day the clocks go forward (2026-03-29, 02:00 → 03:00 CET→CEST).
BERLIN = (
    BASE.replace("timezone: Asia/Seoul", "timezone: Europe/Berlin")
    .replace("days: [2020-06-03]", "days: [2026-03-29]")
    .replace("2020-06-03T10:00:00+09:00", "2026-03-29T10:00:00+02:00")
    .replace("2020-06-03T11:00:00+09:00", "2026-03-29T11:00:00+02:00")
    .replace("2020-06-03T11:30:00+09:00", "2026-03-29T11:30:00+02:00")
    .replace("2020-06-03T12:30:00+09:00", "2026-03-29T12:30:00+02:00")
)


def edit(old: str, new: str, text: str = BASE, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def errors(text: str, **kw: object) -> list[Located]:
    with pytest.raises(ScheduleError) as info:
        check_file(text, FILE, **kw)  # type: ignore[arg-type]
    return info.value.problems


def one(problems: list[Located], path: str, fragment: str) -> Located:
    hits = [p for p in problems if p.path == path and fragment in p.message]
    assert len(hits) == 1, f"{path!r} / {fragment!r} in:\n" + "\n".join(map(str, problems))
    return hits[0]


def test_the_berlin_base_is_clean() -> None:
    schedule, warnings = check_file(BERLIN, FILE)
    assert warnings == [] and schedule.event.timezone == "Europe/Berlin"


# ---------------------------------------------------------------------------------------------
# Times and the event's time zone


def test_an_offset_from_the_other_season_is_an_error() -> None:
    """A Berlin session on the DST day written +01:00 would go live an hour late without a word."""
    text = edit("2026-03-29T10:00:00+02:00", "2026-03-29T10:00:00+01:00", BERLIN)
    p = one(errors(text), "sessions[0].start", "whose offset on 2026-03-29 is +02:00")
    assert p.line == line_of(text, "T10:00:00+01:00")
    assert "is 11:00 in Europe/Berlin" in p.message and "write 2026-03-29T10:00+02:00" in p.message


def test_a_local_time_that_does_not_exist_is_an_error() -> None:
    text = edit("2026-03-29T10:00:00+02:00", "2026-03-29T02:30:00+01:00", BERLIN)
    p = one(errors(text), "sessions[0].start", "02:30 does not exist in Europe/Berlin on 2026-03-29")
    assert p.line == line_of(text, "T02:30:00+01:00")


def test_utc_times_are_taken_as_meant() -> None:
    text = edit("2026-03-29T10:00:00+02:00", "2026-03-29T08:00:00Z", BERLIN)
    assert check_file(text, FILE)[1] == []


def test_an_offset_the_zone_never_uses_is_a_warning() -> None:
    text = edit("2026-03-29T12:30:00+02:00", "2026-03-29T19:30:00+09:00", BERLIN)
    _, warnings = check_file(text, FILE)
    p = one(warnings, "sessions[1].end", "not Europe/Berlin's at all")
    assert p.line == line_of(text, "T19:30:00+09:00")


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("start: 2026-03-29T10:00:00+02:00", "start: 1774771200", "sessions[0].start"),
        ("start: 2026-03-29T10:00:00+02:00", "start: '1774771200'", "sessions[0].start"),
        ("start: 2026-03-29T10:00:00+02:00", "start: 1774771200.5", "sessions[0].start"),
        ("days: [2026-03-29]", "days: [20260329]", "event.days[0]"),
        ("days: [2026-03-29]", "days: [true]", "event.days[0]"),
    ],
)
def test_a_number_is_not_a_date(old: str, new: str, path: str) -> None:
    text = edit(old, new, BERLIN)
    p = one(errors(text), path, "is a number, not a date")
    assert p.line == line_of(text, new.split(": ", 1)[1])


# ---------------------------------------------------------------------------------------------
# Values misread


@pytest.mark.parametrize("value", ["true", "false", "yes", "on"])
def test_a_boolean_is_not_a_duration(value: str) -> None:
    text = edit("{kind: slate, text: Opening, duration: 2m}", f"{{kind: slate, text: Opening, duration: {value}}}")
    p = one(errors(text), "sessions[0].rundown[0].duration", "is not a duration")
    assert p.line == line_of(text, "text: Opening")


def test_a_boolean_is_not_a_fade_length() -> None:
    text = edit("{kind: slate, text: Opening, duration: 2m}", "{kind: slate, duration: 2m, fade_ms: true}")
    one(errors(text), "sessions[0].rundown[0].fade_ms", "is not a number")


def test_a_thin_rundown_is_a_warning() -> None:
    """A rundown that fills a fifth of its session leaves the rest on the stand-by slate."""
    text = edit("      - {kind: remote, speaker: diamond, duration: 40m}\n", "")
    text = edit(
        "{kind: studio, speaker: mayor, duration: 10m}", "{kind: studio, speaker: mayor, duration: 12m}", text, 2
    )
    schedule, warnings = check_file(text, FILE)
    p = one(warnings, "sessions[1].rundown", "lasts 12m, 20% of the session (1h00m)")
    assert p.line == [i for i, ln in enumerate(text.splitlines(), start=1) if ln == "    rundown:"][1]
    assert [w.path for w in schedule_warnings(schedule)] == [("sessions", 1, "rundown")]


# ---------------------------------------------------------------------------------------------
# People in two places


def _overlapping(text: str = BASE) -> str:
    """The second session moved to overlap the first, on its own destinations (no output clash)."""
    text = edit("    start: 2020-06-03T11:30:00+09:00", "    start: 2020-06-03T10:00:00+09:00", text)
    text = edit("    end: 2020-06-03T12:30:00+09:00", "    end: 2020-06-03T11:00:00+09:00", text)
    text = edit(
        "  - {id: rec-en, kind: file, language: en}\n",
        "  - {id: rec-en, kind: file, language: en}\n  - {id: b-ko, kind: file, language: ko}\n"
        "  - {id: b-en, kind: file, language: en}\n",
        text,
    )
    return edit("    outputs: [rec-ko, rec-en]\n    booths: [ko-en]\n    rundown:\n      - {kind: studio",
                "    outputs: [b-ko, b-en]\n    booths: [ko-en]\n    rundown:\n      - {kind: studio", text)  # fmt: skip


def test_a_studio_speaker_in_two_sessions_at_once() -> None:
    text = _overlapping()
    problems = errors(text)
    # dialogue has the mayor 10:00–10:10, climate wants him from 10:02 (after its 2-minute slate)
    p = one(problems, "sessions[0].rundown[1].speaker", "speaker 'mayor' is needed in session 'climate' from 10:02")
    assert "while still in session 'dialogue' until 10:10 on 2020-06-03" in p.message
    assert p.line == line_of(text, "{kind: studio, speaker: mayor, duration: 10m}")


def test_a_booth_and_its_interpreters_in_two_sessions_at_once() -> None:
    text = _overlapping()
    p = one(errors(text), "sessions[1].booths[0]", "booth 'ko-en' is needed in session 'dialogue' from 10:00")
    assert p.line == [i for i, ln in enumerate(text.splitlines(), start=1) if ln == "    booths: [ko-en]"][1]


def test_an_interpreter_in_two_booths_at_once() -> None:
    text = _overlapping()
    text = edit(
        "  - {id: ko-en, languages: [ko, en], interpreters: [kim, lee]}\n",
        "  - {id: ko-en, languages: [ko, en], interpreters: [kim, lee]}\n"
        "  - {id: ko-en-2, languages: [ko, en], interpreters: [kim]}\n",
        text,
    )
    text = edit(
        "    outputs: [b-ko, b-en]\n    booths: [ko-en]", "    outputs: [b-ko, b-en]\n    booths: [ko-en-2]", text
    )
    problems = errors(text)
    one(problems, "sessions[1].booths[0]", "interpreter 'kim' is needed in session 'dialogue'")
    assert not any("'lee'" in p.message for p in problems)


def test_back_to_back_sessions_share_people_freely() -> None:
    text = edit("    start: 2020-06-03T11:30:00+09:00", "    start: 2020-06-03T11:00:00+09:00")
    text = edit("    end: 2020-06-03T12:30:00+09:00", "    end: 2020-06-03T12:00:00+09:00", text)
    check_file(text, FILE)


# ---------------------------------------------------------------------------------------------
# Clips


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../../etc/passwd", "leads outside the media folder"),
        ("test-two/../../x.mp4", "leads outside the media folder"),
        ("/etc/passwd", "is an absolute path"),
        ("/dev/zero", "is an absolute path"),
        ("C:\\\\clips\\\\x.mp4", "is an absolute path"),
        ("https://example.org/talk.mp4", "is a URL"),
        ("file:///etc/passwd", "is a URL"),
        ("rtmp://host/live/x", "is a URL"),
        ("~/talk.mp4", "home folder"),
    ],
)
def test_clip_paths_outside_the_media_folder_are_errors(path: str, fragment: str) -> None:
    text = edit("path: test-two/bowles-talk.mp4", f'path: "{path}"')
    p = one(errors(text), "clips[0].path", fragment)
    assert p.line == line_of(text, "id: bowles-talk")


def test_clip_files_are_looked_for_in_the_media_folder(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "test-two").mkdir(parents=True)
    (media / "test-two" / "bowles-talk.mp4").write_bytes(b"x")
    _, warnings = check_file(BASE, FILE, media_dir=media)
    p = one(warnings, "clips[1].path", "no file test-two/diamond-backup.mp4 in")
    assert p.line == line_of(BASE, "id: diamond-backup")
    assert not any(w.path == "clips[0].path" for w in warnings)


def test_a_clip_that_is_a_folder_or_links_outside_is_an_error(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "test-two" / "bowles-talk.mp4").mkdir(parents=True)
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"x")
    os.symlink(outside, media / "test-two" / "diamond-backup.mp4")
    problems = errors(BASE, media_dir=media)
    one(problems, "clips[0].path", "is not a regular file")
    one(problems, "clips[1].path", "leads outside")
    os.unlink(media / "test-two" / "diamond-backup.mp4")
    os.symlink("/dev/zero", media / "test-two" / "diamond-backup.mp4")
    one(errors(BASE, media_dir=media), "clips[1].path", "is not a regular file")


# ---------------------------------------------------------------------------------------------
# Credentials are names; URLs carry no secrets

YT_KEY = "abcd-1234-efgh-5678-ijkl"
FB_TOKEN = "EAAGm0PX4ZCpsBAKZCZBf0dZBn3CuF3ZAxx9aZBRq"
REFRESH = "1//0gLxq3-9wKzAbCdEfGhIjKlMnOpQrStUvWxYz"


@pytest.mark.parametrize("secret", [YT_KEY, FB_TOKEN, REFRESH, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "a1b2c3d4e5f6g7h8"])
def test_a_pasted_token_as_a_credential_name_is_refused_without_echoing_it(secret: str) -> None:
    text = edit("  - {id: rec-en, kind: file, language: en}\n",
                f"  - {{id: rec-en, kind: file, language: en}}\n"
                f"  - {{id: yt, kind: youtube, language: en, channel: c, credentials: '{secret}'}}\n")  # fmt: skip
    problems = errors(text)
    p = one(problems, "destinations[2].credentials", "looks like a pasted token or key")
    assert p.line == line_of(text, "kind: youtube")
    assert all(secret not in str(q) for q in problems)


@pytest.mark.parametrize(
    "name", ["seoul-ko", "arirang.tv", "wcs_2023_en", "fb-page-2", "CAC2020", "seoul-youtube-ko-1"]
)
def test_ordinary_names_are_names(name: str) -> None:
    assert not looks_like_secret(name)


def _rtmp(fields: str) -> str:
    return edit("  - {id: rec-en, kind: file, language: en}\n",
                f"  - {{id: rec-en, kind: file, language: en}}\n  - {{id: partner, kind: rtmp, language: en, {fields}}}\n")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "path", "fragment"),
    [
        ("url: 'rtmps://user:hunter2pass@live.example.org/app'", "url", "user name or password"),
        ("url: 'srt://ingest.example.org:9000?passphrase=correcthorse99'", "url", "`passphrase`"),
        ("url: 'srt://ingest.example.org:9000?streamid=Zq8Kx2mP9vL4nR7t'", "url", "in `key`"),
        ("url: 'rtmp://a.rtmp.youtube.com/live2/abcd-1234-efgh-5678-ijkl'", "url", "looks like a stream key"),
        ("url: 'rtmp://live.example.org/app?key=s3cr3tValue'", "url", "'key' parameter"),
        ("url: rtmp://ok.example.org/app, backup_url: 'rtmp://u:p@b.example.org/app'", "backup_url", "password"),
        ("url: rtmp://ok.example.org/app, passphrase: srt-pass", "", "encrypts SRT only"),
        ("url: srt://ok.example.org:9000, key: 'Zq8Kx2mP9vL4nR7tYw'", "key", "pasted token"),
        ("url: 'rtmp:///app'", "url", "with a host"),
    ],
)
def test_urls_carrying_secrets_are_refused_naming_the_field(fields: str, path: str, fragment: str) -> None:
    text = _rtmp(fields)
    problems = errors(text)
    where = "destinations[2]" + (f".{path}" if path else "")
    p = one(problems, where, fragment)
    assert p.line == line_of(text, "kind: rtmp")
    for secret in ("hunter2pass", "correcthorse99", "Zq8Kx2mP9vL4nR7t", "abcd-1234-efgh-5678-ijkl", "s3cr3tValue"):
        assert all(secret not in str(q) for q in problems)


def test_the_studio_feed_carries_no_secret_either() -> None:
    text = edit("  max_session: 90m\n", "  max_session: 90m\n  studio_feed: 'rtmp://mixer:pw@10.0.0.5/live'\n")
    one(errors(text), "event.studio_feed", "user name or password")


def test_an_srt_destination_with_key_and_passphrase_names_loads() -> None:
    schedule = parse_schedule_text(
        _rtmp("url: 'srt://ingest.example.org:9000?latency=200000', key: partner, passphrase: partner-srt"), FILE
    )
    d = schedule.destination("partner")
    assert d.kind == "rtmp" and d.passphrase == "partner-srt"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# `summit validate`: warnings printed, exit 0 only without errors


def test_validate_prints_located_warnings_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(BASE)
    assert main(["validate", str(path), "--media-dir", str(tmp_path / "media")]) == 0
    captured = capsys.readouterr()
    warnings = [ln for ln in captured.err.splitlines() if ": warning: " in ln]
    assert len(warnings) == 2 and "2 warning(s)" in captured.out
    assert re.match(rf"{re.escape(str(path))}:\d+: warning: clips\[0\]\.path: clip 'bowles-talk': no file", warnings[0])


def test_validate_exits_2_on_an_error_listing_it_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    text = edit("2026-03-29T10:00:00+02:00", "2026-03-29T10:00:00+01:00", BERLIN)
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(path)])
    assert exit_.value.code == 2
    assert f"{path}:{line_of(text, 'T10:00:00+01:00')}: sessions[0].start:" in capsys.readouterr().err
