"""Fan-out of answers being generated: every answer has an ordered event log that any number of
listeners follow (the request that started it, an SSE client that reconnects with Last-Event-ID,
the user's WebSocket connections), and generation never depends on them.

``Hub`` is the interface; two implement it. ``GenerationHub`` keeps everything in this process:
enough for one instance (and the embedded mode, which needs no Redis). With several instances,
``create_hub`` picks the Redis-backed hub (helpline.platform.redis_hub), which keeps its own
generations in a ``GenerationHub`` too and shares the logs and the per-user fan-out between
instances. tests/platform/test_contracts.py holds both to the same contract.

``stop()`` cuts an answer short (the user's Stop button): the generating task is cancelled while
the model answers, and stores and publishes what it has, as a finished answer marked stopped.

Each WebSocket listens through a ``Listener``: a bounded queue that the fan-out never waits on.
A socket whose queue is full (its client does not read) is shut instead, and so are the
sockets ``disconnect()`` names (a logout, a password change, a suspension)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

import structlog

if TYPE_CHECKING:
    from helpline.core.config import Settings

log = structlog.get_logger(__name__)

# agent: a person's reply; handoff: the conversation changed hands (helpline.support).
EventKind = Literal["typing", "token", "replace", "response", "error", "agent", "handoff"]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))
CLOSE_SLOW_CONSUMER = 1008  # policy violation: the client lets frames pile up unread


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Why a listener's socket must close: the WebSocket close code and reason, and a short
    cause for logs and metrics."""

    code: int
    reason: str
    cause: str


