"""Request limits, counted in a ``platform.limits.WindowStore`` (Redis when configured, else
in-process; rates in ``limits``' notation).

- ``Windows``: a set of sliding windows counted together (the spec's 60/minute, 1000/hour,
  10000/day) for one key; a hit answers with the ``Quota`` left, which becomes the IETF draft's
  ``RateLimit-Limit/Remaining/Reset`` headers, or raises ``RateLimited`` (429 with those headers
  and ``Retry-After``).
- ``ApiRateLimiter`` + ``RateLimitMiddleware``: every ``/api/`` request counts against its route
  group's windows (HELPLINE_LIMITS_RULES, by group and role), per user when it carries a valid
  access token, else per client address.
- ``UserRateLimiter``: chat messages per user, whichever transport sends them (REST, SSE,
  WebSocket): the chat routes are exempt from the middleware and counted here instead.

A store that cannot be reached (Redis down) lets requests through with a warning, or refuses them
with a 503, as HELPLINE_LIMITS_ON_STORE_FAILURE says; never a 500.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute, parse_many
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpline.core.config import LimitsSettings
from helpline.core.errors import RateLimited, ServiceUnavailable, error_response
from helpline.core.metrics import RATE_LIMIT_STORE_ERRORS, RATE_LIMITED
from helpline.platform.limits import WindowStore

log = structlog.get_logger(__name__)

STORE_DOWN = "The rate-limit store is unavailable; try again shortly."
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


@dataclass(frozen=True, slots=True)
class Quota:
    """What is left of the window closest to running out (IETF draft RateLimit header fields)."""

    limit: int
    remaining: int
    reset: int  # seconds until that window has room again
    policy: str  # every window counted: "60;w=60, 1000;w=3600"

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": self.policy,
        }


def policy_of(items: Sequence[RateLimitItem]) -> str:
    return ", ".join(f"{item.amount};w={item.get_expiry()}" for item in items)


class Windows:
    """Sliding windows counted together for one key: a request passes when every window has room,
    and then counts in each. Sliding window counters (the current and the previous window's
    count, weighted by how much of the previous one is still inside the window) keep two numbers
    per window whatever the limit: a moving window keeps a timestamp per request, up to 10,000
    per user for the day's window alone."""

    def __init__(
        self,
        store: WindowStore,
        items: Sequence[RateLimitItem],
        namespace: str,
        *,
        refusal: str,
        fail_open: bool,
    ) -> None:
        self._store = store
        self.items = sorted(items, key=lambda i: i.get_expiry())
        self.namespace = namespace
        self._refusal = refusal  # formatted with amount, per, wait
        self._fail_open = fail_open
        self.policy = policy_of(self.items)

    async def hit(self, key: str) -> Quota | None:
        """Count one request for ``key`` and say what is left; 429 when a window is full. None
        when the store is down and requests go through without a count (fail open)."""
        try:
            # Every window checked and counted together: one round trip on Redis.
            states = await self._store.hit(self.namespace, hashed_key(key), self.items)
        except Exception as exc:
            self._store_failed(exc)
            return None
        waits = [max(1, int(s.reset) + 1) for s in states]
        if not all(s.passed for s in states):
            full = [n for n, s in enumerate(states) if s.remaining <= 0] or list(range(len(states)))
            n = max(full, key=lambda k: waits[k])  # the wait until every full window has room
            item = self.items[n]
            quota = Quota(item.amount, 0, waits[n], self.policy)
            per = item.GRANULARITY.name
            detail = self._refusal.format(amount=item.amount, per=per, wait=waits[n])
            RATE_LIMITED.labels(self.namespace).inc()
            raise RateLimited(detail, retry_after=waits[n], quota=quota.headers())
        n = min(range(len(states)), key=lambda k: (states[k].remaining, k))
        return Quota(self.items[n].amount, states[n].remaining, waits[n], self.policy)

    def _store_failed(self, exc: Exception) -> None:
        RATE_LIMIT_STORE_ERRORS.inc()
        log.warning(
            "rate_limit.store_unavailable", namespace=self.namespace, error=f"{type(exc).__name__}: {exc}"[:200]
        )
        if self._fail_open:
            return None
        raise ServiceUnavailable(STORE_DOWN) from None

    async def clear(self, key: str) -> None:
        await self._store.clear(self.namespace, hashed_key(key), self.items)


