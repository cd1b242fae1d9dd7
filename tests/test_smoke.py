from __future__ import annotations

import httpx

from tests.conftest import bearer, signed_in


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    tokens = await signed_in(client)
    r = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert r.status_code == 200
    assert r.json()["email"] == "user@example.com"
