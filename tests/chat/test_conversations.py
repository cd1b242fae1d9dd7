from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.chat.conftest import send
from tests.conftest import bearer, signed_in


async def test_list_is_newest_first_with_keyset_pages(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    ids = [(await send(client, auth, f"question number {i}")).json()["conversation_id"] for i in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/conversations", headers=auth, params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    r = await client.get("/api/v1/conversations", headers=auth, params={"cursor": "%%%"})
    assert r.status_code == 400


async def test_search_archive_filter_and_update(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    a = (await send(client, auth, "Billing address change")).json()["conversation_id"]
    b = (await send(client, auth, "Shipping delay")).json()["conversation_id"]
    r = await client.get("/api/v1/conversations", headers=auth, params={"q": "billing"})
    assert [c["id"] for c in r.json()["items"]] == [a]
    r = await client.put(
        f"/api/v1/conversations/{b}",
        headers=auth,
        json={"title": "Late parcel", "is_archived": True, "tags": ["shipping", "shipping", "vip"]},
    )
    assert r.status_code == 200
    assert (r.json()["title"], r.json()["is_archived"], r.json()["tags"]) == ("Late parcel", True, ["shipping", "vip"])
    active = (await client.get("/api/v1/conversations", headers=auth)).json()["items"]
    archived = (await client.get("/api/v1/conversations", headers=auth, params={"status": "archived"})).json()["items"]
    assert [c["id"] for c in active] == [a]
    assert [c["id"] for c in archived] == [b]
    everything = (await client.get("/api/v1/conversations", headers=auth, params={"status": "all"})).json()["items"]
    assert len(everything) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 256},
        {"is_archived": "maybe"},
        {"is_archived": 0},
        {"is_archived": "true"},
        {"tags": "one"},
        {"tags": [""]},
        {"owner": 3},
        {"title": None},
    ],
)
async def test_bad_updates_change_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection, body: dict[str, object]
) -> None:
    cid = (await send(client, auth, "keep me")).json()["conversation_id"]
    before = await db.fetchrow("SELECT * FROM conversations WHERE id = $1", cid)
    r = await client.put(f"/api/v1/conversations/{cid}", headers=auth, json=body)
    assert r.status_code in (400, 422), r.text
    assert await db.fetchrow("SELECT * FROM conversations WHERE id = $1", cid) == before


async def test_messages_are_paginated_backwards(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    cid = (await send(client, auth, "m0")).json()["conversation_id"]
    for i in range(1, 4):
        await send(client, auth, f"m{i}", conversation_id=cid)
    detail = (await client.get(f"/api/v1/conversations/{cid}", headers=auth, params={"limit": 3})).json()
    assert detail["message_count"] == 8
    assert [m["message_type"] for m in detail["messages"]] == ["assistant", "user", "assistant"]
    assert detail["messages"][1]["content"] == "m3"
    older = (
        await client.get(
            f"/api/v1/conversations/{cid}", headers=auth, params={"limit": 10, "before": detail["messages_next_cursor"]}
        )
    ).json()
    assert len(older["messages"]) == 5
    assert older["messages"][0]["content"] == "m0"
    assert older["messages_next_cursor"] is None


async def test_delete_removes_messages_and_others_get_404(
    client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection
) -> None:
    cid = (await send(client, auth, "to delete")).json()["conversation_id"]
    other = bearer(await signed_in(client, "other@example.com"))
    for method in ("GET", "PUT", "DELETE"):
        r = await client.request(method, f"/api/v1/conversations/{cid}", headers=other, json={"title": "x"})
        assert r.status_code == 404, method
    assert (await client.delete(f"/api/v1/conversations/{cid}", headers=auth)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert (await client.get(f"/api/v1/conversations/{cid}", headers=auth)).status_code == 404


async def test_feedback_on_an_answer(client: httpx.AsyncClient, auth: dict[str, str], db: asyncpg.Connection) -> None:
    sent = (await send(client, auth, "helpful?")).json()
    url = f"/api/v1/messages/{sent['message_id']}/feedback"
    r = await client.post(url, headers=auth, json={"helpful": False, "comment": "too vague"})
    assert r.status_code == 200
    r = await client.post(url, headers=auth, json={"helpful": True})
    assert r.json()["helpful"] is True
    rows = await db.fetch("SELECT helpful, comment FROM message_feedback")
    assert [(r["helpful"], r["comment"]) for r in rows] == [(True, None)]
    assert (
        await client.post(f"/api/v1/messages/{sent['user_message_id']}/feedback", headers=auth, json={"helpful": True})
    ).status_code == 404
    other = bearer(await signed_in(client, "other@example.com"))
    assert (await client.post(url, headers=other, json={"helpful": True})).status_code == 404
    assert (await client.post(url, headers=auth, json={"helpful": "yes"})).status_code == 422


async def test_the_history_carries_the_callers_feedback(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first = (await send(client, auth, "one")).json()
    second = (await send(client, auth, "two", conversation_id=first["conversation_id"])).json()
    url = f"/api/v1/messages/{second['message_id']}/feedback"
    assert (await client.post(url, headers=auth, json={"helpful": False})).status_code == 200
    detail = (await client.get(f"/api/v1/conversations/{first['conversation_id']}", headers=auth)).json()
    verdicts = {m["id"]: m["feedback"] for m in detail["messages"]}
    assert verdicts[second["message_id"]] is False
    assert verdicts[first["message_id"]] is None
    assert verdicts[first["user_message_id"]] is None
