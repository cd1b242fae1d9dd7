"""Following an answer generated on another instance: its Redis stream, read (XREAD BLOCK,
``block_ms`` at a time) by one task per answer and process, into a local copy of the log that the
answer's followers here share. A silence makes the reader look whether the answer is gone (its keys
expired or deleted) or orphaned (the instance generating it stopped beating)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from redis.asyncio import Redis, RedisCluster

from helpline.platform.hub import EVENT_KINDS, EventKind, Generation, TurnEvent
from helpline.platform.redis_hub.keys import Keys, cancelling, checkpoint

log = structlog.get_logger("helpline.platform.redis_hub")

READ_COUNT = 1000  # stream entries read at a time


class StreamReader:
    """The answers of other instances that this process reads, and how it reads them."""

    def __init__(
        self,
        keys: Redis | RedisCluster,
        names: Keys,
        *,
        block_ms: int,
        retry_seconds: float,
        give_up_seconds: float,
        on_gone: Callable[[int], None],
    ) -> None:
        self._keys = keys
        self._names = names
        self._block_ms = block_ms
        self._retry_seconds = retry_seconds
        self._give_up_seconds = give_up_seconds
        self._on_gone = on_gone  # the answer is gone from Redis: later resumes use the database
        # The generations being followed here (each with its reader task).
        self.remote: dict[int, RemoteGeneration] = {}
        self.closed = False

    def generation(
        self, message_id: int, conversation_id: int, user_id: int, attempt: str, origin: str
    ) -> RemoteGeneration:
        return RemoteGeneration(message_id, conversation_id, user_id, attempt=attempt, origin=origin, _source=self)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [r._reader for r in self.remote.values() if r._reader is not None]

    async def end_all(self) -> None:
        for remote in list(self.remote.values()):
            await remote._end()

    async def read(self, gen: RemoteGeneration) -> None:
        stream = self._names.stream(gen.message_id)
        loop = asyncio.get_running_loop()
        failing_since: float | None = None
        try:
            while not gen.finished:
                try:
                    reply = await self._keys.xread({stream: gen._cursor}, count=READ_COUNT, block=self._block_ms)
                    checkpoint()
                    if not reply:
                        settled = await self._settled(gen)
                        checkpoint()
                        if settled:
                            self._on_gone(gen.message_id)
                            return
                    failing_since = None
                except Exception as exc:
                    checkpoint()
                    now = loop.time()
                    if failing_since is None:
                        failing_since = now
                        log.warning("hub.follow_failed", message_id=gen.message_id, error=repr(exc)[:200])
                    elif now - failing_since > self._give_up_seconds:
                        self._on_gone(gen.message_id)
                        return
                    await asyncio.sleep(self._retry_seconds)
                    continue
                await gen._append(stream_entries(reply))
        except Exception:
            log.exception("hub.follow_crashed", message_id=gen.message_id)
        finally:
            if not gen.finished and not cancelling():
                await gen._end()

    async def _settled(self, gen: RemoteGeneration) -> bool:
        """After a silence: whether no event will ever come (the answer's keys are gone, or the
        instance generating it stopped beating: then it is ``orphaned``)."""
        meta = await self._keys.hgetall(self._names.meta(gen.message_id))
        if not meta and not await self._keys.exists(self._names.stream(gen.message_id)):
            log.info("hub.generation_vanished", message_id=gen.message_id)
            return True
        # Only an instance that beats says so in the meta (one of an older version never would).
        origin = str(meta.get("origin", ""))
        if meta.get("attempt") != gen.attempt or meta.get("alive") != "1" or not origin:
            return False
        if await self._keys.exists(self._names.alive(origin)):
            return False
        log.warning("hub.generation_orphaned", message_id=gen.message_id, origin=origin)
        gen.orphaned = True
        return True


@dataclass
class RemoteGeneration(Generation):
    """A generation running on another instance, read from its Redis stream. One reader task
    per process and generation fills the local copy of the log; its followers share it."""

    attempt: str = ""
    origin: str = ""  # the instance generating it (its heartbeat tells whether it still runs)
    _source: StreamReader | None = field(default=None, repr=False)
    _cursor: str = "0-0"  # the last stream entry read
    _reader: asyncio.Task[None] | None = field(default=None, repr=False)
    _followers: int = 0

    async def follow(self, after_seq: int = 0) -> AsyncIterator[TurnEvent]:
        source = self._source
        assert source is not None
        if source.closed and not self.finished:
            return  # shutting down: the client resumes elsewhere
        self._followers += 1
        source.remote.setdefault(self.message_id, self)
        if not self.finished and (self._reader is None or self._reader.done()):
            self._reader = asyncio.create_task(source.read(self))
        try:
            async for event in super().follow(after_seq):
                yield event
        finally:
            self._followers -= 1
            if self._followers == 0:
                if self._reader is not None:
                    self._reader.cancel()
                if source.remote.get(self.message_id) is self:
                    del source.remote[self.message_id]

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


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREAD's reply for one stream, as RESP2 ([[key, entries]]) or RESP3 ({key: [entries]})."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        return list(entries[0])
    return list(reply[0][1])
