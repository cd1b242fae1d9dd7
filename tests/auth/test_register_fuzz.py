"""Property: whatever JSON a client sends to register, the answer is a clear 202/409/422/429, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
fields = st.sampled_from(
    ["email", "username", "password", "first_name", "language", "timezone", "data_processing_consent", "x"]
)
bodies = st.dictionaries(fields, json_values | st.emails() | st.text(min_size=8, max_size=40), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
async def test_register_never_fails_on_any_json(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code in (202, 409, 422, 429), r.text
    assert set(r.json()) >= ({"status", "detail"} if r.status_code == 202 else {"error", "detail", "request_id"})
