"""One contract per platform Protocol, run against every implementation: in process, Redis, and a
3-node Redis Cluster (tests/platform/conftest.py). Keys are unique per test, so nothing is
flushed: the cluster is shared by the session and the plain Redis by the worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from limits import parse_many
from redis.asyncio import Redis, RedisCluster

from helpline.platform import cache as cache_module
from helpline.platform.cache import create_faq_cache
from helpline.platform.hub import Generation, GenerationHub, Hub, Shutdown, TurnEvent
from helpline.platform.limits import MemoryWindowStore, RedisWindowStore, WindowStore
from helpline.platform.onetime import create_one_time_store
from helpline.platform.redis_hub import RedisGenerationHub
from tests.chat.conftest import eventually

# -- rate-limit windows (platform.limits.WindowStore)


@pytest.fixture
def windows(redis_client: Redis | RedisCluster | None) -> WindowStore:
    return MemoryWindowStore() if redis_client is None else RedisWindowStore(redis_client)


async def test_windows_count_every_window_together(windows: WindowStore) -> None:
    items = parse_many("3/minute;5/hour")
    key = uuid.uuid4().hex
    states = [await windows.hit("api", key, items) for _ in range(3)]
    assert [[(s.passed, s.remaining) for s in st] for st in states] == [
        [(True, 2), (True, 4)],
        [(True, 1), (True, 3)],
        [(True, 0), (True, 2)],
    ]
    assert all(0 < s.reset <= 3600 for s in states[-1])
    # The minute is full: refused, and counted in no window (the hour keeps its 2).
    refused = await windows.hit("api", key, items)
    assert [(s.passed, s.remaining) for s in refused] == [(False, 0), (False, 2)]
    assert 0 < refused[0].reset <= 60
    assert [(s.passed, s.remaining) for s in await windows.hit("api", key, items)] == [(False, 0), (False, 2)]


async def test_windows_are_per_key_and_namespace_and_clear(windows: WindowStore) -> None:
    items = parse_many("1/day")
    key = uuid.uuid4().hex
    assert (await windows.hit("api", key, items))[0].passed
    assert not (await windows.hit("api", key, items))[0].passed
    assert (await windows.hit("chat", key, items))[0].passed  # another namespace
    assert (await windows.hit("api", key + "x", items))[0].passed  # another key
    await windows.clear("api", key, items)
    state = (await windows.hit("api", key, items))[0]
    assert (state.passed, state.remaining) == (True, 0)


async def test_windows_count_concurrent_hits_exactly(windows: WindowStore) -> None:
    items = parse_many("10/minute;100/hour")
    key = uuid.uuid4().hex
    results = await asyncio.gather(*(windows.hit("api", key, items) for _ in range(25)))
    assert sum(r[0].passed for r in results) == 10
    assert sorted(r[1].remaining for r in results if r[0].passed) == list(range(90, 100))


# -- one-time codes (platform.onetime.OneTimeStore)


async def test_one_time_values_are_taken_once(redis_client: Redis | RedisCluster | None) -> None:
    store = create_one_time_store(redis_client)
    key = uuid.uuid4().hex
    assert await store.take(key) is None
    await store.put(key, "value", 60)
    assert await store.take(key + "x") is None
    taken = await asyncio.gather(*(store.take(key) for _ in range(5)))
    assert (taken.count("value"), taken.count(None)) == (1, 4)
    assert await store.take(key) is None


# -- the FAQ cache (platform.cache.FAQCache)


async def test_cache_reads_what_was_written(redis_client: Redis | RedisCluster | None) -> None:
    cache = create_faq_cache(redis_client)
    key = uuid.uuid4().hex
    assert await cache.get(key) is None
    await cache.set(key, "value", 60)
    await cache.set(key + "b", "other", 60)
    assert await cache.get(key) == "value"
    assert await cache.get_many([key + "b", key + "missing", key]) == ["other", None, "value"]
    assert await cache.get_many([]) == []
    if redis_client is not None:
        assert 0 < await redis_client.ttl(cache_module.PREFIX + key) <= 60


# -- generation hubs (platform.hub.Hub: platform.hub.GenerationHub, platform.redis_hub.RedisGenerationHub)

HubPair = tuple[Hub, Hub]


@pytest.fixture
async def hubs(backend: str, redis_url: str | None) -> AsyncIterator[HubPair]:
    """Two "instances": the same in-process hub twice, or two Redis hubs sharing a key prefix."""
    if redis_url is None:
        local = GenerationHub()
        yield local, local
        return
    prefix = f"hltest:{uuid.uuid4().hex[:12]}"
    made: list[RedisGenerationHub] = [
        RedisGenerationHub.from_url(redis_url, cluster=backend == "cluster", prefix=prefix, block_ms=200)
        for _ in range(2)
    ]
    try:
        yield made[0], made[1]
    finally:
        for shared in made:
            await shared.aclose(flush_timeout=1)


async def _known(hub: Hub, message_id: int) -> Generation:
    async def heard() -> bool:
        return await hub.lookup(message_id) is not None

    await eventually(heard)
    gen = await hub.lookup(message_id)
    assert gen is not None
    return gen


async def _collect(gen: Generation, after_seq: int = 0) -> list[TurnEvent]:
    async with asyncio.timeout(10):
        return [e async for e in gen.follow(after_seq)]


async def test_hub_followers_get_every_event_in_order(hubs: HubPair) -> None:
    here, there = hubs
    message_id = int(uuid.uuid4().int % 1_000_000_000)
    if isinstance(there, RedisGenerationHub):
        assert await there.ready(timeout=10)
    gen = here.open(message_id, 7, 3)
    await here.publish(gen, "typing", {})
    remote = await _known(there, message_id)
    follower = asyncio.create_task(_collect(remote, after_seq=1))
    for text in ("Hel", "lo"):
        await here.publish(gen, "token", {"content": text})
    await here.publish(gen, "response", {"content": "Hello", "status": "sent"}, final=True)
    events = await follower
    assert [(e.seq, e.kind, e.data.get("content")) for e in events] == [
        (2, "token", "Hel"),
        (3, "token", "lo"),
        (4, "response", "Hello"),
    ]
    assert {(e.message_id, e.conversation_id) for e in events} == {(message_id, 7)}


async def test_hub_listeners_receive_their_users_events(hubs: HubPair) -> None:
    here, there = hubs
    message_id = int(uuid.uuid4().int % 1_000_000_000)
    with there.listen(3) as mine, there.listen(4) as theirs:
        if isinstance(there, RedisGenerationHub):
            assert await there.ready(3, timeout=10)  # from now on other instances' events arrive
        gen = here.open(message_id, 7, 3)
        await here.publish(gen, "response", {"content": "Hi"}, final=True)
        event = await asyncio.wait_for(mine.get(), 10)
        assert (event.kind, event.message_id, event.data) == ("response", message_id, {"content": "Hi"})
        assert theirs.empty()


async def test_a_stop_reaches_the_generation_wherever_it_runs(hubs: HubPair) -> None:
    here, there = hubs
    message_id = int(uuid.uuid4().int % 1_000_000_000)
    gen = here.open(message_id, 7, 3)
    stopped = asyncio.Event()

    async def generate() -> None:
        try:
            gen.stoppable = True
            await asyncio.sleep(30)  # the model answering
        except asyncio.CancelledError:
            stopped.set()
        gen.stoppable = False
        await here.publish(gen, "response", {"content": "", "stopped": True}, final=True)

    for hub in {here, there}:
        if isinstance(hub, RedisGenerationHub):
            assert await hub.ready(timeout=10)
    here.run(generate(), gen)
    await here.publish(gen, "typing", {})
    await _known(there, message_id)

    async def asked() -> bool:
        await there.stop(message_id)  # asked again until heard: a pub/sub message may be lost
        return stopped.is_set()

    await eventually(asked)
    assert gen.stop_requested


async def _ready(*hubs: Hub, user_id: int | None = None) -> None:
    """With Redis: subscribed, so other instances' announcements (and the user's events) arrive."""
    for hub in hubs:
        if isinstance(hub, RedisGenerationHub):
            assert await hub.ready(user_id, timeout=10)


def test_both_hubs_implement_the_protocol(hubs: HubPair) -> None:
    for hub in hubs:
        assert isinstance(hub, Hub)


async def test_a_late_follower_replays_the_log_after_its_event(hubs: HubPair) -> None:
    here, there = hubs
    message_id = int(uuid.uuid4().int % 1_000_000_000)
    await _ready(there)
    gen = here.open(message_id, 7, 3)
    for text in ("a", "b", "c"):
        await here.publish(gen, "token", {"content": text})
    await here.publish(gen, "response", {"content": "abc"}, final=True)
    for hub in (here, there):
        found = await _known(hub, message_id)
        assert [(e.seq, e.kind) for e in await _collect(found, after_seq=2)] == [(3, "token"), (4, "response")]
    assert here.get(message_id) is gen  # kept a while after its final event, for resumes


async def test_a_disconnect_shuts_the_sockets_of_the_login_it_names_everywhere(hubs: HubPair) -> None:
    here, there = hubs
    user = int(uuid.uuid4().int % 1_000_000)
    ended, kept = uuid.uuid4(), uuid.uuid4()
    with there.listen(user) as on_ended_login, there.listen(user) as on_other_login:
        on_ended_login.sid, on_other_login.sid = ended, kept
        await _ready(there, user_id=user)
        assert there.listener_count(user) == 2
        assert there.listeners(user) == {on_ended_login, on_other_login}
        bye = Shutdown(4401, "Signed out", "logout")

        async def shut() -> bool:
            await here.disconnect(user, bye, sid=ended)  # sent again until heard: pub/sub may lose one
            return on_ended_login.shutdown is not None

        await eventually(shut)
        assert on_ended_login.shutdown == bye
        assert on_other_login.shutdown is None
    assert there.listener_count(user) == 0


async def test_a_listener_that_does_not_read_is_shut_not_waited_for(hubs: HubPair) -> None:
    here, _ = hubs
    user = int(uuid.uuid4().int % 1_000_000)
    with here.listen(user, maxsize=2) as slow:
        gen = here.open(int(uuid.uuid4().int % 1_000_000_000), 7, user)
        for text in ("a", "b", "c"):
            await here.publish(gen, "token", {"content": text})  # never blocks on the full queue
        assert slow.shutdown is not None
        assert slow.shutdown.cause == "slow_consumer"


async def test_an_erased_answer_is_forgotten_and_stopped(hubs: HubPair) -> None:
    here, _ = hubs
    message_id = int(uuid.uuid4().int % 1_000_000_000)
    gen = here.open(message_id, 7, 3)
    await here.publish(gen, "typing", {})
    await here.erase([message_id])
    assert gen.stop_requested
    assert here.get(message_id) is None
    assert await here.lookup(message_id) is None


async def test_a_stop_for_an_unknown_answer_finds_nothing(hubs: HubPair) -> None:
    here, _ = hubs
    assert await here.stop(int(uuid.uuid4().int % 1_000_000_000)) is None
