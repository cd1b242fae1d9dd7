from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.conftest import bearer, signed_in

QUEUE = "/api/v1/admin/moderation/queue"
CATEGORIES = "/api/v1/admin/moderation/categories"


def review_url(message_id: int) -> str:
    return f"/api/v1/admin/moderation/messages/{message_id}/review"


def flag_url(message_id: int) -> str:
    return f"/api/v1/admin/moderation/messages/{message_id}/flag"


async def member(client: httpx.AsyncClient, db: asyncpg.Connection, email: str, role: str = "user") -> dict[str, Any]:
    """A signed-in account with ``role``; its tokens (the role is read on every request)."""
    tokens = await signed_in(client, email)
    await db.execute("UPDATE users SET role = $2 WHERE email = $1", email, role)
    return tokens


async def say(
    client: httpx.AsyncClient, db: asyncpg.Connection, tokens: dict[str, Any], message: str
) -> dict[str, Any]:
    """A chat turn's response, with the stored question's id as ``user_message_id``."""
    r = await client.post("/api/v1/chat/send", headers=bearer(tokens), json={"message": message})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    body["user_message_id"] = await db.fetchval(
        "SELECT max(id) FROM messages WHERE conversation_id = $1 AND message_type = 'user'", body["conversation_id"]
    )
    return body


async def queue(client: httpx.AsyncClient, tokens: dict[str, Any], **params: Any) -> dict[str, Any]:
    r = await client.get(QUEUE, headers=bearer(tokens), params=params)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page
