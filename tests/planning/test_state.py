from datetime import UTC, datetime

import pytest

from orchestrator.planning.state import IllegalTransition, SessionMachine
from orchestrator.planning.state import SessionState as S

NOW = datetime(2020, 6, 2, 13, 0, tzinfo=UTC)


def test_happy_path_records_history() -> None:
    m = SessionMachine("mayors")
    for s in (S.PREPARING, S.STANDBY, S.LIVE, S.ENDED):
        m.move(s, NOW)
    assert m.state == S.ENDED
    assert [s for s, _ in m.history] == [S.PREPARING, S.STANDBY, S.LIVE, S.ENDED]
    assert m.entered(S.LIVE) == NOW


def test_overrun_then_end() -> None:
    m = SessionMachine("mayors", S.LIVE)
    m.move(S.OVERRUN, NOW)
    m.move(S.ENDED, NOW)
    assert m.state == S.ENDED


@pytest.mark.parametrize(
    "start,wanted",
    [(S.SCHEDULED, S.LIVE), (S.ENDED, S.LIVE), (S.LIVE, S.CANCELLED), (S.CANCELLED, S.PREPARING), (S.STANDBY, S.ENDED)],
)
def test_illegal_moves_are_refused_with_a_clear_error(start: S, wanted: S) -> None:
    m = SessionMachine("climate", start)
    with pytest.raises(IllegalTransition) as err:
        m.move(wanted, NOW)
    msg = str(err.value)
    assert "climate" in msg and start.value in msg and wanted.value in msg
    assert m.state == start


def test_repeating_the_current_state_is_not_an_error() -> None:
    m = SessionMachine("x", S.LIVE)
    assert m.move(S.LIVE, NOW) == S.LIVE
    assert m.history == []
