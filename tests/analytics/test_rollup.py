"""The roll-ups: a refresh is idempotent, an incremental one agrees with a full recount, and
later changes to older rows (feedback, conversations that go on) are picked up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from helpline.analytics.rollup import refresh, slot_of
from helpline.core.runtime import Runtime
from tests.admin.conftest import Account
from tests.analytics.seed import T0, T1, message, seed

SETTLE = timedelta(hours=48)
WEEK = {"from": "2026-11-01", "to": "2026-11-07"}


async def snapshot(db: asyncpg.Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    counts = await db.fetch("SELECT metric, level, slot, dim, value FROM analytics_counts ORDER BY 1, 2, 3, 4")
    users = await db.fetch("SELECT user_id, slot, messages, questions, tokens FROM analytics_user_slots ORDER BY 1, 2")
    return [tuple(r) for r in counts], [tuple(r) for r in users]


async def test_refreshing_twice_gives_the_same_figures(db: asyncpg.Connection, runtime: Runtime) -> None:
    await seed(db)
    first = await refresh(runtime.sessionmaker, settle=SETTLE)
    before = await snapshot(db)
    assert before[0]
    assert before[1]
    second = await refresh(runtime.sessionmaker, settle=SETTLE)
    assert await snapshot(db) == before
    assert second.version == first.version + 1
    # A full recount over everything agrees too.
    await refresh(runtime.sessionmaker, settle=SETTLE, full=True)
    assert await snapshot(db) == before


async def test_an_incremental_refresh_agrees_with_a_full_recount(
    db: asyncpg.Connection, runtime: Runtime, client: httpx.AsyncClient, mod: Account
) -> None:
    data = await seed(db)
    now = datetime(2026, 11, 10, 12, tzinfo=UTC)
    await refresh(runtime.sessionmaker, settle=SETTLE, now=now)
    # Days later: feedback on an answer of the 2nd (far outside the settle window), the first
    # conversation goes on, and new messages arrive.
    later = now + timedelta(days=3)
    await db.execute(
        "INSERT INTO message_feedback (message_id, user_id, helpful, created_at) VALUES ($1, $2, false, $3)",
        data.answers["guard"],
        data.u2,
        later,
    )
    await message(db, data.c1, data.u1, "user", "And my invoice?", later)
    await db.execute("UPDATE conversations SET last_message_at = $1, message_count = 5 WHERE id = $2", later, data.c1)
    await refresh(runtime.sessionmaker, settle=SETTLE, now=later + timedelta(minutes=1))
    incremental = await snapshot(db)
    await refresh(runtime.sessionmaker, settle=SETTLE, now=later + timedelta(minutes=1), full=True)
    assert await snapshot(db) == incremental
    # The late thumbs-down counts on the day of its answer, and c1 is now 5 messages long.
    r = await client.get("/api/v1/analytics/dashboard", params=WEEK, headers=mod.auth)
    days = {b["bucket"]: b for b in r.json()["series"]}
    assert days["2026-11-02"]["not_helpful"] == 1
    conv = (await client.get("/api/v1/analytics/conversations", params=WEEK, headers=mod.auth)).json()
    assert {c["key"]: c["count"] for c in conv["length"]}["5-9"] == 1
    assert conv["resolution"]["not_helpful"] == 1  # c2 got its thumbs-down


async def test_the_day_in_progress_is_counted_again_next_time(db: asyncpg.Connection, runtime: Runtime) -> None:
    data = await seed(db)
    now = T1 + timedelta(minutes=5)  # during c2, before c3
    await refresh(runtime.sessionmaker, settle=SETTLE, now=now)
    assert await db.fetchval("SELECT sum(value) FROM analytics_counts WHERE metric = 'messages' AND level = 'd'") == 8
    await message(db, data.c2, data.u2, "user", "still there?", now + timedelta(seconds=30))
    await refresh(runtime.sessionmaker, settle=SETTLE, now=now + timedelta(minutes=1))
    # The seed's c3 (later than this "now") is not counted yet; the new message is.
    assert await db.fetchval("SELECT sum(value) FROM analytics_counts WHERE metric = 'messages' AND level = 'd'") == 9
    assert slot_of(T0) == T0  # on a quarter hour


async def test_an_erased_user_leaves_no_row_of_theirs(db: asyncpg.Connection, runtime: Runtime) -> None:
    data = await seed(db)
    await refresh(runtime.sessionmaker, settle=SETTLE)
    await db.execute("DELETE FROM users WHERE id = $1", data.u1)
    assert await db.fetchval("SELECT count(*) FROM analytics_user_slots WHERE user_id = $1", data.u1) == 0
