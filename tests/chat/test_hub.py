"""The generation hub: in-process, and shared between instances through a real Redis (two hub
objects on one Redis behave as two app instances; keys under a unique prefix, removed after)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import uvicorn
import websockets
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from helpline.core.config import RedisSettings
from helpline.core.runtime import Runtime
from helpline.main import create_app
from helpline.platform.hub import Generation, GenerationHub, Hub, Shutdown, TurnEvent, create_hub
from helpline.platform.redis_hub import RedisGenerationHub, RemoteGeneration
from tests.chat.conftest import eventually
from tests.chat.fakes import KeywordModerator, ScriptedProvider
from tests.chat.test_stream import parse_sse, read_events, recv, until
from tests.conftest import REDIS_URL, bearer, login, make_settings, signed_in

HubFactory = Callable[..., RedisGenerationHub]
ANSWER = "Hello there, how can I help?"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    name = f"hltest:{uuid.uuid4().hex[:12]}"
    yield name
    keys = [k async for k in redis.scan_iter(match=f"{name}:*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def hubs(prefix: str) -> AsyncIterator[HubFactory]:
    """Make hubs ("instances") sharing one Redis and key prefix; all closed at the end."""
    made: list[RedisGenerationHub] = []

    def make(url: str = REDIS_URL, **kwargs: Any) -> RedisGenerationHub:
        kwargs.setdefault("block_ms", 200)
        hub = RedisGenerationHub.from_url(url, prefix=prefix, **kwargs)
        made.append(hub)
        return hub

    try:
        yield make
    finally:
        for hub in made:
            await hub.aclose(flush_timeout=1)


async def soon(check: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until ``check()`` (plain or awaitable) is truthy."""

    async def checked() -> bool:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    await eventually(checked, timeout)


async def get_event(queue: asyncio.Queue[Any]) -> TurnEvent:
    item = await asyncio.wait_for(queue.get(), 5)
    assert isinstance(item, TurnEvent)
    return item


async def known(hub: Hub, message_id: int) -> Generation:
    """The generation once the hub has heard of it (other instances announce theirs)."""

    await soon(lambda: hub.get(message_id) is not None)
    gen = hub.get(message_id)
    assert gen is not None
    return gen


async def collect(gen: Generation, after_seq: int = 0) -> list[TurnEvent]:
    async with asyncio.timeout(5):
        return [e async for e in gen.follow(after_seq)]


async def answer(hub: Hub, gen: Generation, tokens: list[str]) -> None:
    await hub.publish(gen, "typing", {"message_id": gen.message_id})
    for text in tokens:
        await hub.publish(gen, "token", {"content": text})
    await hub.publish(gen, "response", {"content": "".join(tokens), "status": "sent"}, final=True)


# -- in-process hub


async def test_in_process_hub_follows_listens_and_forgets(tmp_path: Path) -> None:
    hub = create_hub(make_settings("postgresql+asyncpg://u@localhost/none", tmp_path))
    assert type(hub) is GenerationHub
    hub._keep = 0.2
    with hub.listen(1) as mine, hub.listen(2) as theirs:
        gen = hub.open(10, 3, 1)
        await hub.publish(gen, "typing", {})
        await hub.publish(gen, "token", {"content": "Hi"})
        follower = asyncio.create_task(collect(gen, after_seq=1))
        await hub.publish(gen, "token", {"content": "!"})
        await hub.publish(gen, "response", {"content": "Hi!"}, final=True)
        assert [(e.seq, e.kind) for e in await follower] == [(2, "token"), (3, "token"), (4, "response")]
        assert [(await get_event(mine)).seq for _ in range(4)] == [1, 2, 3, 4]
        assert mine.empty()
        assert theirs.empty()
    assert hub._listeners == {}
    assert hub.get(10) is gen
    assert await hub.lookup(10) is gen
    # A retry reopens the same message id before the first attempt is forgotten: the new one stays.
    again = hub.open(10, 3, 1)
    await asyncio.sleep(0.3)
    assert hub.get(10) is again
    await hub.publish(again, "error", {}, final=True)
    await soon(lambda: hub.get(10) is None)


