"""Failed-login throttling per account and per client address, and guest sign-ins per address
(``limits`` moving windows)."""

from __future__ import annotations

import hashlib
import time

import structlog
from limits import RateLimitItemPerSecond, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from helpline.core.config import AuthSettings
from helpline.core.errors import RateLimited, ServiceUnavailable

log = structlog.get_logger(__name__)


def _key(kind: str, value: str) -> str:
    # Hash identifiers so the store never holds emails or addresses in clear.
    return kind + ":" + hashlib.sha256(value.lower().encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, storage: Storage, settings: AuthSettings) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        window = settings.login_failure_window_seconds
        self._per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)
        self._per_ip = RateLimitItemPerSecond(settings.login_max_failures_per_ip, window)

    async def check(self, identifier: str, ip: str | None) -> None:
        """Refuse the attempt (429) while the account or the address is locked out."""
        try:
            checks = [(self._per_account, _key("acct", identifier))]
            if ip:
                checks.append((self._per_ip, _key("ip", ip)))
            for item, key in checks:
                if not await self._limiter.test(item, "login", key):
                    stats = await self._limiter.get_window_stats(item, "login", key)
                    wait = int(stats.reset_time - time.time()) + 1
                    raise RateLimited(f"Too many failed login attempts. Try again in {wait} seconds.", retry_after=wait)
        except RateLimited:
            raise
        except Exception as exc:
            log.error("login_throttle.unavailable", error=str(exc))
            raise ServiceUnavailable("The rate-limit store is unavailable; try again shortly.") from None

    async def failed(self, identifier: str, ip: str | None) -> None:
        await self._limiter.hit(self._per_account, "login", _key("acct", identifier))
        if ip:
            await self._limiter.hit(self._per_ip, "login", _key("ip", ip))

    async def succeeded(self, identifier: str) -> None:
        await self._limiter.clear(self._per_account, "login", _key("acct", identifier))


class GuestThrottle:
    """Guest identities created per client address (HELPLINE_WIDGET_GUEST_CREATE_LIMIT), in the same
    ``limits`` store as the login throttle, so several instances share one count."""

    def __init__(self, storage: Storage, limit: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = parse(limit)

    async def hit(self, ip: str | None) -> None:
        """Count one guest sign-in from ``ip``; 429 with Retry-After once the window is full."""
        key = _key("ip", ip or "unknown")
        try:
            if not await self._limiter.hit(self._item, "guest", key):
                stats = await self._limiter.get_window_stats(self._item, "guest", key)
                wait = int(stats.reset_time - time.time()) + 1
                raise RateLimited(
                    f"Too many guest sessions started from this address. Try again in {wait} seconds.",
                    retry_after=wait,
                )
        except RateLimited:
            raise
        except Exception as exc:
            log.error("guest_throttle.unavailable", error=str(exc))
            raise ServiceUnavailable("The rate-limit store is unavailable; try again shortly.") from None
