"""Exponential backoff with jitter for calls that may be retried (429, 5xx, connection errors)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 1.0
    max_s: float = 30.0
    retries: int = 4  # attempts after the first
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        """The waits before each retry: full jitter over an exponentially growing cap."""
        cap = self.initial_s
        for _ in range(self.retries):
            yield random.uniform(cap / 2, cap)
            cap = min(cap * self.factor, self.max_s)


def retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), else `default`."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return default