# -- two instances sharing Redis


async def test_the_runtime_picks_the_redis_hub_when_redis_is_configured(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://u@localhost/none"
    settings = make_settings(url, tmp_path, redis=RedisSettings(url=REDIS_URL))
    runtime = Runtime.build(settings, url, llm=ScriptedProvider(), moderator=KeywordModerator())
    try:
        assert isinstance(runtime.hub, RedisGenerationHub)
        assert await runtime.hub.ready()
    finally:
        await runtime.close()


async def test_a_listener_on_another_instance_gets_each_event_once(hubs: HubFactory) -> None:
    a, b = hubs(), hubs()
    with a.listen(7) as on_a, b.listen(7) as on_b, b.listen(7) as on_b_too, b.listen(8) as other_user:
        assert await a.ready(7)
        assert await b.ready(7)
        assert await b.ready(8)
        gen = a.open(100, 5, 7)
        await answer(a, gen, ["Hello", " there"])
        for queue in (on_a, on_b, on_b_too):
            got = [await get_event(queue) for _ in range(4)]
            assert [(e.seq, e.kind) for e in got] == [(1, "typing"), (2, "token"), (3, "token"), (4, "response")]
            assert {(e.message_id, e.conversation_id) for e in got} == {(100, 5)}
            assert got[-1].data == {"content": "Hello there", "status": "sent"}
        # Nothing more comes: a later event is the very next one everywhere, and then no more.
        marker = a.open(101, 5, 7)
        await a.publish(marker, "typing", {})
        for queue in (on_b, on_b_too, on_a):
            assert (await get_event(queue)).message_id == 101
        await asyncio.sleep(0.1)
        assert on_a.empty()
        assert on_b.empty()
        assert other_user.empty()
    await soon(lambda: b.subscriber.wanted == {b.names.announcements})


async def test_hubs_on_two_databases_of_one_redis_do_not_hear_each_other(hubs: HubFactory) -> None:
    # Pub/sub ignores the database number: without it in the channel names, a deployment (or a
    # test worker) on database 3 would get database 4's events for its own user 7.
    head, _, db = REDIS_URL.rpartition("/")
    here, elsewhere = hubs(), hubs(f"{head}/{int(db or 0) ^ 1}")
    with here.listen(7) as mine, elsewhere.listen(7) as theirs:
        assert await here.ready(7)
        assert await elsewhere.ready(7)
        await answer(elsewhere, elsewhere.open(300, 5, 7), ["Not yours"])
        assert (await get_event(theirs)).message_id == 300
        await elsewhere.disconnect(7, Shutdown(4401, "Signed out", "signed_out"))
        await asyncio.sleep(0.2)
        assert mine.empty()
        assert mine.shutdown is None
        assert theirs.shutdown is not None


async def test_follow_on_another_instance_replays_then_continues_live(hubs: HubFactory) -> None:
    a, b = hubs(), hubs()
    assert await b.ready()
    gen = a.open(200, 9, 7)
    await a.publish(gen, "typing", {})
    await a.publish(gen, "token", {"content": "Hello"})
    remote = await known(b, 200)
    assert isinstance(remote, RemoteGeneration)
    assert (remote.user_id, remote.conversation_id) == (7, 9)  # the router's ownership check
    received: list[TurnEvent] = []

    async def follow() -> None:
        async for event in remote.follow(1):
            received.append(event)

    follower = asyncio.create_task(follow())
    await soon(lambda: len(received) == 1)
    assert received[0].data == {"content": "Hello"}
    await a.publish(gen, "token", {"content": " there"})
    await soon(lambda: len(received) == 2)  # live, before the answer ends
    await a.publish(gen, "response", {"content": "Hello there"}, final=True)
    await asyncio.wait_for(follower, 5)
    assert [(e.seq, e.kind) for e in received] == [(2, "token"), (3, "token"), (4, "response")]
    assert b.reader.remote == {}  # the reader is gone with its last follower
    # After the end, the log is still there to replay from any point, as on the instance that made it.
    assert [e.seq for e in await collect(await known(b, 200), 0)] == [1, 2, 3, 4]
    assert [e.seq for e in await collect(await known(b, 200), 3)] == [4]


async def test_lookup_finds_an_answer_announced_before_this_instance_listened(hubs: HubFactory, redis: Redis) -> None:
    a = hubs()
    gen = a.open(300, 4, 11)
    await a.publish(gen, "typing", {})
    await soon(lambda: redis.exists(a.names.meta(300)))
    late = hubs()
    assert late.get(300) is None  # it missed the announcement
    found = await late.lookup(300)
    assert isinstance(found, RemoteGeneration)
    assert (found.user_id, found.conversation_id) == (11, 4)
    assert late.get(300) is not None
    follower = asyncio.create_task(collect(found))
    await a.publish(gen, "response", {"content": "ok"}, final=True)
    assert [e.kind for e in await follower] == ["typing", "response"]
    assert await late.lookup(999_999) is None


async def test_a_finished_answer_expires_and_a_vanished_one_ends_its_followers(hubs: HubFactory, redis: Redis) -> None:
    a, b = hubs(keep_finished_seconds=0.3), hubs(keep_finished_seconds=0.3)
    assert await b.ready()
    done = a.open(400, 1, 1)
    await answer(a, done, ["x"])
    await known(b, 400)
    stream = a.names.stream(400)
    await soon(lambda: redis.exists(stream))
    assert 0 < await redis.pttl(stream) <= 300
    assert 0 < await redis.pttl(a.names.meta(400)) <= 300

    async def expired() -> bool:
        return not await redis.exists(stream, a.names.meta(400)) and b.get(400) is None and a.get(400) is None

    await eventually(expired, timeout=3)

    running = a.open(401, 1, 1)
    await a.publish(running, "typing", {})
    remote = await known(b, 401)
    follower = asyncio.create_task(collect(remote))
    await soon(lambda: remote.last_seq == 1)
    assert await redis.pttl(a.names.stream(401)) > 300_000  # the safety TTL while it runs
    await redis.delete(a.names.stream(401), a.names.meta(401))  # gone (expired, flushed, ...)
    assert [e.kind for e in await asyncio.wait_for(follower, 3)] == ["typing"]  # ends, without a final event
    assert b.get(401) is None  # a resume now falls back to the database


async def test_an_answer_whose_instance_died_is_orphaned_and_one_whose_instance_stopped_cleanly_is_not(
    hubs: HubFactory, redis: Redis
) -> None:
    a, b = hubs(alive_ttl_seconds=1.0), hubs(alive_ttl_seconds=1.0)
    assert await b.ready()
    running = a.open(410, 1, 1)
    await a.publish(running, "typing", {})
    remote = await known(b, 410)
    assert isinstance(remote, RemoteGeneration)
    assert remote.origin == a.origin
    follower = asyncio.create_task(collect(remote))
    await soon(lambda: remote.last_seq == 1)
    await asyncio.sleep(1.5)  # longer than the heartbeat's lifetime: a beats, so it is not orphaned
    assert not follower.done()
    assert await redis.exists(a.names.alive(a.origin))
    assert await b.orphaned([410, 999]) == []  # a beats; 999 is unknown
    # a dies (its tasks stop as a killed process's would, its keys stay): its heartbeat lapses.
    for task in (a.heartbeat.task, a.writer.task, a.subscriber.task):
        assert task is not None
        task.cancel()
    assert [e.kind for e in await asyncio.wait_for(follower, 5)] == ["typing"]  # ends, without a final event
    assert remote.orphaned
    assert await b.orphaned([410, 999]) == [410]  # what the sweep asks (chat.service), follower or not
    assert await GenerationHub().orphaned([410]) == []  # one process cannot tell
    assert await redis.exists(a.names.stream(410))  # its keys are still there: the heartbeat told
    assert b.get(410) is None

    # An instance that stops cleanly has finished its answers (drain), then says it is gone.
    c = hubs(alive_ttl_seconds=1.0)
    await soon(lambda: redis.exists(c.names.alive(c.origin)))
    await c.drain(timeout=1)
    assert not await redis.exists(c.names.alive(c.origin))


async def test_a_retry_elsewhere_replaces_the_finished_attempt(hubs: HubFactory, redis: Redis) -> None:
    a, b = hubs(), hubs()
    assert await a.ready()
    assert await b.ready()
    first = a.open(500, 2, 3)
    await a.publish(first, "token", {"content": "Hel"})
    await a.publish(first, "error", {"error": "boom"}, final=True)
    stream = a.names.stream(500)
    await soon(lambda: redis.exists(stream))
    retry = b.open(500, 2, 3)  # the user retries; it lands on the other instance
    await b.publish(retry, "typing", {})
    await soon(lambda: isinstance(a.get(500), RemoteGeneration))  # A drops its finished attempt
    # A late write of the first attempt (its writer lagging behind) lands in the new stream.
    stale = {"seq": 2, "kind": "error", "data": "{}", "final": "1", "attempt": getattr(first, "attempt", "")}
    await redis.xadd(stream, stale)  # type: ignore[arg-type]
    follower = asyncio.create_task(collect(await known(a, 500)))
    await b.publish(retry, "token", {"content": "fine"})
    await b.publish(retry, "response", {"content": "fine"}, final=True)
    assert [e.kind for e in await follower] == ["typing", "token", "response"]


class Proxy:
    """A TCP proxy to Redis that can be cut and restored, to take Redis away mid-answer."""

    def __init__(self) -> None:
        target = urlsplit(REDIS_URL)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{urlsplit(REDIS_URL).path}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    p = Proxy()
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def test_redis_going_away_mid_answer_does_not_stop_it(hubs: HubFactory, proxy: Proxy) -> None:
    a, b = hubs(proxy.url, retry_seconds=0.1), hubs()
    with b.listen(7) as on_b:
        assert await a.ready()
        assert await b.ready(7)
        gen = a.open(600, 1, 7)
        local = asyncio.create_task(collect(gen))
        await a.publish(gen, "typing", {})
        assert (await get_event(on_b)).seq == 1
        await proxy.stop()
        for text in ["a", "b", "c"]:
            await a.publish(gen, "token", {"content": text})  # neither raises nor waits
            await asyncio.sleep(0.02)
        await a.publish(gen, "response", {"content": "abc"}, final=True)
        assert [e.seq for e in await local] == [1, 2, 3, 4, 5]  # this instance's followers get it all
        # Redis comes back: later answers reach the other instances again.
        await proxy.start()
        later = a.open(601, 1, 7)

        async def delivered() -> bool:
            await a.publish(later, "token", {"content": "."})
            await asyncio.sleep(0.05)
            return any(e.message_id == 601 for e in [on_b.get_nowait() for _ in range(on_b.qsize())])

        await eventually(delivered, timeout=5)


# -- two app instances sharing the database and Redis


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, ws_ping_interval=None)
    )
    async with LifespanManager(app):
        task = asyncio.create_task(server.serve())
        await soon(lambda: server.started)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)


