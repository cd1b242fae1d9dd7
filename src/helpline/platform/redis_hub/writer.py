"""What the hub writes to Redis: answers' streams, meta hashes and announcements, through one
background writer that pipelines whatever has queued up (publishing never waits for Redis and
never fails: with Redis slow or down, events are dropped for the other instances, logged, and the
answer is still generated, served locally and stored); and the instance's heartbeat."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Literal

import structlog
from redis.asyncio import Redis, RedisCluster

from helpline.platform.redis_hub.keys import Keys, checkpoint, compact

log = structlog.get_logger("helpline.platform.redis_hub")

MAX_BATCH = 512  # queued operations sent in one pipeline


@dataclass(frozen=True, slots=True)
class Open:
    message_id: int
    conversation_id: int
    user_id: int
    attempt: str


@dataclass(frozen=True, slots=True)
class Event:
    message_id: int
    conversation_id: int
    user_id: int
    attempt: str
    seq: int
    kind: str
    data_json: str
    final: bool


Op = Open | Event


class BatchWriter:
    """Operations waiting for Redis, sent in order by one task."""

    def __init__(
        self,
        keys: Redis | RedisCluster,
        bus: Redis,
        names: Keys,
        origin: str,
        *,
        running_ttl_ms: int,
        keep_ms: int,
        maxlen: int,
        max_pending: int,
        retry_seconds: float,
    ) -> None:
        self._keys = keys
        self._bus = bus
        self._names = names
        self._origin = origin
        self._running_ttl_ms = running_ttl_ms
        self._keep_ms = keep_ms
        self._maxlen = maxlen
        self._max_pending = max_pending
        self._retry_seconds = retry_seconds
        self._pending: collections.deque[Op] = collections.deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing is queued or being written
        self._down_until = 0.0
        self._dropped = 0
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._loop(), name="hub-redis-writer")

    def enqueue(self, op: Op) -> bool:
        """Queue an operation; False when it was dropped (closed, or the backlog is full)."""
        if self.closed:
            return False
        if len(self._pending) >= self._max_pending:
            self._dropped += 1
            if self._dropped == 1:
                log.warning("hub.redis_backlog_full", pending=len(self._pending))
            return False
        self._pending.append(op)
        self._idle.clear()
        self._wake.set()
        return True

    async def flushed(self) -> None:
        """Return once everything queued has been written (or dropped)."""
        if self.task is not None and not self.task.done():
            await self._idle.wait()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _loop(self) -> None:
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
                checkpoint()
            except Exception as exc:
                checkpoint()
                if self._dropped == 0:
                    log.warning("hub.redis_unavailable", error=repr(exc)[:200])
                self._dropped += len(batch)
                self._down_until = self._now() + self._retry_seconds
            else:
                if self._dropped:
                    log.warning("hub.redis_back", dropped_events=self._dropped)
                    self._dropped = 0

    async def _write(self, batch: list[Op]) -> None:
        names = self._names
        keys = self._keys.pipeline(transaction=False)
        bus = keys if self._bus is self._keys else self._bus.pipeline(transaction=False)
        ttl: dict[int, int] = {}
        for op in batch:
            stream, meta = names.stream(op.message_id), names.meta(op.message_id)
            if isinstance(op, Open):
                keys.delete(stream, meta)  # a retry reuses the message id
                keys.hset(
                    meta,
                    mapping={
                        "user_id": op.user_id,
                        "conversation_id": op.conversation_id,
                        "attempt": op.attempt,
                        "origin": self._origin,
                        "alive": "1",  # this instance beats: followers may check it (reader.settled)
                    },
                )
                ttl[op.message_id] = self._running_ttl_ms
                bus.publish(names.announcements, self._announcement("open", op))
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
                names.user_channel(op.user_id),
                f'{{"o":"{self._origin}","u":{op.user_id},"m":{op.message_id},"c":{op.conversation_id},'
                f'"s":{op.seq},"k":"{op.kind}","d":{op.data_json}}}',
            )
            ttl[op.message_id] = self._keep_ms if op.final else self._running_ttl_ms
            if op.final:
                bus.publish(names.announcements, self._announcement("done", op))
        for message_id, ms in ttl.items():
            keys.pexpire(names.stream(message_id), ms)
            keys.pexpire(names.meta(message_id), ms)
        results = list(await keys.execute(raise_on_error=False))
        if bus is not keys:
            results += await bus.execute(raise_on_error=False)
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            log.warning("hub.redis_commands_failed", count=len(errors), error=repr(errors[0])[:200])

    def _announcement(self, what: Literal["open", "done"], op: Op) -> str:
        return compact(
            {
                "t": what,
                "o": self._origin,
                "m": op.message_id,
                "c": op.conversation_id,
                "u": op.user_id,
                "a": op.attempt,
            }
        )


class Heartbeat:
    """A key ``{prefix}:instance:<origin>`` saying this instance runs, refreshed every third of its
    TTL and deleted on a clean stop: followers elsewhere settle its answers once it is gone."""

    def __init__(self, keys: Redis | RedisCluster, names: Keys, origin: str, *, ttl_ms: int) -> None:
        self._keys = keys
        self._key = names.alive(origin)
        self._ttl_ms = ttl_ms
        self.task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._loop(), name="hub-redis-heartbeat")

    async def _loop(self) -> None:
        failing = False
        while True:
            try:
                await self._keys.set(self._key, "1", px=self._ttl_ms)
                checkpoint()
                failing = False
            except Exception as exc:
                checkpoint()
                if not failing:
                    log.warning("hub.heartbeat_failed", error=repr(exc)[:200])
                failing = True
            await asyncio.sleep(self._ttl_ms / 3000)

    async def stopped(self) -> None:
        """A clean stop (after the task is cancelled): the answers begun here are finished."""
        await self._keys.delete(self._key)
