from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.config import Settings, SupportSettings
from tests.chat.fakes import ScriptedProvider
from tests.conftest import bearer, make_settings, signed_in


@pytest.fixture
def support_settings() -> SupportSettings:
    return SupportSettings(escalate_keywords=["refund", "Rückerstattung"])


@pytest.fixture
def settings(database_url: str, tmp_path: Path, support_settings: SupportSettings) -> Settings:
    return make_settings(database_url, tmp_path, support=support_settings)


@pytest.fixture
def llm() -> ScriptedProvider:
    return ScriptedProvider()


async def agent(
    client: httpx.AsyncClient, db: asyncpg.Connection, email: str, role: str = "moderator"
) -> dict[str, str]:
    """A signed-in staff member (moderators and admins are agents)."""
    await signed_in(client, email)
    await db.execute("UPDATE users SET role = $1 WHERE email = $2", role, email)
    from tests.conftest import login

    return bearer((await login(client, email)).json())


async def conversation(client: httpx.AsyncClient, auth: dict[str, str], text: str = "hello") -> int:
    r = await client.post("/api/v1/chat/send", headers=auth, json={"message": text})
    assert r.status_code == 200, r.text
    return int(r.json()["conversation_id"])


async def handed_over(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> int:
    conv = await conversation(client, auth)
    r = await client.post(f"/api/v1/conversations/{conv}/handoff", headers=auth, json=body)
    assert r.status_code == 200, r.text
    return conv
