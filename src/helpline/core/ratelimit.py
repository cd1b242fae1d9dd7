"""Per-user request limits (the spec's 60/minute, 1000/hour, 10000/day) on the ``limits`` library,
sharing its storage (Redis when configured) with the login throttle."""

from __future__ import annotations

import time

import structlog
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from helpline.core.config import LimitsSettings
from helpline.core.errors import RateLimited, ServiceUnavailable

log = structlog.get_logger(__name__)


class UserRateLimiter:
    def __init__(self, storage: Storage, settings: LimitsSettings, namespace: str = "chat") -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._namespace = namespace
        self._items: list[tuple[RateLimitItem, str]] = [
            (RateLimitItemPerMinute(settings.rate_per_minute), "minute"),
            (RateLimitItemPerHour(settings.rate_per_hour), "hour"),
            (RateLimitItemPerDay(settings.rate_per_day), "day"),
        ]

    async def hit(self, user_id: int) -> None:
        """Count one request for ``user_id``; 429 with Retry-After when a window is full."""
        key = str(user_id)
        try:
            for item, per in self._items:
                if not await self._limiter.test(item, self._namespace, key):
                    stats = await self._limiter.get_window_stats(item, self._namespace, key)
                    wait = int(stats.reset_time - time.time()) + 1
                    raise RateLimited(
                        f"Rate limit of {item.amount} messages per {per} reached; try again in {wait} seconds.",
                        retry_after=wait,
                    )
            for item, _ in self._items:
                await self._limiter.hit(item, self._namespace, key)
        except RateLimited:
            raise
        except Exception as exc:
            log.error("rate_limit.unavailable", error=str(exc))
            raise ServiceUnavailable("The rate-limit store is unavailable; try again shortly.") from None

    async def clear(self, user_id: int) -> None:
        """Forget the user's windows (their account is erased)."""
        for item, _ in self._items:
            await self._limiter.clear(item, self._namespace, str(user_id))
