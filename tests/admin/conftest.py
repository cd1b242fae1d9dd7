"""Accounts in every role, signed in, for the administration API's tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import bearer, login, signed_in


@dataclass
class Account:
    id: int
    email: str
    tokens: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.tokens)


async def account(client: httpx.AsyncClient, db: asyncpg.Connection, email: str, role: str = "user") -> Account:
    tokens = await signed_in(client, email)
    if role != "user":
        await db.execute("UPDATE users SET role = $1 WHERE email = $2", role, email)
        tokens = (await login(client, email)).json()
    return Account(tokens["user"]["id"], email, tokens)


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: asyncpg.Connection) -> Account:
    return await account(client, db, "boss@example.com", "admin")


@pytest.fixture
async def mod(client: httpx.AsyncClient, db: asyncpg.Connection) -> Account:
    return await account(client, db, "mod@example.com", "moderator")


@pytest.fixture
async def member(client: httpx.AsyncClient, db: asyncpg.Connection) -> Account:
    return await account(client, db, "member@example.com")


async def audit_rows(db: asyncpg.Connection, action: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT actor_user_id, action, target_type, target_id, details::text AS details, ip_address::text AS ip "
        "FROM audit_log WHERE action = $1 ORDER BY id",
        action,
    )
