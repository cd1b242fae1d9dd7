from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import bearer, signed_in


async def make_key(
    client: httpx.AsyncClient, auth: dict[str, str], *, name: str = "my tool", scopes: list[str] | None = None
) -> dict[str, Any]:
    r = await client.post("/api/v1/users/me/api-keys", headers=auth, json={"name": name, "scopes": scopes or ["chat"]})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def user_with_key(
    client: httpx.AsyncClient, email: str = "dev@example.com", **kw: Any
) -> tuple[dict[str, str], str]:
    """A signed-in user's auth headers and a new key of theirs."""
    auth = bearer(await signed_in(client, email))
    return auth, (await make_key(client, auth, **kw))["key"]
