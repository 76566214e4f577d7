"""YouTube Data API quota: what each call costs and when the daily budget resets.

The costs are Google's published table for the methods we use (reads 1 unit, writes 50). The
emulator charges them and the adapter counts them, so both agree on when the budget runs out.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_DAILY_QUOTA = 10_000

COSTS: dict[str, int] = {
    "liveBroadcasts.list": 1,
    "liveBroadcasts.insert": 50,
    "liveBroadcasts.update": 50,
    "liveBroadcasts.bind": 50,
    "liveBroadcasts.transition": 50,
    "liveBroadcasts.delete": 50,
    "liveBroadcasts.insertCuepoint": 50,
    "liveStreams.list": 1,
    "liveStreams.insert": 50,
    "liveStreams.update": 50,
    "liveStreams.delete": 50,
    "channels.list": 1,
}

# Google resets the daily quota at midnight Pacific time.
_PACIFIC = ZoneInfo("America/Los_Angeles")


def cost(method: str) -> int:
    """Units charged for `method` ("liveBroadcasts.insert"); unknown methods count as writes."""
    return COSTS.get(method.removeprefix("youtube."), 50)


def quota_day(at: datetime) -> str:
    """The quota day `at` falls in, as YYYY-MM-DD in Pacific time."""
    return at.astimezone(_PACIFIC).date().isoformat()
