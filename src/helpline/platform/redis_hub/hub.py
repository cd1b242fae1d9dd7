"""``RedisGenerationHub``: the ``Hub`` of several instances, put together from its parts (see the
package's docstring): the in-process hub for what runs here, a batch writer and a heartbeat, a
stream reader for other instances' answers, one pub/sub subscriber, and the directory and
signals that reach other instances."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Collection, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from helpline.platform.hub import EVENT_KINDS, EventKind, Generation, GenerationHub, Listener, Shutdown, TurnEvent
from helpline.platform.redis_hub.keys import Keys
from helpline.platform.redis_hub.pubsub import Subscriber
from helpline.platform.redis_hub.reader import RemoteGeneration, StreamReader
from helpline.platform.redis_hub.remote import Directory, Known, Signals, disconnect_of
from helpline.platform.redis_hub.writer import BatchWriter, Event, Heartbeat, Open

if TYPE_CHECKING:
    from helpline.core.config import Settings

log = structlog.get_logger("helpline.platform.redis_hub")


@dataclass
class SharedGeneration(Generation):
    """A generation running here, whose events are also sent to Redis. ``attempt`` tells it
    from an earlier or later run under the same message id (a retry)."""

    attempt: str = ""


class RedisGenerationHub:
    def __init__(
        self,
        keys: Redis | RedisCluster,
        bus: Redis | None = None,
        *,
        prefix: str = "helpline",
        keep_finished_seconds: float = 300.0,
        running_ttl_seconds: float = 600.0,
        stream_maxlen: int = 5000,
        block_ms: int = 2000,
        max_pending: int = 100_000,
        retry_seconds: float = 1.0,
        give_up_seconds: float = 30.0,
        alive_ttl_seconds: float = 10.0,
        owns_clients: bool = True,
    ) -> None:
        """``keys`` holds the streams (a cluster client on Redis Cluster); ``bus`` carries
        pub/sub (a plain client; defaults to ``keys``, which must then be a plain client)."""
        if bus is None:
            if isinstance(keys, RedisCluster):
                raise TypeError("on Redis Cluster, give a plain client for pub/sub as bus")
            bus = keys
        self._keys = keys
        self._bus = bus
        self._owns_clients = owns_clients
        self.names = Keys.channels_for(prefix, int(bus.connection_pool.connection_kwargs.get("db") or 0))
        self.origin = uuid.uuid4().hex[:16]  # this instance, to skip its own pub/sub messages
        running_ttl_ms = int(running_ttl_seconds * 1000)
        keep_ms = max(1, int(keep_finished_seconds * 1000))
        self._local = GenerationHub(
            keep_finished_seconds, on_first_listener=self._first_listener, on_last_listener=self._last_listener_gone
        )
        self.writer = BatchWriter(
            keys,
            bus,
            self.names,
            self.origin,
            running_ttl_ms=running_ttl_ms,
            keep_ms=keep_ms,
            maxlen=stream_maxlen,
            max_pending=max_pending,
            retry_seconds=retry_seconds,
        )
        self.heartbeat = Heartbeat(keys, self.names, self.origin, ttl_ms=max(1000, int(alive_ttl_seconds * 1000)))
        self.directory = Directory(running_ttl_seconds=running_ttl_ms / 1000, keep_seconds=keep_ms / 1000)
        self.reader = StreamReader(
            keys,
            self.names,
            block_ms=block_ms,
            retry_seconds=retry_seconds,
            give_up_seconds=give_up_seconds,
            on_gone=self.directory.forget,
        )
        self.subscriber = Subscriber(
            bus, always=self.names.announcements, retry_seconds=retry_seconds, on_message=self._on_message
        )
        self.signals = Signals(bus, self.names, self.origin)
        self._closed = False
        self._start()

    @classmethod
    def from_url(cls, url: str, *, cluster: bool = False, **kwargs: Any) -> RedisGenerationHub:
        """Clients of its own: blocking reads and a pub/sub connection stay off the app's pool."""
        block_ms = int(kwargs.get("block_ms", 2000))
        timeout = block_ms / 1000 + 5.0  # a blocking XREAD must return before the socket times out

        def plain() -> Redis:
            return Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=5.0,
                retry=Retry(NoBackoff(), 1),
            )

        if cluster:
            keys = RedisCluster.from_url(url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=5.0)
            return cls(keys, plain(), **kwargs)
        return cls(plain(), **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisGenerationHub:
        url = settings.redis.url
        assert url is not None
        # Refreshed on every write, so this bounds the silence between two events of an answer;
        # a whole answer is bounded by twice the model timeout (ChatService.generate).
        running_ttl = max(300.0, settings.llm.timeout_seconds * 2 + 60)
        return cls.from_url(
            url,
            cluster=settings.redis.cluster,
            running_ttl_seconds=running_ttl,
            alive_ttl_seconds=settings.redis.instance_ttl_seconds,
        )

    # -- the hub interface (platform.hub.Hub)

    def open(self, message_id: int, conversation_id: int, user_id: int) -> Generation:
        gen = SharedGeneration(message_id, conversation_id, user_id, attempt=uuid.uuid4().hex[:12])
        self._local.add(gen)
        self.directory.forget(message_id)
        self.reader.remote.pop(message_id, None)
        self._enqueue(Open(message_id, conversation_id, user_id, gen.attempt))
        return gen

    def get(self, message_id: int) -> Generation | None:
        self._start()
        gen = self._local.get(message_id) or self.reader.remote.get(message_id)
        if gen is not None:
            return gen
        known = self.directory.get(message_id, self._now())
        return None if known is None else self._remote_of(message_id, known)

    def _remote_of(self, message_id: int, known: Known) -> RemoteGeneration:
        return self.reader.generation(message_id, known.conversation_id, known.user_id, known.attempt, known.origin)

    async def lookup(self, message_id: int) -> Generation | None:
        gen = self.get(message_id)
        if gen is not None or self._closed:
            return gen
        try:
            meta = await self._keys.hgetall(self.names.meta(message_id))
        except Exception as exc:
            log.warning("hub.lookup_failed", message_id=message_id, error=repr(exc)[:200])
            return None
        if not meta or meta.get("origin") == self.origin:
            return None  # unknown, or this instance's own (finished and forgotten) one
        known = self.directory.running(meta, self._now())
        self.directory.remember(message_id, known)
        return self._remote_of(message_id, known)

    async def publish(self, gen: Generation, kind: EventKind, data: dict[str, Any], *, final: bool = False) -> None:
        event = await self._local.record(gen, kind, data, final)
        if isinstance(gen, RemoteGeneration):
            return
        try:
            data_json = json.dumps(data, separators=(",", ":"), default=str)
            attempt = gen.attempt if isinstance(gen, SharedGeneration) else ""
            self._enqueue(
                Event(gen.message_id, gen.conversation_id, gen.user_id, attempt, event.seq, kind, data_json, final)
            )
        except Exception:  # the generation goes on whatever happens to the copy for Redis
            log.exception("hub.publish_failed", message_id=gen.message_id)

    def run(self, coro: Coroutine[Any, Any, None], gen: Generation | None = None) -> None:
        self._local.run(coro, gen)

    async def stop(self, message_id: int) -> Generation | None:
        local = self._local.get(message_id)
        if local is not None:
            local.request_stop()
            return local
        gen = await self.lookup(message_id)
        if isinstance(gen, RemoteGeneration) and not gen.finished:
            await self.signals.stop(message_id, gen.conversation_id, gen.user_id, gen.attempt)
        return gen

    def listener_count(self, user_id: int) -> int:
        return self._local.listener_count(user_id)

    def listeners(self, user_id: int) -> set[Listener]:
        return self._local.listeners(user_id)

    async def disconnect(
        self, user_id: int, shutdown: Shutdown, *, sid: uuid.UUID | None = None, jti: uuid.UUID | None = None
    ) -> None:
        self._local.disconnect_here(user_id, shutdown, sid, jti)
        await self.signals.disconnect(user_id, shutdown, sid, jti)

    async def orphaned(self, message_ids: Collection[int]) -> list[int]:
        """The answers whose meta names an instance that beats (``alive``) and whose heartbeat has
        lapsed, as a follower decides (reader.settled). Redis unreachable: none."""
        gone: list[int] = []
        try:
            for message_id in message_ids:
                meta = await self._keys.hgetall(self.names.meta(message_id))
                origin = str(meta.get("origin", ""))
                if meta.get("alive") == "1" and origin and not await self._keys.exists(self.names.alive(origin)):
                    gone.append(message_id)
        except Exception as exc:
            log.warning("hub.orphaned_failed", error=repr(exc)[:200])
        return gone

    async def erase(self, message_ids: Collection[int]) -> None:
        await self._local.erase(message_ids)
        for message_id in message_ids:
            self.directory.forget(message_id)
            self.reader.remote.pop(message_id, None)
            # Stream and meta share a hash tag: one slot, one command even on a cluster.
            await self._keys.delete(self.names.stream(message_id), self.names.meta(message_id))

    def listen(self, user_id: int, maxsize: int = 0) -> AbstractContextManager[Listener]:
        return self._local.listen(user_id, maxsize)

    def _first_listener(self, user_id: int) -> None:
        self._start()
        self.subscriber.want(self.names.user_channel(user_id))

    def _last_listener_gone(self, user_id: int) -> None:
        self.subscriber.unwant(self.names.user_channel(user_id))

    async def ready(self, user_id: int | None = None, timeout: float = 5.0) -> bool:
        """Whether Redis has confirmed the subscriptions (announcements, and this user's channel
        if given) within ``timeout``: from then on, other instances' events reach this one."""
        self._start()
        channels = {self.names.announcements}
        if user_id is not None:
            channels.add(self.names.user_channel(user_id))
        return await self.subscriber.ready(channels, timeout)

    async def drain(self, timeout: float) -> None:
        """On shutdown: let running generations finish, send their last events, disconnect."""
        await self._local.drain(timeout)
        await self.aclose()

    async def aclose(self, flush_timeout: float = 5.0) -> None:
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                await self.writer.flushed()
        self._closed = self.writer.closed = self.reader.closed = True
        tasks = [t for t in (self.writer.task, self.subscriber.task, self.heartbeat.task) if t is not None]
        tasks += self.reader.tasks()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.reader.end_all()
        # A clean stop: the answers begun here are finished (drain), so nothing is orphaned.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.heartbeat.stopped()
        if self._owns_clients:
            await self._keys.aclose()
            if self._bus is not self._keys:
                await self._bus.aclose()

    # -- background work

    def _start(self) -> None:
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside an event loop: started on first use
        self.writer.start(loop)
        self.subscriber.start(loop)
        self.heartbeat.start(loop)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _enqueue(self, op: Open | Event) -> None:
        if self._closed:
            return
        self._start()
        self.writer.enqueue(op)

    async def _on_message(self, channel: str, body: dict[str, Any]) -> None:
        """A pub/sub message (raising ValueError, KeyError or TypeError for a malformed one)."""
        if body["o"] == self.origin:
            return  # published here: local listeners already have it
        if channel == self.names.announcements:
            await self._on_announcement(body)
        elif body.get("t") == "disconnect":
            self._local.disconnect_here(*disconnect_of(body))
        elif body["k"] in EVENT_KINDS:
            event = TurnEvent(body["k"], int(body["s"]), int(body["m"]), int(body["c"]), body["d"])
            self._local.deliver(int(body["u"]), event)

    async def _on_announcement(self, body: dict[str, Any]) -> None:
        message_id, attempt = int(body["m"]), str(body["a"])
        if body["t"] == "stop":
            local = self._local.get(message_id)
            if isinstance(local, SharedGeneration) and local.attempt == attempt:
                local.request_stop()
            return
        self.directory.announced(body, self._now())
        if body["t"] == "open":
            # A retry of an answer this process knew: what it had is the previous attempt.
            local = self._local.get(message_id)
            if local is not None and local.finished:
                self._local.forget(message_id)
            remote = self.reader.remote.pop(message_id, None)
            if remote is not None and remote.attempt != attempt:
                await remote._end()  # its stream is gone
            elif remote is not None:
                self.reader.remote[message_id] = remote
