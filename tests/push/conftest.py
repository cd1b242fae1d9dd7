from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpline.core.config import JobsSettings, PushSettings, Settings
from tests.conftest import bearer, make_settings
from tests.push.pushservice import Browser, PushService, push_service


@pytest.fixture
def push() -> Iterator[PushService]:
    with push_service() as service:
        yield service


@pytest.fixture
def settings(database_url: str, tmp_path: Path, push: PushService) -> Settings:
    """Pushes may go to the local push service (plain HTTP on 127.0.0.1); retries come quickly."""
    return make_settings(
        database_url,
        tmp_path,
        push=PushSettings(endpoint_origins=[push.origin]),
        jobs=JobsSettings(retry_delay_seconds=0.1, retries=4),
    )


async def subscribe(client: httpx.AsyncClient, tokens: dict[str, Any], browser: Browser) -> dict[str, Any]:
    r = await client.post("/api/v1/push/subscriptions", headers=bearer(tokens), json=browser.subscription())
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def user_id(client: httpx.AsyncClient, tokens: dict[str, Any]) -> int:
    r = await client.get("/api/v1/users/me", headers=bearer(tokens))
    return int(r.json()["id"])
