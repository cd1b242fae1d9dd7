"""The hub's one pub/sub connection per process: subscribed to the announcements channel and to the
channels of the users with listeners here, re-subscribing after a lost connection, and handing
each message (parsed JSON) to the hub. On Redis Cluster it is classic pub/sub (broadcast to every
node) through a plain connection to the node in the URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from helpline.platform.redis_hub.keys import checkpoint

log = structlog.get_logger("helpline.platform.redis_hub")

PING_SECONDS = 15.0  # an idle pub/sub connection is pinged this often, and dropped when silent

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class Subscriber:
    """The channels wanted, those Redis has confirmed, and one task reading them all."""

    def __init__(self, bus: Redis, *, always: str, retry_seconds: float, on_message: Handler) -> None:
        self._bus = bus
        self._retry_seconds = retry_seconds
        self._on_message = on_message  # may raise ValueError, KeyError, TypeError: a bad message
        self.wanted: set[str] = {always}
        self.confirmed: set[str] = set()
        self._confirmed_changed = asyncio.Condition()
        self._resync = asyncio.Event()
        self._lost = False
        self.task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._loop(), name="hub-redis-subscriber")

    def want(self, channel: str) -> None:
        self.wanted.add(channel)
        self._resync.set()

    def unwant(self, channel: str) -> None:
        self.wanted.discard(channel)
        self._resync.set()

    async def ready(self, channels: set[str], timeout: float) -> bool:
        """Whether Redis has confirmed these subscriptions within ``timeout``."""
        async with self._confirmed_changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._confirmed_changed.wait_for(lambda: channels <= self.confirmed)
            except TimeoutError:
                return False
        return True

    async def _loop(self) -> None:
        while True:
            pubsub = self._bus.pubsub()
            try:
                await self._listen_on(pubsub)
            except Exception as exc:
                checkpoint()
                if not self._lost:
                    log.warning("hub.pubsub_lost", error=repr(exc)[:200])
                self._lost = True
            finally:
                async with self._confirmed_changed:
                    self.confirmed.clear()
                    self._confirmed_changed.notify_all()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(self._retry_seconds)

    async def _listen_on(self, pubsub: PubSub) -> None:
        subscribed = set(self.wanted)
        await pubsub.subscribe(*subscribed)
        checkpoint()
        if self._lost:
            log.warning("hub.pubsub_back", channels=len(subscribed))
            self._lost = False

        async def sync() -> None:
            while True:
                self._resync.clear()
                wanted = set(self.wanted)
                if add := wanted - subscribed:
                    await pubsub.subscribe(*add)
                    checkpoint()
                    subscribed.update(add)
                if drop := subscribed - wanted:
                    await pubsub.unsubscribe(*drop)
                    checkpoint()
                    subscribed.difference_update(drop)
                await self._resync.wait()

        async def read() -> None:
            loop = asyncio.get_running_loop()
            heard = loop.time()
            while True:
                message = await pubsub.get_message(timeout=PING_SECONDS)
                checkpoint()
                if message is not None:
                    heard = loop.time()
                    await self._received(message)
                elif loop.time() - heard > 2.5 * PING_SECONDS:
                    raise ConnectionError("the pub/sub connection went silent")
                else:
                    await pubsub.ping()
                    checkpoint()

        tasks = {asyncio.create_task(sync()), asyncio.create_task(read())}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5)

    async def _received(self, message: dict[str, Any]) -> None:
        kind, channel = message.get("type"), message.get("channel")
        if kind in ("subscribe", "unsubscribe"):
            async with self._confirmed_changed:
                (self.confirmed.add if kind == "subscribe" else self.confirmed.discard)(str(channel))
                self._confirmed_changed.notify_all()
            return
        if kind != "message":
            return
        try:
            await self._on_message(str(channel), json.loads(message["data"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("hub.bad_pubsub_message", channel=channel, error=repr(exc)[:200])
