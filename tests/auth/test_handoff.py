"""The widget's "create an account" hand-off: a one-time code in the link instead of the guest's
refresh token (pentest #18: the token ended up in the browser's history)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from helpline.core.config import RedisSettings, Settings
from helpline.core.runtime import Runtime
from helpline.platform.onetime import PREFIX, MemoryOneTimeStore
from tests.auth.test_guest import chat, register_with, start_guest
from tests.conftest import REDIS_URL, bearer, login, make_settings, signed_in

HANDOFF = "/api/v1/auth/guest/handoff"
REDEEM = "/api/v1/auth/guest/handoff/redeem"


@pytest.fixture(params=["memory", "redis"])
async def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """Both stores: in-process, and Redis (codes shared by every instance). The test Redis
    database is emptied first: it also holds the per-address guest sign-in counters."""
    redis = None
    if request.param == "redis":
        redis = RedisSettings(url=REDIS_URL)
        store = aioredis.Redis.from_url(REDIS_URL)
        await store.flushdb()
        await store.aclose()
    return make_settings(database_url, tmp_path, redis=redis)


async def handoff(client: httpx.AsyncClient, tokens: dict[str, Any]) -> str:
    r = await client.post(HANDOFF, headers=bearer(tokens))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["expires_in"] == 300
    code: str = body["code"]
    assert len(code) >= 40
    return code


async def redeem(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post(REDEEM, json={"code": code})


def refused(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_handoff_code"
    assert "expired or was already used" in body["detail"]
    assert body["request_id"]


async def test_a_code_registers_as_the_guest_and_keeps_the_conversation(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    guest = await start_guest(client)
    answer = await chat(client, guest, "Remember my parcel")
    code = await handoff(client, guest)
    assert guest["refresh_token"] not in code
    assert guest["access_token"] not in code
    r = await redeem(client, code)
    assert r.status_code == 200, r.text
    access = r.json()
    assert access["token_type"] == "bearer"
    assert set(access) == {"access_token", "token_type", "expires_in"}  # nothing to refresh with
    me = await client.get("/api/v1/users/me", headers=bearer(access["access_token"]))
    assert (me.status_code, me.json()["id"]) == (200, guest["user"]["id"])

    r = await register_with(client, bearer(access["access_token"]), "kept@example.com")
    assert r.status_code in (201, 202), r.text
    tokens = (await login(client, "kept@example.com")).json()
    assert tokens["user"]["id"] == guest["user"]["id"]
    r = await client.get("/api/v1/conversations", headers=bearer(tokens))
    assert [c["id"] for c in r.json()["items"]] == [answer["conversation_id"]]
    assert await db.fetchval("SELECT count(*) FROM users WHERE is_guest") == 0


async def test_a_code_is_single_use(client: httpx.AsyncClient) -> None:
    guest = await start_guest(client)
    code = await handoff(client, guest)
    assert (await redeem(client, code)).status_code == 200
    refused(await redeem(client, code))  # reused


async def test_of_two_concurrent_redemptions_one_wins(client: httpx.AsyncClient) -> None:
    guest = await start_guest(client)
    code = await handoff(client, guest)
    results = await asyncio.gather(*(redeem(client, code) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [200, 400, 400, 400, 400]


async def test_unknown_and_malformed_codes_are_refused(client: httpx.AsyncClient) -> None:
    refused(await redeem(client, "not-a-code"))
    guest = await start_guest(client)
    refused(await redeem(client, guest["refresh_token"][:200]))  # a token is not a code
    assert (await client.post(REDEEM, json={"code": ""})).status_code == 422
    assert (await client.post(REDEEM, json={"code": "x" * 201})).status_code == 422


async def test_an_expired_code_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    if runtime.redis is not None:
        guest = await start_guest(client)
        code = await handoff(client, guest)
        keys = [k async for k in runtime.redis.scan_iter(match=PREFIX + "handoff:*")]
        ttls = [await runtime.redis.ttl(k) for k in keys]
        assert ttls
        assert all(0 < t <= 300 for t in ttls)
        for key in keys:
            await runtime.redis.pexpire(key, 1)
        deadline = asyncio.get_running_loop().time() + 5
        while await runtime.redis.exists(*keys):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        refused(await redeem(client, code))
        return
    now = [1000.0]
    runtime.one_time = MemoryOneTimeStore(clock=lambda: now[0])
    guest = await start_guest(client)
    code = await handoff(client, guest)
    now[0] += 299
    fresh = await handoff(client, guest)
    assert (await redeem(client, fresh)).status_code == 200
    now[0] += 2  # the first code is now 301 seconds old
    refused(await redeem(client, code))


async def test_only_a_guest_gets_a_code(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    r = await client.post(HANDOFF, headers=bearer(tokens))
    assert r.status_code == 403, r.text
    assert (await client.post(HANDOFF)).status_code == 401
    guest = await start_guest(client)
    assert (await client.post(HANDOFF, headers=bearer(guest["refresh_token"]))).status_code == 401


async def test_a_code_of_a_guest_that_registered_or_signed_out_is_refused(client: httpx.AsyncClient) -> None:
    # Wrong guest: the code's guest has meanwhile become an account.
    guest = await start_guest(client)
    code = await handoff(client, guest)
    assert (await register_with(client, bearer(guest), "first@example.com")).status_code in (201, 202)
    refused(await redeem(client, code))
    # ... or has signed out: its login is over, and so is its code.
    other = await start_guest(client)
    code = await handoff(client, other)
    r = await client.post("/api/v1/auth/logout", headers=bearer(other), json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 204
    refused(await redeem(client, code))


async def test_codes_are_stored_hashed(client: httpx.AsyncClient, runtime: Runtime) -> None:
    guest = await start_guest(client)
    code = await handoff(client, guest)
    if runtime.redis is not None:
        stored = [k async for k in runtime.redis.scan_iter(match=PREFIX + "*")]
        values = [await runtime.redis.get(k) for k in stored]
    else:
        assert isinstance(runtime.one_time, MemoryOneTimeStore)
        stored = list(runtime.one_time._local)
        values = [v for _, v in runtime.one_time._local.values()]
    assert stored
    assert not any(code in k for k in stored)
    assert not any(code in str(v) for v in values)