def hashed_key(key: str) -> str:
    """The store never holds a user id or a client address in clear (data minimisation)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class UserRateLimiter:
    """Chat messages per user (HELPLINE_LIMITS_RATE_PER_MINUTE/HOUR/DAY), from any transport."""

    def __init__(self, store: WindowStore, settings: LimitsSettings, namespace: str = "chat") -> None:
        items = [
            RateLimitItemPerMinute(settings.rate_per_minute),
            RateLimitItemPerHour(settings.rate_per_hour),
            RateLimitItemPerDay(settings.rate_per_day),
        ]
        self.windows = Windows(
            store,
            items,
            namespace,
            refusal="Rate limit of {amount} messages per {per} reached; try again in {wait} seconds.",
            fail_open=settings.on_store_failure == "open",
        )

    async def hit(self, user_id: int) -> Quota | None:
        """Count one message for ``user_id``; 429 with Retry-After when a window is full."""
        return await self.windows.hit(str(user_id))

    async def clear(self, user_id: int) -> None:
        """Forget the user's windows (their account is erased)."""
        await self.windows.clear(str(user_id))


# The API's route groups, by path (first match wins); each group counts in windows of its own.
# "exempt": counted elsewhere (chat messages: UserRateLimiter, in the chat service) or never.
ROUTE_GROUPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/api/v1/chat/(send|stream)$"), "exempt"),
    (re.compile(r"^/api/v1/chat/messages/[^/]+/retry$"), "exempt"),
    (re.compile(r"^/api/v1/faqs/search$"), "search"),
    (re.compile(r"^/api/v1/faqs/[^/]+/vote$"), "vote"),
    (re.compile(r"^/api/v1/auth/"), "auth"),
    (re.compile(r"^/api/v1/admin/"), "admin"),
    (re.compile(r"^/api/"), "api"),
)
ANONYMOUS = "anonymous"


def route_group(path: str) -> str | None:
    """The route group of an API path; None for paths outside the API (pages, health, metrics)."""
    for pattern, group in ROUTE_GROUPS:
        if pattern.match(path):
            return group
    return None


class ApiRateLimiter:
    """Request windows per route group and role (HELPLINE_LIMITS_RULES): the rule for
    "group:role" wins over "group", then "*:role", then "*"."""

    def __init__(self, store: WindowStore, settings: LimitsSettings) -> None:
        self._store = store
        self._rules = settings.resolved_rules()
        self._fail_open = settings.on_store_failure == "open"

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one limiter per runtime, few (group, role) pairs
    def windows(self, group: str, role: str) -> Windows:
        for name in (f"{group}:{role}", group, f"*:{role}", "*"):
            if name in self._rules:
                return Windows(
                    self._store,
                    parse_many(self._rules[name]),
                    f"api-{group}",
                    refusal="Too many requests ({amount} per {per}); try again in {wait} seconds.",
                    fail_open=self._fail_open,
                )
        raise LookupError("no '*' rule")  # resolved_rules() always has one

    async def hit(self, group: str, role: str, key: str) -> Quota | None:
        return await self.windows(group, role).hit(key)

    async def clear_user(self, user_id: int) -> None:
        """Forget a user's windows in every group (their account is erased)."""
        groups = {g for _, g in ROUTE_GROUPS if g != "exempt"}
        roles = {name.split(":", 1)[1] for name in self._rules if ":" in name} | {"user"}
        for group in groups:
            seen: set[str] = set()
            for role in roles:
                windows = self.windows(group, role)
                if windows.policy not in seen:
                    seen.add(windows.policy)
                    await windows.clear(f"u{user_id}")


class RateLimitMiddleware:
    """Counts each ``/api/`` HTTP request against its route group's windows and adds the
    RateLimit headers to its response; a request over the limit gets the 429 here, before any
    work. The caller is the user of a valid access token (its role choosing the rule), else the
    client address (ClientAddressMiddleware has put the real one in the scope)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        group = route_group(scope["path"])
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        if group is None or group == "exempt" or runtime is None:
            await self.app(scope, receive, send)
            return
        role, key = _caller(runtime, scope)
        try:
            quota = await runtime.api_limiter.hit(group, role, key)
        except (RateLimited, ServiceUnavailable) as exc:
            response = error_response(exc.status_code, exc.code, exc.detail, exc.headers, **exc.extra)
            await response(scope, receive, send)
            return
        if quota is None:
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in quota.headers().items()]

        async def send_with_quota(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                # A route that counted its own (a 429 from a stricter throttle) keeps its values.
                if b"ratelimit-limit" not in names:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_quota)


def _caller(runtime: object, scope: Scope) -> tuple[str, str]:
    """(role, key): the access token's user, else the client address."""
    from helpline.core.security import InvalidToken

    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                try:
                    claims = runtime.tokens.decode(token.strip(), "access")  # type: ignore[attr-defined]
                except InvalidToken:
                    break  # counted by address; the route answers 401 if it needs a token
                return claims.role, f"u{claims.user_id}"
            break
    client = scope.get("client")
    return ANONYMOUS, f"ip{client[0] if client else 'unknown'}"
