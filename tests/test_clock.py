from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.clock import CompressedClock, ManualClock, SystemClock, Window, merge_windows

T0 = datetime(2020, 6, 3, 1, 0, tzinfo=UTC)


def test_system_clock_is_identity() -> None:
    clock = SystemClock(wall=lambda: 1000.0)
    assert clock.now() == datetime.fromtimestamp(1000.0, UTC)
    assert clock.to_wall(clock.to_event(1234.5)) == pytest.approx(1234.5)


def test_merge_windows_joins_overlapping_and_touching() -> None:
    a = Window(T0, T0 + timedelta(hours=1))
    b = Window(T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    c = Window(T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    d = Window(T0 + timedelta(hours=5), T0 + timedelta(hours=6))
    assert merge_windows([d, c, b, a]) == [Window(T0, T0 + timedelta(hours=3)), d]


def test_compressed_clock_runs_windows_fast_and_shrinks_gaps() -> None:
    windows = [Window(T0, T0 + timedelta(hours=1)), Window(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2))]
    clock = CompressedClock(windows, speed=60, wall_start=100.0, gap_s=3.0, wall=lambda: 0.0)
    assert clock.to_wall(T0) == pytest.approx(100.0)
    assert clock.to_wall(T0 + timedelta(minutes=30)) == pytest.approx(130.0)
    assert clock.to_wall(T0 + timedelta(hours=1)) == pytest.approx(160.0)
    # a whole idle day lasts the gap
    assert clock.to_wall(T0 + timedelta(days=1)) == pytest.approx(163.0)
    assert clock.to_wall(T0 + timedelta(days=1, hours=2)) == pytest.approx(283.0)
    assert clock.wall_end == pytest.approx(283.0)
    # inverse mapping
    for t in (T0, T0 + timedelta(minutes=7), T0 + timedelta(days=1, minutes=90)):
        assert clock.to_event(clock.to_wall(t)) == t
    assert clock.rate_at(T0 + timedelta(minutes=5)) == pytest.approx(60)
    assert clock.rate_at(T0 + timedelta(hours=12)) > 10_000


def test_compressed_clock_now_reads_the_injected_wall() -> None:
    wall = [100.0]
    clock = CompressedClock([Window(T0, T0 + timedelta(hours=1))], speed=120, wall_start=100.0, wall=lambda: wall[0])
    assert clock.now() == T0
    wall[0] = 110.0
    assert clock.now() == T0 + timedelta(minutes=20)


def test_compressed_clock_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        CompressedClock([], speed=10, wall_start=0)
    with pytest.raises(ValueError):
        CompressedClock([Window(T0, T0)], speed=0, wall_start=0)
    with pytest.raises(ValueError):
        SystemClock().to_wall(datetime(2020, 1, 1))


def test_manual_clock_advances() -> None:
    clock = ManualClock(T0)
    clock.advance(timedelta(minutes=2))
    assert clock.now() == T0 + timedelta(minutes=2)
