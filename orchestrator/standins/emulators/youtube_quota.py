"""The YouTube Data API's quota, as Google publishes it: the emulator's own copy of the facts.

Kept apart from the adapter's ledger (`orchestrator.platforms.youtube_quota`) on purpose: the
emulator charges what Google charges, the adapter counts what it believes it is charged, and a test
compares the two (tests/platforms/test_standins_youtube_quota.py), so a wrong cost on either side
is seen instead of being wrong on both.

Source: "YouTube Data API (v3) - Quota Calculator" (developers.google.com/youtube/v3/
determine_quota_cost) and the method reference pages of the Live Streaming API:
- projects get 10,000 units a day by default; the daily quota resets at midnight Pacific Time;
- every request, an invalid one included, costs at least 1 unit;
- live streaming methods are Data API methods and cost like them: a list is 1 unit; an insert,
  update, bind, transition, cuepoint or delete is 50; channels.list is 1.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_DAILY_QUOTA = 10_000
MINIMUM_COST = 1  # "All API requests, including invalid requests, incur a quota cost of at least one point."

# Discovery method names (without the "youtube." prefix) → units per call.
COSTS: dict[str, int] = {
    "channels.list": 1,
    "channels.update": 50,
    "liveBroadcasts.list": 1,
    "liveBroadcasts.insert": 50,
    "liveBroadcasts.update": 50,
    "liveBroadcasts.bind": 50,
    "liveBroadcasts.transition": 50,
    "liveBroadcasts.insertCuepoint": 50,
    "liveBroadcasts.delete": 50,
    "liveStreams.list": 1,
    "liveStreams.insert": 50,
    "liveStreams.update": 50,
    "liveStreams.delete": 50,
}

PACIFIC = ZoneInfo("America/Los_Angeles")


def cost(method: str) -> int:
    """Units Google charges for one call of `method` ("liveBroadcasts.insert" or
    "youtube.liveBroadcasts.insert"); a method not in the table costs the minimum."""
    return COSTS.get(method.removeprefix("youtube."), MINIMUM_COST)


def quota_day(at: datetime) -> str:
    """The quota day `at` falls in (YYYY-MM-DD in Pacific time): the budget is per such day."""
    return at.astimezone(PACIFIC).date().isoformat()
