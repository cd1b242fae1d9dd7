"""Search is public and an uncached query costs an embedding: a moving-window limit per client
address (anonymous) or per user, on the shared ``limits`` storage (Redis when configured). A
store that is down does not take search down with it: the request goes through and is logged."""

from __future__ import annotations

import time

import structlog
from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from helpline.core.errors import RateLimited

log = structlog.get_logger(__name__)

ANONYMOUS_PER_MINUTE = 60
SIGNED_IN_PER_MINUTE = 240


class SearchThrottle:
    def __init__(
        self, storage: Storage, anonymous: int = ANONYMOUS_PER_MINUTE, signed_in: int = SIGNED_IN_PER_MINUTE
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._anonymous = RateLimitItemPerMinute(anonymous)
        self._signed_in = RateLimitItemPerMinute(signed_in)

    async def hit(self, user_id: int | None, ip: str | None) -> None:
        item, key = (self._signed_in, f"u{user_id}") if user_id is not None else (self._anonymous, f"ip{ip}")
        try:
            if await self._limiter.hit(item, "faq-search", key):
                return
            stats = await self._limiter.get_window_stats(item, "faq-search", key)
        except Exception as exc:
            log.warning("faq_search.throttle_unavailable", error=str(exc)[:200])
            return
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        raise RateLimited(f"Too many searches ({item.amount} a minute); try again in {wait} seconds.", wait)

    async def clear(self, user_id: int) -> None:
        """Forget a user's window (their account is erased)."""
        await self._limiter.clear(self._signed_in, "faq-search", f"u{user_id}")
