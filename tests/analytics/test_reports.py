"""Conversation analytics, a user's own figures, and the drill-down to the conversations behind
a figure, with the audited read of a thumbs-down conversation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.analytics.rollup import refresh
from helpline.core.runtime import Runtime
from tests.admin.conftest import Account, audit_rows
from tests.analytics.seed import Seeded, seed

BASE = "/api/v1/analytics"
WEEK = {"from": "2026-11-01", "to": "2026-11-07"}


@pytest.fixture
async def seeded(db: asyncpg.Connection, runtime: Runtime) -> Seeded:
    data = await seed(db)
    await refresh(runtime.sessionmaker, settle=timedelta(hours=48))
    return data


async def test_conversation_analytics(client: httpx.AsyncClient, mod: Account, seeded: Seeded) -> None:
    r = await client.get(f"{BASE}/conversations", params=WEEK, headers=mod.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["conversations"] == 3
    assert [(c["key"], c["count"]) for c in body["length"]] == [
        ("1-2", 1),
        ("3-4", 2),
        ("5-9", 0),
        ("10-19", 0),
        ("20+", 0),
    ]
    assert [(c["key"], c["count"]) for c in body["languages"]] == [("en", 2), ("fr", 1)]
    # c1 got a helpful answer; c2 ended on "I don't know" and c3 on a failed answer, unrated.
    assert body["resolution"] == {"helpful": 1, "not_helpful": 0, "abandoned": 2, "escalated": 0, "unrated": 0}
    assert [s["conversations"] for s in body["series"][:3]] == [1, 1, 1]
    r = await client.get(f"{BASE}/conversations", params={**WEEK, "format": "csv"}, headers=mod.auth)
    assert r.headers["content-disposition"] == 'attachment; filename="helpline-conversations-2026-11-01_2026-11-07.csv"'
    assert ["resolution", "", "abandoned", "2"] in list(csv.reader(io.StringIO(r.text)))


async def test_a_user_sees_their_own_figures_and_an_admin_anyones(
    client: httpx.AsyncClient, member: Account, mod: Account, admin: Account, seeded: Seeded
) -> None:
    own = await client.get(f"{BASE}/user/{member.id}", headers=member.auth)
    assert own.status_code == 200, own.text
    assert own.json()["totals"]["messages"] == 0
    r = await client.get(f"{BASE}/user/{seeded.u1}", params=WEEK, headers=admin.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["totals"] == {
        "messages": 4,
        "questions": 2,
        "tokens": 150,
        "active_days": 1,
        "conversations": 1,
        "feedback_given": 2,
        "helpful_given": 1,
    }
    assert body["series"][0] == {"bucket": "2026-11-01", "messages": 4, "questions": 2, "tokens": 150}
    assert body["first_active"].startswith("2026-11-01T10:00")
    csv_text = (await client.get(f"{BASE}/user/{seeded.u1}", params={**WEEK, "format": "csv"}, headers=admin.auth)).text
    assert ["totals", "", "tokens", "150"] in list(csv.reader(io.StringIO(csv_text)))


async def test_nobody_else_learns_whether_a_user_exists(
    client: httpx.AsyncClient, member: Account, mod: Account, admin: Account, seeded: Seeded
) -> None:
    missing = 2_000_000_000
    for who in (member, mod):
        there = await client.get(f"{BASE}/user/{seeded.u1}", headers=who.auth)
        gone = await client.get(f"{BASE}/user/{missing}", headers=who.auth)
        assert there.status_code == gone.status_code == 404
        assert there.json()["detail"] == gone.json()["detail"]
    assert (await client.get(f"{BASE}/user/{missing}", headers=admin.auth)).status_code == 404
    assert (await client.get(f"{BASE}/user/{seeded.u1}")).status_code == 401


async def test_the_conversations_behind_a_figure(client: httpx.AsyncClient, mod: Account, seeded: Seeded) -> None:
    async def ids(figure: str, **extra: str) -> list[int]:
        r = await client.get(f"{BASE}/conversations/list", params={**WEEK, "figure": figure, **extra}, headers=mod.auth)
        assert r.status_code == 200, r.text
        return [i["conversation_id"] for i in r.json()["items"]]

    assert await ids("thumbs_down") == [seeded.c1]
    assert await ids("helpful") == [seeded.c1]
    assert await ids("refused") == [seeded.c2]
    assert await ids("flagged") == [seeded.c2]
    assert await ids("failed") == [seeded.c3]
    assert await ids("faq") == [seeded.c1]
    assert await ids("model") == [seeded.c1]
    assert await ids("refused", tz="America/Los_Angeles", **{"from": "2026-11-03", "to": "2026-11-03"}) == []
    # Newest first, a page at a time.
    r = await client.get(
        f"{BASE}/conversations/list", params={**WEEK, "figure": "refused", "limit": "1"}, headers=mod.auth
    )
    first = r.json()
    assert first["items"][0]["readable"] is False
    assert first["next_cursor"] is None
    r = await client.get(f"{BASE}/conversations/list", params={**WEEK, "figure": "thumbs_down"}, headers=mod.auth)
    item = r.json()["items"][0]
    assert item["readable"] is True
    assert item["message_count"] == 4
    assert item["language"] == "en"
    assert "content" not in str(item)
    bad = await client.get(f"{BASE}/conversations/list", params={"figure": "refused", "cursor": "zz"}, headers=mod.auth)
    assert bad.status_code == 400


async def test_an_admin_reads_a_thumbs_down_conversation_and_the_read_is_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, mod: Account, admin: Account, seeded: Seeded
) -> None:
    url = f"{BASE}/conversations/{seeded.c1}"
    assert (await client.get(url, headers=mod.auth)).status_code == 403
    assert await audit_rows(db, "analytics.conversation_read") == []
    r = await client.get(url, headers=admin.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(m["role"], m["origin"], m["helpful"]) for m in body["messages"]] == [
        ("user", None, None),
        ("assistant", "faq", True),
        ("user", None, None),
        ("assistant", "model", False),
    ]
    assert body["messages"][3]["content"] == "It is on its way [1]."
    rows = await audit_rows(db, "analytics.conversation_read")
    assert [(r["actor_user_id"], r["target_type"], r["target_id"]) for r in rows] == [
        (admin.id, "conversation", str(seeded.c1))
    ]
    # Without a thumbs-down, a conversation stays closed, as one that does not exist.
    for other in (seeded.c2, 2_000_000_000):
        r = await client.get(f"{BASE}/conversations/{other}", headers=admin.auth)
        assert r.status_code == 404
    assert len(await audit_rows(db, "analytics.conversation_read")) == 1
