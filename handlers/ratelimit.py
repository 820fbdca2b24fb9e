"""Per-user rate limit: a sliding one-minute window, in memory (cheap, per process)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[int, deque[datetime]] = {}
        self._warned: dict[int, datetime] = {}

    def should_warn(self, user_id: int, now: datetime) -> bool:
        """Tell a flooding person once a minute, not once per message."""
        last = self._warned.get(user_id)
        if last is not None and now - last < timedelta(minutes=1):
            return False
        self._warned[user_id] = now
        return True

    def allow(self, user_id: int, now: datetime) -> bool:
        window = self._hits.setdefault(user_id, deque())
        cutoff = now - timedelta(minutes=1)
        while window and window[0] <= cutoff:
            window.popleft()
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        if len(self._hits) > 10_000:  # forget idle users so memory stays bounded
            for uid in [u for u, w in self._hits.items() if not w]:
                del self._hits[uid]
        return True