class Instance:
    def __init__(self, runtime: Runtime, address: str, http: httpx.AsyncClient) -> None:
        self.runtime, self.address, self.http = runtime, address, http

    @property
    def hub(self) -> RedisGenerationHub:
        assert isinstance(self.runtime.hub, RedisGenerationHub)
        return self.runtime.hub


@pytest.fixture
async def instances(
    database_url: str, tmp_path: Path, prefix: str, proxy: Proxy
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Two app instances on one database and one Redis (the first one's through ``proxy``).
    Rate limits stay in-process: only the hub is under test."""
    settings = make_settings(database_url, tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        made: list[Instance] = []
        for url in (proxy.url, REDIS_URL):
            runtime = Runtime.build(settings, database_url, llm=ScriptedProvider(), moderator=KeywordModerator())
            runtime.hub = RedisGenerationHub.from_url(url, prefix=prefix, block_ms=200, retry_seconds=0.1)
            stack.push_async_callback(runtime.close)
            address = await stack.enter_async_context(serving(create_app(runtime=runtime)))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://{address}", timeout=10))
            made.append(Instance(runtime, address, http))
            assert await made[-1].hub.ready()
        yield made[0], made[1]


def sse_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["content"] for e in events if e["event"] == "token")


def assert_each_once(frames: list[dict[str, Any]]) -> None:
    seqs = [f["seq"] for f in frames if "seq" in f]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


async def test_each_websocket_of_a_user_gets_the_answer_on_either_instance(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    tokens = await signed_in(a.http)
    uid, token = tokens["user"]["id"], tokens["access_token"]
    url = "ws://{}/api/v1/chat/ws/" + f"{uid}?token={token}"
    async with websockets.connect(url.format(a.address)) as on_a, websockets.connect(url.format(b.address)) as on_b:
        for ws in (on_a, on_b):  # once answered, the socket listens
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv(ws))["type"] == "pong"
        assert await a.hub.ready(uid)
        assert await b.hub.ready(uid)
        for sender, other in ((on_a, on_b), (on_b, on_a)):
            await sender.send(json.dumps({"type": "message", "content": "hi"}))
            mine = await until(sender, "response")
            theirs = await until(other, "response")
            assert mine[0]["type"] == "ack"
            mine = mine[1:]
            assert [f["type"] for f in theirs] == [f["type"] for f in mine] == ["typing"] + ["token"] * 5 + ["response"]
            assert theirs == mine
            assert theirs[-1]["content"] == ANSWER == "".join(f["content"] for f in theirs if f["type"] == "token")
            assert_each_once(theirs)
            await asyncio.sleep(0.1)
            for ws in (on_a, on_b):  # nothing else was queued: the next frame is the pong
                await ws.send(json.dumps({"type": "ping"}))
                assert (await recv(ws))["type"] == "pong"


async def test_sse_resume_on_another_instance_gets_the_live_rest(
    instances: tuple[Instance, Instance], db: asyncpg.Connection
) -> None:
    a, b = instances
    gate = asyncio.Event()
    a.runtime.llm = ScriptedProvider(gate=gate)
    auth = {"Authorization": f"Bearer {(await signed_in(a.http))['access_token']}"}
    async with a.http.stream("POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"}) as r:
        first = await read_events(r, stop_after=2)  # typing + first token, then the client drops
    message_id = first[0]["data"]["message_id"]
    await known(b.hub, message_id)

    async def resume() -> list[dict[str, Any]]:
        headers = {**auth, "Last-Event-ID": first[-1]["id"]}
        async with b.http.stream("GET", f"/api/v1/chat/stream/{message_id}", headers=headers) as r:
            return await read_events(r)

    resumed = asyncio.create_task(resume())
    await soon(lambda: message_id in b.hub.reader.remote)  # B follows A's stream
    assert not resumed.done()
    gate.set()  # only now does the model go on
    rest = await asyncio.wait_for(resumed, 10)
    assert [e["event"] for e in rest] == ["token"] * 4 + ["response"]  # the live tokens, not just the end
    assert [e["id"] for e in rest] == [f"{message_id}:{seq}" for seq in range(3, 8)]
    assert sse_text(first + rest) == ANSWER == rest[-1]["data"]["content"]
    assert await db.fetchval("SELECT status::text FROM messages WHERE id = $1", message_id) == "sent"


async def test_an_answer_is_finished_and_stored_when_redis_goes_away_mid_stream(
    instances: tuple[Instance, Instance], proxy: Proxy, db: asyncpg.Connection
) -> None:
    a, _ = instances
    gate = asyncio.Event()
    a.runtime.llm = ScriptedProvider(gate=gate)
    auth = {"Authorization": f"Bearer {(await signed_in(a.http))['access_token']}"}
    async with a.http.stream("POST", "/api/v1/chat/stream", headers=auth, json={"message": "hi"}) as r:
        lines = r.aiter_lines()
        seen: list[str] = []
        async for line in lines:
            seen.append(line)
            if line.startswith("event: token"):
                break
        await proxy.stop()  # A's Redis is gone
        gate.set()
        seen += [line async for line in lines]
    events = parse_sse([*seen, ""])
    assert events[-1]["event"] == "response"
    assert events[-1]["data"]["content"] == ANSWER
    message_id = events[-1]["data"]["message_id"]
    assert await db.fetchval("SELECT content FROM messages WHERE id = $1 AND status = 'sent'", message_id) == ANSWER


# -- bounded listeners and disconnects across instances


async def test_a_full_listener_on_another_instance_is_shut_and_the_others_served(hubs: HubFactory) -> None:
    a, b = hubs(), hubs()
    with b.listen(7, maxsize=2) as stuck, b.listen(7, maxsize=100) as fine, a.listen(7, maxsize=100) as local:
        assert await b.ready(7)
        gen = a.open(700, 1, 7)
        await answer(a, gen, ["a", "b", "c"])  # 5 events
        for queue in (fine, local):
            assert [(await get_event(queue)).seq for _ in range(5)] == [1, 2, 3, 4, 5]
        assert stuck.qsize() == 2  # never more than its bound: then it was shut
        assert stuck.shutdown is not None
        assert (stuck.shutdown.code, stuck.shutdown.cause) == (1008, "slow_consumer")
        assert fine.shutdown is None
        assert local.shutdown is None


async def test_a_disconnect_reaches_the_sockets_of_that_login_on_every_instance(hubs: HubFactory) -> None:
    a, b = hubs(), hubs()
    sid, other_sid = uuid.uuid4(), uuid.uuid4()
    old_token = uuid.uuid4()
    with (
        a.listen(7) as here,
        b.listen(7) as there,
        b.listen(7) as other_device,
        b.listen(7) as old_client,
        b.listen(8) as other_user,
    ):
        here.sid = there.sid = sid
        other_device.sid = other_sid
        old_client.jti = old_token  # a token from before sids
        other_user.sid = sid
        assert await b.ready(7)
        assert await b.ready(8)
        await a.disconnect(7, Shutdown(4401, "Signed out", "signed_out"), sid=sid)
        assert here.shutdown == Shutdown(4401, "Signed out", "signed_out")
        await soon(lambda: there.shutdown is not None)
        assert there.shutdown == here.shutdown
        await a.disconnect(7, Shutdown(4401, "Signed out", "signed_out"), jti=old_token)
        await soon(lambda: old_client.shutdown is not None)
        # The sockets of other logins and users were left alone; "all" reaches the rest.
        assert other_device.shutdown is None
        assert other_user.shutdown is None
        await a.disconnect(7, Shutdown(4403, "This account is suspended.", "account_suspended"))
        await soon(lambda: other_device.shutdown is not None)
        assert other_device.shutdown == Shutdown(4403, "This account is suspended.", "account_suspended")
        assert other_user.shutdown is None


async def test_logout_on_one_instance_closes_that_logins_socket_on_the_other(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    first = await signed_in(a.http)
    second = (await login(a.http)).json()
    uid = first["user"]["id"]
    url = f"ws://{b.address}/api/v1/chat/ws/{uid}?token="
    async with (
        websockets.connect(url + first["access_token"]) as on_b,
        websockets.connect(url + second["access_token"]) as other_login_on_b,
    ):
        for ws in (on_b, other_login_on_b):
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv(ws))["type"] == "pong"
        assert await b.hub.ready(uid)
        r = await a.http.post(
            "/api/v1/auth/logout", headers=bearer(first), json={"refresh_token": first["refresh_token"]}
        )
        assert r.status_code == 204
        with pytest.raises(ConnectionClosed) as info:
            await recv(on_b)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401, "Signed out")
        await other_login_on_b.send(json.dumps({"type": "ping"}))
        assert (await recv(other_login_on_b))["type"] == "pong"
