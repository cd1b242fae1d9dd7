"""The generation hub shared by several app instances through Redis.

Same interface as the in-process ``GenerationHub``, which it extends:

- The instance generating an answer keeps its log in memory, as the in-process hub does: its own
  followers (the request that started it) and its own listeners (the user's WebSockets on this
  instance) are served without Redis. Redis only carries the events to the other instances.
- Each answer's events also go to a Redis Stream ``{prefix}:gen:{<message_id>}`` (fields
  seq/kind/data/final/attempt; MAXLEN ~ ``stream_maxlen``), with a small hash
  ``{prefix}:gen:{<message_id>}:meta`` holding user_id, conversation_id and attempt (same hash
  tag, so one cluster slot). Both carry a safety TTL while the answer runs, refreshed on each
  write, and expire ``keep_finished_seconds`` after the final event. ``attempt`` (random, per
  open()) keeps a retry of the same message apart from late writes of the attempt before it.
- Another instance's ``get(message_id)`` returns a ``RemoteGeneration`` whose ``follow()`` reads
  that stream (XREAD BLOCK, ``block_ms`` at a time) until the final event, and ends when the key
  vanishes. ``get()`` is synchronous, so it answers from a directory of running answers that
  every instance keeps from announcements on ``{prefix}:generations``; ``lookup()`` also asks
  Redis, for answers announced before this instance was listening.
- Each event is also PUBLISHed to ``{prefix}:user:<user_id>``. One pub/sub connection per process
  subscribes to the channels of the users that have listeners here and dispatches to their
  queues; messages this instance published itself are skipped (its listeners already have them).
- Stopping an answer (the user's Stop button) may reach any instance: ``stop()`` on an instance
  that does not generate it PUBLISHes ``{"t": "stop", ...}`` on ``{prefix}:generations``, which
  every instance listens to; the one generating that attempt stops it, and its final event
  reaches the followers as usual.
- ``disconnect()`` (a logout, a password change, a suspension) PUBLISHes
  ``{"t": "disconnect", ...}`` on the user's channel: every instance with a socket of that user
  is subscribed to it and shuts the sockets it names.
- Each instance keeps a heartbeat key ``{prefix}:instance:<origin>`` (refreshed every third of
  ``alive_ttl_seconds``, deleted on a clean stop), and the meta hash of its answers names it. A
  follower on another instance that hears nothing for ``block_ms`` looks: an answer whose instance
  is gone (killed, crashed) is marked ``orphaned`` and its followers end, so that the answer is
  settled (marked abandoned, retryable) within seconds rather than when its keys expire.
- Writes go through one background writer that pipelines whatever has queued up, so publishing
  never waits for Redis and never fails: with Redis slow or down, events are dropped for the
  other instances (logged), and the answer is still generated, served locally and stored.

On Redis Cluster: the keys of one answer share a hash tag; PUBLISH/SUBSCRIBE use classic pub/sub
(broadcast to every node) through a plain connection to the node in the URL, since cluster
pipelines refuse PUBLISH.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import structlog
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from helpline.platform.hub import EVENT_KINDS, EventKind, Generation, GenerationHub, Shutdown, TurnEvent

if TYPE_CHECKING:
    from helpline.core.config import Settings

log = structlog.get_logger(__name__)

MAX_BATCH = 512  # queued operations sent in one pipeline
READ_COUNT = 1000  # stream entries read at a time
PING_SECONDS = 15.0  # an idle pub/sub connection is pinged this often, and dropped when silent


@dataclass(frozen=True, slots=True)
class _Open:
    message_id: int
    conversation_id: int
    user_id: int
    attempt: str


@dataclass(frozen=True, slots=True)
class _Event:
    message_id: int
    conversation_id: int
    user_id: int
    attempt: str
    seq: int
    kind: str
    data_json: str
    final: bool


_Op = _Open | _Event


@dataclass(slots=True)
class _Known:
    """A generation running (or recently finished) on another instance."""

    conversation_id: int
    user_id: int
    attempt: str
    expires: float  # loop time
    origin: str = ""  # the instance generating it


@dataclass
class SharedGeneration(Generation):
    """A generation running here, whose events are also sent to Redis. ``attempt`` tells it
    from an earlier or later run under the same message id (a retry)."""

    attempt: str = ""


@dataclass
class RemoteGeneration(Generation):
    """A generation running on another instance, read from its Redis stream. One reader task
    per process and generation fills the local copy of the log; its followers share it."""

    attempt: str = ""
    origin: str = ""  # the instance generating it (its heartbeat tells whether it still runs)
    _hub: RedisGenerationHub | None = field(default=None, repr=False)
    _cursor: str = "0-0"  # the last stream entry read
    _reader: asyncio.Task[None] | None = field(default=None, repr=False)
    _followers: int = 0

    async def follow(self, after_seq: int = 0) -> AsyncIterator[TurnEvent]:
        hub = self._hub
        assert hub is not None
        if hub._closed and not self.finished:
            return  # shutting down: the client resumes elsewhere
        self._followers += 1
        hub._remote.setdefault(self.message_id, self)
        if not self.finished and (self._reader is None or self._reader.done()):
            self._reader = asyncio.create_task(self._read(hub))
        try:
            async for event in super().follow(after_seq):
                yield event
        finally:
            self._followers -= 1
            if self._followers == 0:
                if self._reader is not None:
                    self._reader.cancel()
                if hub._remote.get(self.message_id) is self:
                    del hub._remote[self.message_id]

    async def _read(self, hub: RedisGenerationHub) -> None:
        stream = hub._stream_key(self.message_id)
        loop = asyncio.get_running_loop()
        failing_since: float | None = None
        try:
            while not self.finished:
                try:
                    reply = await hub._keys.xread({stream: self._cursor}, count=READ_COUNT, block=hub._block_ms)
                    _checkpoint()
                    if not reply:
                        settled = await self._settled(hub)
                        _checkpoint()
                        if settled:
                            hub._forget(self.message_id)
                            return
                    failing_since = None
                except Exception as exc:
                    _checkpoint()
                    now = loop.time()
                    if failing_since is None:
                        failing_since = now
                        log.warning("hub.follow_failed", message_id=self.message_id, error=repr(exc)[:200])
                    elif now - failing_since > hub._give_up_seconds:
                        hub._forget(self.message_id)
                        return
                    await asyncio.sleep(hub._retry_seconds)
                    continue
                await self._append(_stream_entries(reply))
        except Exception:
            log.exception("hub.follow_crashed", message_id=self.message_id)
        finally:
            if not self.finished and not _cancelling():
                await self._end()

    async def _settled(self, hub: RedisGenerationHub) -> bool:
        """After a silence: whether no event will ever come (the answer's keys are gone, or the
        instance generating it stopped beating: then it is ``orphaned``)."""
        meta = await hub._keys.hgetall(hub._meta_key(self.message_id))
        if not meta and not await hub._keys.exists(hub._stream_key(self.message_id)):
            log.info("hub.generation_vanished", message_id=self.message_id)
            return True
        # Only an instance that beats says so in the meta (one of an older version never would).
        origin = str(meta.get("origin", ""))
        if meta.get("attempt") != self.attempt or meta.get("alive") != "1" or not origin:
            return False
        if await hub._keys.exists(hub._alive_key(origin)):
            return False
        log.warning("hub.generation_orphaned", message_id=self.message_id, origin=origin)
        self.orphaned = True
        return True

    async def _append(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        fresh: list[TurnEvent] = []
        last, finished = self.last_seq, False
        for entry_id, fields in entries:
            self._cursor = entry_id
            seq, kind = int(fields["seq"]), fields["kind"]
            if fields.get("attempt") != self.attempt or seq <= last or kind not in EVENT_KINDS:
                continue  # another run of this message id (a retry), a repeat, or unknown
            if seq != last + 1:
                log.warning("hub.events_missing", message_id=self.message_id, after=last, got=seq)
            data = json.loads(fields["data"])
            fresh.append(TurnEvent(cast(EventKind, kind), seq, self.message_id, self.conversation_id, data))
            last = seq
            if fields.get("final") == "1":
                finished = True
                break
        if fresh or finished:
            async with self._changed:
                self.events.extend(fresh)
                self.finished = self.finished or finished
                self._changed.notify_all()

    async def _end(self) -> None:
        """No more events will come (the stream is gone): let the followers stop."""
        async with self._changed:
            self.finished = True
            self._changed.notify_all()


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _checkpoint() -> None:
    """Re-raise a cancellation that a Redis call swallowed (redis-py 8.1 can return normally
    from a command interrupted by Task.cancel(), e.g. PubSub.unsubscribe)."""
    if _cancelling():
        raise asyncio.CancelledError


def _stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREAD's reply for one stream, as RESP2 ([[key, entries]]) or RESP3 ({key: [entries]})."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        return list(entries[0])
    return list(reply[0][1])


class RedisGenerationHub(GenerationHub):
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
        super().__init__(keep_finished_seconds)
        if bus is None:
            if isinstance(keys, RedisCluster):
                raise TypeError("on Redis Cluster, give a plain client for pub/sub as bus")
            bus = keys
        self._keys = keys
        self._bus = bus
        self._prefix = prefix
        self._running_ttl_ms = int(running_ttl_seconds * 1000)
        self._keep_ms = max(1, int(keep_finished_seconds * 1000))
        self._maxlen = stream_maxlen
        self._block_ms = block_ms
        self._max_pending = max_pending
        self._retry_seconds = retry_seconds
        self._give_up_seconds = give_up_seconds
        self._alive_ttl_ms = max(1000, int(alive_ttl_seconds * 1000))
        self._owns_clients = owns_clients
        self.origin = uuid.uuid4().hex[:16]  # this instance, to skip its own pub/sub messages
        self._announce_channel = f"{prefix}:generations"
        # Writer: operations waiting for Redis, sent in order by one task.
        self._pending: collections.deque[_Op] = collections.deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing is queued or being written
        self._down_until = 0.0
        self._dropped = 0
        self._writer: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        # Pub/sub: the channels wanted, those Redis has confirmed, one task reading them all.
        self._wanted: set[str] = {self._announce_channel}
        self._confirmed: set[str] = set()
        self._confirmed_changed = asyncio.Condition()
        self._resync = asyncio.Event()
        self._subscriber: asyncio.Task[None] | None = None
        self._pubsub_lost = False
        # What this process knows of other instances' generations, and those it is reading.
        self._directory: dict[int, _Known] = {}
        self._remote: dict[int, RemoteGeneration] = {}
        self._next_sweep = 0.0
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

    # -- keys and channels

    def _stream_key(self, message_id: int) -> str:
        return f"{self._prefix}:gen:{{{message_id}}}"

    def _meta_key(self, message_id: int) -> str:
        return f"{self._prefix}:gen:{{{message_id}}}:meta"

    def _alive_key(self, origin: str) -> str:
        return f"{self._prefix}:instance:{origin}"

    def _user_channel(self, user_id: int) -> str:
        return f"{self._prefix}:user:{user_id}"

    # -- the hub interface

    def open(self, message_id: int, conversation_id: int, user_id: int) -> Generation:
        gen = SharedGeneration(message_id, conversation_id, user_id, attempt=uuid.uuid4().hex[:12])
        self._generations[message_id] = gen
        self._directory.pop(message_id, None)
        self._remote.pop(message_id, None)
        self._enqueue(_Open(message_id, conversation_id, user_id, gen.attempt))
        return gen

    def get(self, message_id: int) -> Generation | None:
        self._start()
        gen = self._generations.get(message_id) or self._remote.get(message_id)
        if gen is not None:
            return gen
        known = self._directory.get(message_id)
        if known is None:
            return None
        if known.expires < asyncio.get_running_loop().time():
            del self._directory[message_id]
            return None
        return self._remote_of(message_id, known)

    def _remote_of(self, message_id: int, known: _Known) -> RemoteGeneration:
        return RemoteGeneration(
            message_id, known.conversation_id, known.user_id, attempt=known.attempt, origin=known.origin, _hub=self
        )

    async def lookup(self, message_id: int) -> Generation | None:
        gen = self.get(message_id)
        if gen is not None or self._closed:
            return gen
        try:
            meta = await self._keys.hgetall(self._meta_key(message_id))
        except Exception as exc:
            log.warning("hub.lookup_failed", message_id=message_id, error=repr(exc)[:200])
            return None
        if not meta or meta.get("origin") == self.origin:
            return None  # unknown, or this instance's own (finished and forgotten) one
        expires = self._now() + self._running_ttl_ms / 1000
        known = _Known(
            int(meta["conversation_id"]),
            int(meta["user_id"]),
            str(meta.get("attempt", "")),
            expires,
            str(meta.get("origin", "")),
        )
        self._directory[message_id] = known
        return self._remote_of(message_id, known)

    async def publish(self, gen: Generation, kind: EventKind, data: dict[str, Any], *, final: bool = False) -> None:
        event = await self._record(gen, kind, data, final)
        if isinstance(gen, RemoteGeneration):
            return
        try:
            data_json = json.dumps(data, separators=(",", ":"), default=str)
            attempt = gen.attempt if isinstance(gen, SharedGeneration) else ""
            self._enqueue(
                _Event(gen.message_id, gen.conversation_id, gen.user_id, attempt, event.seq, kind, data_json, final)
            )
        except Exception:  # the generation goes on whatever happens to the copy for Redis
            log.exception("hub.publish_failed", message_id=gen.message_id)

    async def stop(self, message_id: int) -> Generation | None:
        local = self._generations.get(message_id)
        if local is not None:
            local.request_stop()
            return local
        gen = await self.lookup(message_id)
        if isinstance(gen, RemoteGeneration) and not gen.finished:
            signal = {
                "t": "stop",
                "o": self.origin,
                "m": message_id,
                "c": gen.conversation_id,
                "u": gen.user_id,
                "a": gen.attempt,
            }
            try:
                async with asyncio.timeout(5):
                    await self._bus.publish(self._announce_channel, json.dumps(signal, separators=(",", ":")))
            except Exception as exc:  # the caller asks again while it waits, then falls back
                _checkpoint()
                log.warning("hub.stop_not_sent", message_id=message_id, error=repr(exc)[:200])
        return gen

    async def disconnect(
        self, user_id: int, shutdown: Shutdown, *, sid: uuid.UUID | None = None, jti: uuid.UUID | None = None
    ) -> None:
        self._disconnect_local(user_id, shutdown, sid, jti)
        signal = {
            "t": "disconnect",
            "o": self.origin,
            "u": user_id,
            "sid": str(sid) if sid else None,
            "jti": str(jti) if jti else None,
            "code": shutdown.code,
            "reason": shutdown.reason,
            "cause": shutdown.cause,
        }
        try:
            async with asyncio.timeout(5):
                await self._bus.publish(self._user_channel(user_id), json.dumps(signal, separators=(",", ":")))
        except Exception as exc:  # the other instances' sockets still close when their token expires
            _checkpoint()
            log.warning("hub.disconnect_not_sent", user_id=user_id, error=repr(exc)[:200])

    async def erase(self, message_ids: Collection[int]) -> None:
        await super().erase(message_ids)
        for message_id in message_ids:
            self._directory.pop(message_id, None)
            self._remote.pop(message_id, None)
            # Stream and meta share a hash tag: one slot, one command even on a cluster.
            await self._keys.delete(self._stream_key(message_id), self._meta_key(message_id))

    def _first_listener(self, user_id: int) -> None:
        self._start()
        self._wanted.add(self._user_channel(user_id))
        self._resync.set()

    def _last_listener_gone(self, user_id: int) -> None:
        self._wanted.discard(self._user_channel(user_id))
        self._resync.set()

    async def ready(self, user_id: int | None = None, timeout: float = 5.0) -> bool:
        """Whether Redis has confirmed the subscriptions (announcements, and this user's channel
        if given) within ``timeout``: from then on, other instances' events reach this one."""
        self._start()
        channels = {self._announce_channel}
        if user_id is not None:
            channels.add(self._user_channel(user_id))
        async with self._confirmed_changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._confirmed_changed.wait_for(lambda: channels <= self._confirmed)
            except TimeoutError:
                return False
        return True

    async def drain(self, timeout: float) -> None:
        """On shutdown: let running generations finish, send their last events, disconnect."""
        await super().drain(timeout)
        await self.aclose()

    async def aclose(self, flush_timeout: float = 5.0) -> None:
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                if self._writer is not None and not self._writer.done():
                    await self._idle.wait()
        self._closed = True
        tasks = [t for t in (self._writer, self._subscriber, self._heartbeat) if t is not None]
        tasks += [r._reader for r in self._remote.values() if r._reader is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for remote in list(self._remote.values()):
            await remote._end()
        # A clean stop: the answers begun here are finished (drain), so nothing is orphaned.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._keys.delete(self._alive_key(self.origin))
        if self._owns_clients:
            await self._keys.aclose()
            if self._bus is not self._keys:
                await self._bus.aclose()

    # -- background tasks

    def _start(self) -> None:
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside an event loop: started on first use
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_loop(), name="hub-redis-writer")
        if self._subscriber is None or self._subscriber.done():
            self._subscriber = loop.create_task(self._subscribe_loop(), name="hub-redis-subscriber")
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = loop.create_task(self._beat_loop(), name="hub-redis-heartbeat")

    async def _beat_loop(self) -> None:
        """Say this instance runs: followers elsewhere settle its answers once it stops saying so."""
        failing = False
        while True:
            try:
                await self._keys.set(self._alive_key(self.origin), "1", px=self._alive_ttl_ms)
                _checkpoint()
                failing = False
            except Exception as exc:
                _checkpoint()
                if not failing:
                    log.warning("hub.heartbeat_failed", error=repr(exc)[:200])
                failing = True
            await asyncio.sleep(self._alive_ttl_ms / 3000)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _enqueue(self, op: _Op) -> None:
        if self._closed:
            return
        if len(self._pending) >= self._max_pending:
            self._dropped += 1
            if self._dropped == 1:
                log.warning("hub.redis_backlog_full", pending=len(self._pending))
            return
        self._start()
        self._pending.append(op)
        self._idle.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), MAX_BATCH))]
            if self._now() < self._down_until:
                self._dropped += len(batch)
                continue
            try:
                await self._write(batch)
                _checkpoint()
            except Exception as exc:
                _checkpoint()
                if self._dropped == 0:
                    log.warning("hub.redis_unavailable", error=repr(exc)[:200])
                self._dropped += len(batch)
                self._down_until = self._now() + self._retry_seconds
            else:
                if self._dropped:
                    log.warning("hub.redis_back", dropped_events=self._dropped)
                    self._dropped = 0

    async def _write(self, batch: list[_Op]) -> None:
        keys = self._keys.pipeline(transaction=False)
        bus = keys if self._bus is self._keys else self._bus.pipeline(transaction=False)
        ttl: dict[int, int] = {}
        for op in batch:
            stream, meta = self._stream_key(op.message_id), self._meta_key(op.message_id)
            if isinstance(op, _Open):
                keys.delete(stream, meta)  # a retry reuses the message id
                keys.hset(
                    meta,
                    mapping={
                        "user_id": op.user_id,
                        "conversation_id": op.conversation_id,
                        "attempt": op.attempt,
                        "origin": self.origin,
                        "alive": "1",  # this instance beats: followers may check it (_settled)
                    },
                )
                ttl[op.message_id] = self._running_ttl_ms
                bus.publish(self._announce_channel, self._announcement("open", op))
                continue
            keys.xadd(
                stream,
                {
                    "seq": op.seq,
                    "kind": op.kind,
                    "data": op.data_json,
                    "final": "1" if op.final else "0",
                    "attempt": op.attempt,
                },
                maxlen=self._maxlen,
                approximate=True,
            )
            bus.publish(
                self._user_channel(op.user_id),
                f'{{"o":"{self.origin}","u":{op.user_id},"m":{op.message_id},"c":{op.conversation_id},'
                f'"s":{op.seq},"k":"{op.kind}","d":{op.data_json}}}',
            )
            ttl[op.message_id] = self._keep_ms if op.final else self._running_ttl_ms
            if op.final:
                bus.publish(self._announce_channel, self._announcement("done", op))
        for message_id, ms in ttl.items():
            keys.pexpire(self._stream_key(message_id), ms)
            keys.pexpire(self._meta_key(message_id), ms)
        results = list(await keys.execute(raise_on_error=False))
        if bus is not keys:
            results += await bus.execute(raise_on_error=False)
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            log.warning("hub.redis_commands_failed", count=len(errors), error=repr(errors[0])[:200])

    def _announcement(self, what: Literal["open", "done"], op: _Op) -> str:
        return json.dumps(
            {
                "t": what,
                "o": self.origin,
                "m": op.message_id,
                "c": op.conversation_id,
                "u": op.user_id,
                "a": op.attempt,
            },
            separators=(",", ":"),
        )

    async def _subscribe_loop(self) -> None:
        while True:
            pubsub = self._bus.pubsub()
            try:
                await self._listen_on(pubsub)
            except Exception as exc:
                _checkpoint()
                if not self._pubsub_lost:
                    log.warning("hub.pubsub_lost", error=repr(exc)[:200])
                self._pubsub_lost = True
            finally:
                async with self._confirmed_changed:
                    self._confirmed.clear()
                    self._confirmed_changed.notify_all()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(self._retry_seconds)

    async def _listen_on(self, pubsub: PubSub) -> None:
        subscribed = set(self._wanted)
        await pubsub.subscribe(*subscribed)
        _checkpoint()
        if self._pubsub_lost:
            log.warning("hub.pubsub_back", channels=len(subscribed))
            self._pubsub_lost = False

        async def sync() -> None:
            while True:
                self._resync.clear()
                wanted = set(self._wanted)
                if add := wanted - subscribed:
                    await pubsub.subscribe(*add)
                    _checkpoint()
                    subscribed.update(add)
                if drop := subscribed - wanted:
                    await pubsub.unsubscribe(*drop)
                    _checkpoint()
                    subscribed.difference_update(drop)
                await self._resync.wait()

        async def read() -> None:
            loop = asyncio.get_running_loop()
            heard = loop.time()
            while True:
                message = await pubsub.get_message(timeout=PING_SECONDS)
                _checkpoint()
                if message is not None:
                    heard = loop.time()
                    await self._on_pubsub(message)
                elif loop.time() - heard > 2.5 * PING_SECONDS:
                    raise ConnectionError("the pub/sub connection went silent")
                else:
                    await pubsub.ping()
                    _checkpoint()

        tasks = {asyncio.create_task(sync()), asyncio.create_task(read())}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5)

    async def _on_pubsub(self, message: dict[str, Any]) -> None:
        kind, channel = message.get("type"), message.get("channel")
        if kind in ("subscribe", "unsubscribe"):
            async with self._confirmed_changed:
                (self._confirmed.add if kind == "subscribe" else self._confirmed.discard)(str(channel))
                self._confirmed_changed.notify_all()
            return
        if kind != "message":
            return
        try:
            body = json.loads(message["data"])
            if body["o"] == self.origin:
                return  # published here: local listeners already have it
            if channel == self._announce_channel:
                await self._on_announcement(body)
            elif body.get("t") == "disconnect":
                sid, jti = body.get("sid"), body.get("jti")
                self._disconnect_local(
                    int(body["u"]),
                    Shutdown(int(body["code"]), str(body["reason"]), str(body["cause"])),
                    uuid.UUID(sid) if sid else None,
                    uuid.UUID(jti) if jti else None,
                )
            elif body["k"] in EVENT_KINDS:
                event = TurnEvent(body["k"], int(body["s"]), int(body["m"]), int(body["c"]), body["d"])
                self._deliver(int(body["u"]), event)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("hub.bad_pubsub_message", channel=channel, error=repr(exc)[:200])

    async def _on_announcement(self, body: dict[str, Any]) -> None:
        now = self._now()
        message_id, attempt = int(body["m"]), str(body["a"])
        known = self._directory.get(message_id)
        if body["t"] == "stop":
            local = self._generations.get(message_id)
            if isinstance(local, SharedGeneration) and local.attempt == attempt:
                local.request_stop()
            return
        if body["t"] == "open":
            self._directory[message_id] = _Known(
                int(body["c"]), int(body["u"]), attempt, now + self._running_ttl_ms / 1000, str(body["o"])
            )
            # A retry of an answer this process knew: what it had is the previous attempt.
            local = self._generations.get(message_id)
            if local is not None and local.finished:
                del self._generations[message_id]
            remote = self._remote.pop(message_id, None)
            if remote is not None and remote.attempt != attempt:
                await remote._end()  # its stream is gone
            elif remote is not None:
                self._remote[message_id] = remote
        elif known is not None and known.attempt == attempt:
            known.expires = now + self._keep_ms / 1000
        if now >= self._next_sweep:
            self._next_sweep = now + 30.0
            for stale in [m for m, k in self._directory.items() if k.expires < now]:
                del self._directory[stale]

    def _forget(self, message_id: int) -> None:
        """The generation is gone from Redis: later resumes fall back to the database."""
        self._directory.pop(message_id, None)
