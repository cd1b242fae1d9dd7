from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import bearer, signed_in


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await signed_in(client))


async def send(client: httpx.AsyncClient, auth: dict[str, str], message: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/chat/send", headers=auth, json={"message": message, **extra})


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for a condition (never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def message_rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, message_type::text AS type, status::text AS status, content, tokens_used, model_used, "
        "response_time_ms, metadata FROM messages ORDER BY id"
    )
