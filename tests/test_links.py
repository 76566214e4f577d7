"""Personal join links: signed, scoped to one person and event, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.links import JOIN_PATH, LinkError, LinkSigner, links_for, people
from orchestrator.schedule.loader import load_schedule

ROOT = Path(__file__).resolve().parent.parent
SECRET = "0123456789abcdef-test-secret"
NOW = datetime(2020, 6, 1, 0, 0, tzinfo=UTC)


def test_a_link_admits_its_person_until_it_expires() -> None:
    signer = LinkSigner(SECRET, "cac2020")
    link = signer.issue("ana", "speaker", NOW + timedelta(days=1))
    claims = signer.verify(link.token, NOW)
    assert (claims.person, claims.role, claims.event) == ("ana", "speaker", "cac2020")
    assert link.url("https://summit.example/").startswith("https://summit.example" + JOIN_PATH)
    with pytest.raises(LinkError) as exc:
        signer.verify(link.token, NOW + timedelta(days=1))
    assert exc.value.reason == "expired"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
        (lambda t: "x" + t, "bad_signature"),
        (lambda t: t.replace(".", ""), "malformed"),
        (lambda t: "", "malformed"),
        (lambda t: "é.é", "malformed"),
        (lambda t: "a" * 5000, "malformed"),
    ],
)
def test_a_tampered_token_is_refused_without_quoting_it(mangle, reason) -> None:  # type: ignore[no-untyped-def]
    signer = LinkSigner(SECRET, "cac2020")
    token = mangle(signer.issue("ana", "speaker", NOW + timedelta(days=1)).token)
    with pytest.raises(LinkError) as exc:
        signer.verify(token, NOW)
    assert exc.value.reason == reason
    assert token[:12] not in str(exc.value) or not token


def test_another_events_secret_or_id_does_not_admit() -> None:
    token = LinkSigner(SECRET, "cac2020").issue("ana", "speaker", NOW + timedelta(days=1)).token
    with pytest.raises(LinkError) as exc:
        LinkSigner("another-secret-of-16-bytes", "cac2020").verify(token, NOW)
    assert exc.value.reason == "bad_signature"
    with pytest.raises(LinkError) as exc:
        LinkSigner(SECRET, "forum").verify(token, NOW)
    assert exc.value.reason == "wrong_event"


def test_revoking_raises_the_generation_and_old_links_fail() -> None:
    signer = LinkSigner(SECRET, "cac2020")
    old = signer.issue("ana", "speaker", NOW + timedelta(days=1), generation=0)
    new = signer.issue("ana", "speaker", NOW + timedelta(days=1), generation=1)
    generations = {"ana": 1}
    with pytest.raises(LinkError) as exc:
        signer.verify(old.token, NOW, generation_of=lambda p: generations.get(p, 0))
    assert exc.value.reason == "revoked"
    assert signer.verify(new.token, NOW, generation_of=lambda p: generations.get(p, 0)).generation == 1


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        LinkSigner("short", "cac2020")


def test_everyone_live_gets_a_link_expiring_after_their_last_session() -> None:
    schedule = load_schedule(ROOT / "schedules" / "cac-2020.yaml")
    signer = LinkSigner(SECRET, schedule.event.id)
    issued = links_for(schedule, signer, margin=timedelta(hours=12))
    roles = {p.role for p, _ in issued}
    assert roles == {"speaker", "interpreter"}
    ids = [p.id for p, _ in issued]
    assert len(ids) == len(set(ids))
    for person, link in issued:
        assert link.claims.expires == person.last_end.astimezone(UTC) + timedelta(hours=12)
        assert signer.verify(link.token, person.last_end).person == person.id
    remote = {seg.speaker for s in schedule.sessions for seg in s.rundown if seg.kind == "remote"}
    assert {p.id for p in people(schedule) if p.role == "speaker"} == remote
