"""Property: whatever the entries, the action filter and the page size, walking the audit log's
pages gives exactly the matching entries, newest first, each once."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admin.conftest import Account

ACTIONS = ["auth.login", "auth.logout", "auth.login_failed", "authx.login", "admin.user_viewed", "auth_login"]
FILTERS = [None, "auth.", "auth.*", "auth.login", "auth_", "admin.", "authx.login", "a%"]


def matches(action: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted.endswith("*"):
        return action.startswith(wanted[:-1])
    if wanted.endswith("."):
        return action.startswith(wanted)
    return action == wanted


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    actions=st.lists(st.sampled_from(ACTIONS), max_size=25),
    wanted=st.sampled_from(FILTERS),
    limit=st.integers(min_value=1, max_value=7),
)
async def test_pages_walk_the_matching_entries_once(
    client: httpx.AsyncClient,
    admin: Account,
    db: asyncpg.Connection,
    actions: list[str],
    wanted: str | None,
    limit: int,
) -> None:
    # Entries cannot be deleted: each example marks its own with a target type of its own.
    marker = "p" + uuid.uuid4().hex[:12]
    insert = "INSERT INTO audit_log (action, target_type, target_id) VALUES ($1, $2, $3) RETURNING id"
    ids = [await db.fetchval(insert, action, marker, str(i)) for i, action in enumerate(actions)]
    expected = [i for i, a in sorted(zip(ids, actions, strict=True), reverse=True) if matches(a, wanted)]
    walked: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"target_type": marker, "limit": limit}
        if wanted is not None:
            params["action"] = wanted
        if cursor is not None:
            params["cursor"] = cursor
        r = await client.get("/api/v1/admin/audit", headers=admin.auth, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        walked += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert page["items"], "a next page after an empty one"
    assert walked == expected
