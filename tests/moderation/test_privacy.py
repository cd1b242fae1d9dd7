"""Moderation reviews in a user's data export and under account erasure."""

from __future__ import annotations

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from helpline.privacy.export import collect
from tests.conftest import bearer
from tests.moderation.conftest import member, review_url, say


async def test_exports_and_erasure_handle_reviews(
    client: httpx.AsyncClient, db: asyncpg.Connection, runtime: Runtime
) -> None:
    author = await member(client, db, "author@example.com")
    moderator = await member(client, db, "mod@example.com", "moderator")
    admin = await member(client, db, "admin@example.com", "admin")
    first = (await say(client, db, author, "forbidden-topic one"))["user_message_id"]
    second = (await say(client, db, author, "forbidden-topic two"))["user_message_id"]
    for mid in (first, second):
        r = await client.post(review_url(mid), headers=bearer(moderator), json={"decision": "confirm", "note": "rude"})
        assert r.status_code == 200, r.text

    async with runtime.sessionmaker() as session:
        theirs = (await collect(session, author["user"]["id"]))["moderation_reviews"]
        mine = (await collect(session, moderator["user"]["id"]))["moderation_reviews"]
    assert isinstance(theirs, list)
    assert isinstance(mine, list)
    assert [(r["message_id"], r["decision"], r["note"], r["kind"]) for r in theirs] == [
        (first, "confirm", "rude", "about_your_message"),
        (second, "confirm", "rude", "about_your_message"),
    ]
    assert all("reviewer_user_id" not in r for r in theirs)  # who decided is the reviewer's data
    assert [(r["message_id"], r["kind"]) for r in mine] == [(first, "written_by_you"), (second, "written_by_you")]

    # The reviewer erased: their reviews stay, unsigned.
    r = await client.delete(f"/api/v1/admin/users/{moderator['user']['id']}", headers=bearer(admin))
    assert r.status_code == 204, r.text
    rows = await db.fetch("SELECT reviewer_user_id FROM moderation_reviews")
    assert [row["reviewer_user_id"] for row in rows] == [None, None]
    [item] = (await client.get("/api/v1/admin/moderation/queue?status=reviewed&limit=1", headers=bearer(admin))).json()[
        "items"
    ]
    assert (item["review"]["reviewer_id"], item["review"]["reviewer_username"]) == (None, None)

    # The author erased: the reviews of their messages go with the messages.
    r = await client.delete(f"/api/v1/admin/users/{author['user']['id']}", headers=bearer(admin))
    assert r.status_code == 204, r.text
    assert await db.fetchval("SELECT count(*) FROM moderation_reviews") == 0
