from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.core.runtime import Runtime
from helpline.faqs.views import ViewCounter
from tests.conftest import bearer, signed_in


@pytest.fixture(autouse=True)
def faq_backends(runtime: Runtime) -> None:
    """The fake embedder (deterministic bag of words) and views written on every view."""
    runtime.embedder = FakeEmbedder()
    runtime.faq_views = ViewCounter(flush_interval_seconds=0)


async def with_role(client: httpx.AsyncClient, db: asyncpg.Connection, email: str, role: str) -> dict[str, str]:
    tokens = await signed_in(client, email)
    if role != "user":
        await db.execute("UPDATE users SET role = $1 WHERE email = $2", role, email)
    return bearer(tokens)


@pytest.fixture
async def staff(client: httpx.AsyncClient, db: asyncpg.Connection) -> dict[str, str]:
    return await with_role(client, db, "mod@example.com", "moderator")


@pytest.fixture
async def boss(client: httpx.AsyncClient, db: asyncpg.Connection) -> dict[str, str]:
    return await with_role(client, db, "boss@example.com", "admin")


@pytest.fixture
async def reader(client: httpx.AsyncClient, db: asyncpg.Connection) -> dict[str, str]:
    return await with_role(client, db, "reader@example.com", "user")


async def create_faq(client: httpx.AsyncClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"question": "How do I reset my password?", "answer": "Use the reset link.", **fields}
    r = await client.post("/api/v1/faqs", headers=auth, json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data