class Listener(asyncio.Queue[Any]):
    """One socket's share of a user's fan-out: the frames to send it (bounded), which login it
    belongs to (``sid``, and ``jti`` for tokens from before sids), and a shutdown request that
    never waits behind queued frames. Nothing that feeds it ever blocks: ``offer()`` on a full
    queue shuts the listener instead of waiting for a client that does not read."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.sid: uuid.UUID | None = None
        self.jti: uuid.UUID | None = None
        self.shutdown: Shutdown | None = None
        self.shut_down = asyncio.Event()

    def offer(self, item: Any) -> bool:
        """Queue a frame; False (and the listener shut) when the queue is full."""
        if self.shutdown is not None:
            return False
        try:
            self.put_nowait(item)
        except asyncio.QueueFull:
            self.shut(Shutdown(CLOSE_SLOW_CONSUMER, "Too many frames left unread", "slow_consumer"))
            return False
        return True

    def shut(self, shutdown: Shutdown) -> None:
        """Ask the socket to close (the first request wins); queued frames are dropped."""
        if self.shutdown is None:
            self.shutdown = shutdown
            self.shut_down.set()

    def belongs_to(self, sid: uuid.UUID | None, jti: uuid.UUID | None) -> bool:
        """Whether a disconnect for this login (sid) or token (jti) concerns this socket; with
        neither, every socket of the user is concerned."""
        if sid is None and jti is None:
            return True
        return (sid is not None and self.sid == sid) or (jti is not None and self.jti == jti)


@dataclass(frozen=True, slots=True)
class TurnEvent:
    kind: EventKind
    seq: int
    message_id: int
    conversation_id: int
    data: dict[str, Any]


@dataclass
class Generation:
    message_id: int
    conversation_id: int
    user_id: int
    events: list[TurnEvent] = field(default_factory=list)
    finished: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    # Stopping (the user's Stop button): the task generating here, whether it is still in the
    # part that may be cut short (the model answering), and whether a stop was asked for.
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    stoppable: bool = False
    stop_requested: bool = False
    # Its log ended without a final event because the instance generating it died: nobody will
    # finish it (the Redis hub sets it; followers then settle the stored answer).
    orphaned: bool = False

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    def _has_news(self, index: int) -> bool:
        return index < len(self.events) or self.finished

    def request_stop(self) -> None:
        """Cut the model's answer short, if it is being generated in this process. The generation
        stores what it has so far and publishes its final event (``stopped`` set) as usual. Once
        the model has finished, a stop changes nothing: the answer is being stored whole."""
        if self.finished:
            return
        self.stop_requested = True
        # Only while the model answers: a cancellation must never interrupt storing the answer.
        if self.stoppable and self.task is not None and not self.task.done():
            self.task.cancel()

    async def follow(self, after_seq: int = 0) -> AsyncIterator[TurnEvent]:
        """Events with seq > after_seq, live, until the generation has finished."""
        index = next((i for i, e in enumerate(self.events) if e.seq > after_seq), len(self.events))
        while True:
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._has_news, index))
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event.seq > after_seq:  # a log filled from elsewhere may start before after_seq
                    yield event
            if self.finished and index >= len(self.events):
                return


@runtime_checkable
class Hub(Protocol):
    """Answers' event logs, the users' WebSocket fan-out, and Stop (the module's docstring)."""

    def open(self, message_id: int, conversation_id: int, user_id: int) -> Generation:
        """Start the log of an answer generated here (a retry reopens the same message id)."""
        ...

    def get(self, message_id: int) -> Generation | None:
        """The answer's generation if this process knows it (here, or announced by another)."""
        ...

    async def lookup(self, message_id: int) -> Generation | None:
        """Like get(), and may ask a shared store about generations this process has not heard of."""
        ...

    async def publish(self, gen: Generation, kind: EventKind, data: dict[str, Any], *, final: bool = False) -> None:
        """Append an event to the log (``final``: the last), for its followers and the user's listeners."""
        ...

    def run(self, coro: Coroutine[Any, Any, None], gen: Generation | None = None) -> None:
        """Run a generation detached from the request (``stop()`` can cut it when ``gen`` is given)."""
        ...

    async def stop(self, message_id: int) -> Generation | None:
        """Ask the answer's generation to stop, wherever it runs: the generation to follow for its
        final event, or None when nobody generates it. Asking again is harmless."""
        ...

    def listener_count(self, user_id: int) -> int:
        """The user's listeners (open WebSockets) in this process."""
        ...

    def listeners(self, user_id: int) -> set[Listener]:
        """The user's listeners in this process (a copy)."""
        ...

    async def disconnect(
        self, user_id: int, shutdown: Shutdown, *, sid: uuid.UUID | None = None, jti: uuid.UUID | None = None
    ) -> None:
        """Shut the user's sockets of one login (``sid``), one token (``jti``), or all, everywhere."""
        ...

    async def erase(self, message_ids: Collection[int]) -> None:
        """Stop and forget these answers (an erased account's, a deleted conversation's)."""
        ...

    async def orphaned(self, message_ids: Collection[int]) -> list[int]:
        """Those of these answers that nobody will finish: the instance generating them stopped
        saying it runs (killed, crashed). Answers it cannot tell about are left out."""
        ...

    def listen(self, user_id: int, maxsize: int = 0) -> AbstractContextManager[Listener]:
        """A bounded queue of every event of the user's answers, while the context lasts."""
        ...

    async def drain(self, timeout: float) -> None:
        """On shutdown: let running generations finish and store their answers."""
        ...


def create_hub(settings: Settings) -> Hub:
    """The Redis-backed hub when Redis is configured (several instances), else the in-process one."""
    if settings.redis.url is None:
        return GenerationHub()
    from helpline.platform.redis_hub import RedisGenerationHub

    return RedisGenerationHub.from_settings(settings)


class GenerationHub:
    """The in-process hub. The Redis hub keeps its own generations and listeners in one too
    (``add``, ``record``, ``deliver``, ``disconnect_here`` and the listener callbacks are for it)."""

    def __init__(
        self,
        keep_finished_seconds: float = 300.0,
        *,
        on_first_listener: Callable[[int], None] | None = None,
        on_last_listener: Callable[[int], None] | None = None,
    ) -> None:
        self._generations: dict[int, Generation] = {}
        self._listeners: dict[int, set[Listener]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._keep = keep_finished_seconds
        # Told when this process starts, and stops, listening to a user (the Redis hub subscribes).
        self._on_first_listener = on_first_listener
        self._on_last_listener = on_last_listener

    def open(self, message_id: int, conversation_id: int, user_id: int) -> Generation:
        return self.add(Generation(message_id, conversation_id, user_id))

    def add(self, gen: Generation) -> Generation:
        """Keep a generation made elsewhere (a subclass of Generation) as this process's."""
        self._generations[gen.message_id] = gen
        return gen

    def get(self, message_id: int) -> Generation | None:
        return self._generations.get(message_id)

    def forget(self, message_id: int) -> Generation | None:
        return self._generations.pop(message_id, None)

    async def lookup(self, message_id: int) -> Generation | None:
        return self.get(message_id)

    async def publish(self, gen: Generation, kind: EventKind, data: dict[str, Any], *, final: bool = False) -> None:
        await self.record(gen, kind, data, final)

    async def record(self, gen: Generation, kind: EventKind, data: dict[str, Any], final: bool) -> TurnEvent:
        """Append to the generation's log, wake its followers, hand the event to local listeners."""
        event = TurnEvent(kind, gen.last_seq + 1, gen.message_id, gen.conversation_id, data)
        async with gen._changed:
            gen.events.append(event)
            if final:
                gen.finished = True
            gen._changed.notify_all()
        self.deliver(gen.user_id, event)
        if final:
            asyncio.get_running_loop().call_later(self._keep, self._forget_local, gen)
        return event

    def deliver(self, user_id: int, event: TurnEvent) -> None:
        """Hand an event to the user's listeners in this process."""
        for listener in self._listeners.get(user_id, ()):
            listener.offer(event)  # never waits: a socket that does not read is shut instead

    def _forget_local(self, gen: Generation) -> None:
        # Only this generation: a retry may have opened a new one under the same message id since.
        if self._generations.get(gen.message_id) is gen:
            del self._generations[gen.message_id]

    def run(self, coro: Coroutine[Any, Any, None], gen: Generation | None = None) -> None:
        """Run a generation detached from the request: a client that leaves does not stop it
        (``stop()`` does, when ``gen`` is given)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if gen is not None:
            gen.task = task

    async def stop(self, message_id: int) -> Generation | None:
        gen = self._generations.get(message_id)
        if gen is not None:
            gen.request_stop()
        return gen

    def listener_count(self, user_id: int) -> int:
        return len(self._listeners.get(user_id, ()))

    def listeners(self, user_id: int) -> set[Listener]:
        """The user's listeners in this process (a copy)."""
        return set(self._listeners.get(user_id, ()))

    async def disconnect(
        self, user_id: int, shutdown: Shutdown, *, sid: uuid.UUID | None = None, jti: uuid.UUID | None = None
    ) -> None:
        """Never raises."""
        self.disconnect_here(user_id, shutdown, sid, jti)

    def disconnect_here(self, user_id: int, shutdown: Shutdown, sid: uuid.UUID | None, jti: uuid.UUID | None) -> None:
        """Shut the sockets of this process that the disconnect names."""
        for listener in list(self._listeners.get(user_id, ())):
            if listener.belongs_to(sid, jti):
                listener.shut(shutdown)

    async def orphaned(self, message_ids: Collection[int]) -> list[int]:
        """None that it can tell: in one process, a generation that is not here may be another
        process's (the worker's view), and a dead process's answers are swept at the next start."""
        return []

    async def erase(self, message_ids: Collection[int]) -> None:
        """Stop any still being generated here and forget their events (privacy.erasure)."""
        for message_id in message_ids:
            gen = self._generations.pop(message_id, None)
            if gen is not None:
                gen.request_stop()

    @contextlib.contextmanager
    def listen(self, user_id: int, maxsize: int = 0) -> Iterator[Listener]:
        """A queue receiving every event of this user's generations (for WebSocket fan-out);
        the socket may put its own frames into it too (``offer``). ``maxsize`` bounds it."""
        queue = Listener(maxsize)
        listeners = self._listeners.setdefault(user_id, set())
        listeners.add(queue)
        if len(listeners) == 1 and self._on_first_listener is not None:
            self._on_first_listener(user_id)
        try:
            yield queue
        finally:
            listeners = self._listeners.get(user_id, set())
            listeners.discard(queue)
            if not listeners:
                self._listeners.pop(user_id, None)
                if self._on_last_listener is not None:
                    self._on_last_listener(user_id)

    async def drain(self, timeout: float) -> None:
        """On shutdown: let running generations finish and store their answers."""
        if self._tasks:
            log.info("generations.draining", running=len(self._tasks))
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
