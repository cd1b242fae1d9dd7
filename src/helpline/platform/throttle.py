"""Rate limits of the auth endpoints (``limits`` moving windows in the shared store, Redis when
configured, so several instances share one count): failed logins per account, per trusted device
and per client address; registrations, guest sign-ins and token refreshes per address."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from helpline.core.config import AuthSettings, Settings
from helpline.core.errors import RateLimited, ServiceUnavailable
from helpline.core.metrics import RATE_LIMITED
from helpline.core.ratelimit import Quota, policy_of

log = structlog.get_logger(__name__)

STORE_DOWN = "The rate-limit store is unavailable; try again shortly."
FAILED_LOGINS = "Too many failed login attempts. Try again in {wait} seconds."


def _key(value: str) -> str:
    # Hash identifiers so the store never holds emails or addresses in clear.
    return hashlib.sha256(value.lower().encode()).hexdigest()[:32]


@asynccontextmanager
async def _store(scope: str) -> AsyncIterator[None]:
    """A store failure is a clear 503, never a 500 nor a silently open door."""
    try:
        yield
    except RateLimited:
        raise
    except Exception as exc:
        log.error("throttle.unavailable", scope=scope, error=str(exc)[:300])
        raise ServiceUnavailable(STORE_DOWN) from None


class RateLimit:
    """One rate (``limits`` notation such as "20/hour", or an item) counted per key: the one piece
    every throttle here is made of."""

    def __init__(self, storage: Storage, rate: str | RateLimitItem, scope: str, refusal: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self.item = parse(rate) if isinstance(rate, str) else rate
        self.scope = scope
        self._refusal = refusal  # the 429's detail, with {wait}

    async def hit(self, key: str) -> None:
        """Count one event for ``key``; 429 with Retry-After once the window is full."""
        async with _store(self.scope):
            if not await self._limiter.hit(self.item, self.scope, _key(key)):
                raise await self._refused(key)

    async def check(self, key: str) -> None:
        """429 while ``key``'s window is full, without counting."""
        async with _store(self.scope):
            if not await self._limiter.test(self.item, self.scope, _key(key)):
                raise await self._refused(key)

    async def full(self, key: str) -> bool:
        async with _store(self.scope):
            return not await self._limiter.test(self.item, self.scope, _key(key))

    async def count(self, key: str) -> None:
        """Count one event (a failure) without refusing anything now."""
        async with _store(self.scope):
            await self._limiter.hit(self.item, self.scope, _key(key))

    async def clear(self, key: str) -> None:
        async with _store(self.scope):
            await self._limiter.clear(self.item, self.scope, _key(key))

    async def _refused(self, key: str) -> RateLimited:
        stats = await self._limiter.get_window_stats(self.item, self.scope, _key(key))
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        quota = Quota(self.item.amount, 0, wait, policy_of([self.item]))
        RATE_LIMITED.labels(self.scope).inc()
        return RateLimited(self._refusal.format(wait=wait), retry_after=wait, quota=quota.headers())


def account_key(user_id: int | None, identifier: str) -> str:
    """What failed logins are counted on: the account, whichever of its email or username was
    typed; an identifier matching no account counts on itself, so unknown and known accounts
    lock out alike."""
    if user_id is not None:
        return f"user:{user_id}"
    return "ident:" + identifier.strip().lower()


class LoginThrottle:
    """Failed password checks, after OWASP's device cookies: a client presenting a device cookie
    of the account (a browser that signed in to it before) is limited per device cookie only, so
    an attacker's failures never lock the owner out; every other client is limited per account
    and per address."""

    def __init__(self, storage: Storage, settings: AuthSettings) -> None:
        window = settings.login_failure_window_seconds
        per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)
        self.account = RateLimit(storage, per_account, "login-account", FAILED_LOGINS)
        self.device = RateLimit(storage, per_account, "login-device", FAILED_LOGINS)
        per_ip = RateLimitItemPerSecond(settings.login_max_failures_per_ip, window)
        self.ip = RateLimit(storage, per_ip, "login-ip", FAILED_LOGINS)

    async def trusted(self, device_nonce: str | None) -> bool:
        """Whether a checked device cookie (its nonce) still earns trust: not while its own
        failures fill the window (then it is treated as any untrusted client)."""
        return device_nonce is not None and not await self.device.full(device_nonce)

    async def check(self, account: str, ip: str | None) -> None:
        """Refuse an untrusted attempt (429) while the account or the address is locked out."""
        await self.account.check(account)
        if ip:
            await self.ip.check(ip)

    async def failed(self, account: str, ip: str | None, device_nonce: str | None = None) -> None:
        if device_nonce is not None:
            await self.device.count(device_nonce)
            return
        await self.account.count(account)
        if ip:
            await self.ip.count(ip)

    async def succeeded(self, account: str, device_nonce: str | None = None) -> None:
        if device_nonce is not None:
            await self.device.clear(device_nonce)
        else:
            await self.account.clear(account)


@dataclass(frozen=True)
class RegisterThrottle:
    """New accounts per client address and in total: each costs a bcrypt hash, and a flood of
    them slows every login down."""

    per_ip: RateLimit
    overall: RateLimit

    async def hit(self, ip: str | None) -> None:
        await self.per_ip.hit(ip or "unknown")
        await self.overall.hit("all")


@dataclass(frozen=True)
class AuthThrottles:
    login: LoginThrottle
    register: RegisterThrottle
    guest: RateLimit
    refresh: RateLimit
    reset_per_ip: RateLimit
    reset_per_email: RateLimit
    verify_per_ip: RateLimit
    verify_per_email: RateLimit

    @classmethod
    def build(cls, storage: Storage, settings: Settings) -> AuthThrottles:
        auth = settings.auth
        return cls(
            login=LoginThrottle(storage, auth),
            register=RegisterThrottle(
                per_ip=RateLimit(
                    storage,
                    auth.register_limit_per_ip,
                    "register-ip",
                    "Too many accounts registered from this address. Try again in {wait} seconds.",
                ),
                overall=RateLimit(
                    storage,
                    auth.register_limit_global,
                    "register-all",
                    "Too many accounts are being registered right now. Try again in {wait} seconds.",
                ),
            ),
            guest=RateLimit(
                storage,
                settings.widget.guest_create_limit,
                "guest-ip",
                "Too many guest sessions started from this address. Try again in {wait} seconds.",
            ),
            refresh=RateLimit(
                storage,
                auth.refresh_limit_per_ip,
                "refresh-ip",
                "Too many token refreshes from this address. Try again in {wait} seconds.",
            ),
            reset_per_ip=RateLimit(
                storage,
                settings.mail.reset_limit_per_ip,
                "reset-ip",
                "Too many password resets asked from this address. Try again in {wait} seconds.",
            ),
            reset_per_email=RateLimit(
                storage,
                settings.mail.reset_limit_per_email,
                "reset-email",
                "Too many password resets asked for this email. Try again in {wait} seconds.",
            ),
            verify_per_ip=RateLimit(
                storage,
                settings.mail.reset_limit_per_ip,
                "verify-ip",
                "Too many confirmation links asked from this address. Try again in {wait} seconds.",
            ),
            verify_per_email=RateLimit(
                storage,
                settings.mail.reset_limit_per_email,
                "verify-email",
                "Too many confirmation links asked for this email. Try again in {wait} seconds.",
            ),
        )
