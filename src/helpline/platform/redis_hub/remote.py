"""What reaches another instance's answers and sockets: the directory of the answers other
instances announced (so ``get()``, which is synchronous, can answer), and the signals one instance
sends the others: a stop (the user's Stop button, pressed on an instance that does not generate the
answer: the one generating that attempt stops it) and a disconnect (a logout, a password change, a
suspension: every instance with a socket of the user shuts the sockets it names)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis

from helpline.platform.hub import Shutdown
from helpline.platform.redis_hub.keys import Keys, checkpoint, compact

log = structlog.get_logger("helpline.platform.redis_hub")

SWEEP_SECONDS = 30.0  # how often expired entries leave the directory


@dataclass(slots=True)
class Known:
    """A generation running (or recently finished) on another instance."""

    conversation_id: int
    user_id: int
    attempt: str
    expires: float  # loop time
    origin: str = ""  # the instance generating it


class Directory:
    """Other instances' generations, from their announcements on ``{prefix}:generations``."""

    def __init__(self, *, running_ttl_seconds: float, keep_seconds: float) -> None:
        self._running = running_ttl_seconds
        self._keep = keep_seconds
        self._entries: dict[int, Known] = {}
        self._next_sweep = 0.0

    def get(self, message_id: int, now: float) -> Known | None:
        known = self._entries.get(message_id)
        if known is not None and known.expires < now:
            del self._entries[message_id]
            return None
        return known

    def remember(self, message_id: int, known: Known) -> None:
        self._entries[message_id] = known

    def forget(self, message_id: int) -> None:
        self._entries.pop(message_id, None)

    def running(self, meta: Mapping[Any, Any], now: float) -> Known:
        """An answer's entry from its meta hash (lookup(): announced before this one listened)."""
        return Known(
            int(meta["conversation_id"]),
            int(meta["user_id"]),
            str(meta.get("attempt", "")),
            now + self._running,
            str(meta.get("origin", "")),
        )

    def announced(self, body: dict[str, Any], now: float) -> None:
        """An "open" (a new attempt runs) or "done" (kept a while for resumes) announcement."""
        message_id, attempt = int(body["m"]), str(body["a"])
        if body["t"] == "open":
            self._entries[message_id] = Known(
                int(body["c"]), int(body["u"]), attempt, now + self._running, str(body["o"])
            )
        else:
            known = self._entries.get(message_id)
            if known is not None and known.attempt == attempt:
                known.expires = now + self._keep
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            for stale in [m for m, k in self._entries.items() if k.expires < now]:
                del self._entries[stale]


class Signals:
    """Stops and disconnects sent to the other instances (best effort: never raises)."""

    def __init__(self, bus: Redis, names: Keys, origin: str) -> None:
        self._bus = bus
        self._names = names
        self._origin = origin

    async def stop(self, message_id: int, conversation_id: int, user_id: int, attempt: str) -> None:
        signal = {"t": "stop", "o": self._origin, "m": message_id, "c": conversation_id, "u": user_id, "a": attempt}
        try:
            async with asyncio.timeout(5):
                await self._bus.publish(self._names.announcements, compact(signal))
        except Exception as exc:  # the caller asks again while it waits, then falls back
            checkpoint()
            log.warning("hub.stop_not_sent", message_id=message_id, error=repr(exc)[:200])

    async def disconnect(self, user_id: int, shutdown: Shutdown, sid: uuid.UUID | None, jti: uuid.UUID | None) -> None:
        signal = {
            "t": "disconnect",
            "o": self._origin,
            "u": user_id,
            "sid": str(sid) if sid else None,
            "jti": str(jti) if jti else None,
            "code": shutdown.code,
            "reason": shutdown.reason,
            "cause": shutdown.cause,
        }
        try:
            async with asyncio.timeout(5):
                await self._bus.publish(self._names.user_channel(user_id), compact(signal))
        except Exception as exc:  # the other instances' sockets still close when their token expires
            checkpoint()
            log.warning("hub.disconnect_not_sent", user_id=user_id, error=repr(exc)[:200])


def disconnect_of(body: dict[str, Any]) -> tuple[int, Shutdown, uuid.UUID | None, uuid.UUID | None]:
    """A disconnect signal's user, shutdown, sid and jti."""
    sid, jti = body.get("sid"), body.get("jti")
    return (
        int(body["u"]),
        Shutdown(int(body["code"]), str(body["reason"]), str(body["cause"])),
        uuid.UUID(sid) if sid else None,
        uuid.UUID(jti) if jti else None,
    )
