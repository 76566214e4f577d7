"""The fault suite's kill drill at 20 random moments: four events of the drill, each with its
`summit run` killed (SIGKILL) at five random moments from the preparation to the second session's
last seconds and started again each time. After every kill the outputs are back on the RTMP server
(programme continuity) and a session that was under way says so in an alert; after every event no
second broadcast, no action done twice, the journal complete, nothing failed.

The moments are drawn afresh each run from a seed printed with any failure (SUMMIT_KILL_SEED=N
replays them)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from orchestrator.standins.nginx import RtmpServer
from tests.faults.killdrill import CDN_KEY, SESSION_B, KillDrill, kill_points

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed"),
]

ROUNDS, PER_ROUND = 4, 5
SEED = int(os.environ.get("SUMMIT_KILL_SEED") or time.time_ns() % 1_000_000)


@pytest.mark.parametrize("round_no", range(ROUNDS))
async def test_killed_at_random_moments(tmp_path: Path, round_no: int) -> None:
    points = kill_points(random.Random(SEED * ROUNDS + round_no), PER_ROUND)
    where = f"SUMMIT_KILL_SEED={SEED}, round {round_no}, kills at {points}"
    async with KillDrill(tmp_path) as drill:
        result = await drill.run(points)
    assert result.exit_code == 0 and result.summary.get("failed") == 0, (where, result.summary)
    assert result.summary["sessions"] == {"a": "ended", "b": "ended"}, (where, result.summary)
    assert result.duplicates == 0, (where, result.duplicate_notes)
    assert result.incomplete == [] and result.interrupted == [], (where, result.incomplete, result.interrupted)
    assert result.failures == [], (where, result.failures)
    for kill in result.kills:
        # back on air after each restart, unless killed in the last seconds of the event
        if kill.at_s < SESSION_B[1] - 3.0:
            assert kill.restart_to_air_s is not None, (where, kill)
    resumed = [a for a in result.alerts if "resumed after a restart" in a]
    on_air_kills = [k for k in result.kills if k.killed_on_air and k.restart_to_air_s is not None]
    assert len(resumed) >= len(on_air_kills), (where, result.alerts)
    assert CDN_KEY not in result.log_text, where
