from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.config import LimitsSettings
from helpline.core.ratelimit import ApiRateLimiter
from helpline.core.runtime import Runtime
from tests.conftest import bearer, signed_in
from tests.faqs.conftest import create_faq

BASE = "/api/v1/faqs"


async def test_anonymous_and_users_see_only_published_staff_manage(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    reader: dict[str, str],
    boss: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    draft = await create_faq(client, staff, question="Draft question?", answer="Not yet.")
    live = await create_faq(client, staff, question="Live question?", answer="Yes.", status="published")
    assert (draft["status"], draft["published_at"]) == ("draft", None)
    assert live["published_at"] is not None
    assert live["embedded"] is True

    for headers in ({}, reader):
        items = (await client.get(BASE, headers=headers)).json()["items"]
        assert [f["id"] for f in items] == [live["id"]]
        assert (await client.get(f"{BASE}/{draft['id']}", headers=headers)).status_code == 404
        assert (await client.get(f"{BASE}/by-slug/{draft['slug']}", headers=headers)).status_code == 404
        assert (await client.get(BASE, headers=headers, params={"status": "draft"})).status_code == 403
    staff_items = (await client.get(BASE, headers=staff)).json()["items"]
    assert {f["id"] for f in staff_items} == {draft["id"], live["id"]}
    assert (await client.get(f"{BASE}/{draft['id']}", headers=staff)).status_code == 200
    assert (await client.get(BASE, headers={"Authorization": "Bearer nonsense"})).status_code == 401

    assert (await client.post(BASE, json={"question": "q?", "answer": "a"})).status_code == 401
    assert (await client.post(BASE, headers=reader, json={"question": "q?", "answer": "a"})).status_code == 403
    assert (await client.put(f"{BASE}/{live['id']}", headers=reader, json={"answer": "x"})).status_code == 403

    # Moderators archive; only admins delete for good.
    assert (await client.delete(f"{BASE}/{live['id']}", headers=reader)).status_code == 403
    assert (await client.delete(f"{BASE}/{live['id']}", headers=staff)).status_code == 204
    assert await db.fetchval("SELECT status::text FROM faqs WHERE id = $1", live["id"]) == "archived"
    assert (await client.get(f"{BASE}/{live['id']}")).status_code == 404
    r = await client.delete(f"{BASE}/{live['id']}", headers=staff, params={"hard": "true"})
    assert r.status_code == 403
    assert (await client.delete(f"{BASE}/{live['id']}", headers=boss, params={"hard": "true"})).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM faqs WHERE id = $1", live["id"]) == 0
    actions = {r["action"] for r in await db.fetch("SELECT action FROM audit_log WHERE target_type = 'faq'")}
    assert {"faq.created", "faq.archived", "faq.deleted"} <= actions


async def test_slugs_are_unique_and_stable(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    a = await create_faq(client, staff, question="How do I reset my password?")
    b = await create_faq(client, staff, question="How do I reset my password")
    c = await create_faq(client, staff, question="¿Cómo restablezco mi contraseña?", language="es")
    d = await create_faq(client, staff, question="如何重置密码？")
    assert (a["slug"], b["slug"]) == ("how-do-i-reset-my-password", "how-do-i-reset-my-password-2")
    assert c["slug"] == "como-restablezco-mi-contrasena"
    assert d["slug"].startswith("faq-")
    assert len(d["slug"]) == 12

    r = await client.put(f"{BASE}/{a['id']}", headers=staff, json={"question": "How can I change my password?"})
    assert (r.status_code, r.json()["slug"]) == (200, a["slug"])
    r = await client.put(f"{BASE}/{b['id']}", headers=staff, json={"slug": a["slug"]})
    assert r.status_code == 409
    r = await client.post(BASE, headers=staff, json={"question": "Other?", "answer": "x", "slug": a["slug"]})
    assert r.status_code == 409
    r = await client.put(f"{BASE}/{b['id']}", headers=staff, json={"slug": "password-reset", "status": "published"})
    assert r.json()["slug"] == "password-reset"
    assert (await client.get(f"{BASE}/by-slug/password-reset")).json()["id"] == b["id"]


async def test_published_at_is_the_first_publication(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    faq = await create_faq(client, staff)
    first = (await client.put(f"{BASE}/{faq['id']}", headers=staff, json={"status": "published"})).json()
    assert first["published_at"] is not None
    await client.put(f"{BASE}/{faq['id']}", headers=staff, json={"status": "draft"})
    again = (await client.put(f"{BASE}/{faq['id']}", headers=staff, json={"status": "published"})).json()
    assert again["published_at"] == first["published_at"]


async def test_keyset_pages_and_filters(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    cat = (await client.post("/api/v1/faq-categories", headers=staff, json={"name": "Shipping"})).json()
    sub = (
        await client.post("/api/v1/faq-categories", headers=staff, json={"name": "Customs", "parent_id": cat["id"]})
    ).json()
    made = []
    for i, priority in enumerate([0, 5, 0, 5, 1, 0, 3]):
        made.append(
            await create_faq(
                client, staff, question=f"Question number {i}?", priority=priority, status="published",
                language="es" if i == 6 else "en", keywords=["Labels"] if i % 2 else None,
                category_id=sub["id"] if i in (1, 2) else (cat["id"] if i == 3 else None),
            )
        )  # fmt: skip
    expected = [f["id"] for f in sorted(made, key=lambda f: (-f["priority"], -f["id"]))]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(BASE, params=params)).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    def ids(r: httpx.Response) -> set[int]:
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["items"]}

    assert ids(await client.get(BASE, params={"category": cat["id"]})) == {made[1]["id"], made[2]["id"], made[3]["id"]}
    assert ids(await client.get(BASE, params={"category": "customs"})) == {made[1]["id"], made[2]["id"]}
    assert ids(await client.get(BASE, params={"language": "es"})) == {made[6]["id"]}
    assert ids(await client.get(BASE, params={"tag": "labels"})) == {made[i]["id"] for i in (1, 3, 5)}
    assert (await client.get(BASE, params={"category": "nope"})).status_code == 404
    assert (await client.get(BASE, params={"cursor": "%%%"})).status_code == 400
    assert (await client.get(BASE, params={"limit": 0})).status_code == 422


async def test_votes_are_changeable_and_counted_exactly(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, status="published")
    url = f"{BASE}/{faq['id']}/vote"
    assert (await client.post(url, json={"helpful": True})).status_code == 400  # no account, no device id
    r = await client.post(url, headers=reader, json={"helpful": True})
    assert r.json() == {"faq_id": faq["id"], "helpful": True, "helpful_count": 1, "not_helpful_count": 0}
    r = await client.post(url, headers=reader, json={"helpful": False})
    assert (r.json()["helpful_count"], r.json()["not_helpful_count"]) == (0, 1)
    r = await client.post(url, headers=reader, json={"helpful": False})
    assert (r.json()["helpful_count"], r.json()["not_helpful_count"]) == (0, 1)
    assert (await client.post(url, headers=reader, json={"helpful": "yes"})).status_code == 422
    draft = await create_faq(client, staff, question="Hidden?")
    assert (await client.post(f"{BASE}/{draft['id']}/vote", headers=reader, json={"helpful": True})).status_code == 404

    # Many voters at once, each flipping their vote: the counts equal the stored votes.
    voters = [bearer(await signed_in(client, f"voter{i}@example.com")) for i in range(8)]
    await asyncio.gather(*(client.post(url, headers=v, json={"helpful": True}) for v in voters))
    await asyncio.gather(*(client.post(url, headers=v, json={"helpful": i % 2 == 0}) for i, v in enumerate(voters)))
    row = await db.fetchrow("SELECT helpful_count, not_helpful_count FROM faqs WHERE id = $1", faq["id"])
    votes = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE helpful) AS yes, count(*) FILTER (WHERE NOT helpful) AS no "
        "FROM faq_votes WHERE faq_id = $1",
        faq["id"],
    )
    assert row is not None
    assert votes is not None
    assert (row["helpful_count"], row["not_helpful_count"]) == (votes["yes"], votes["no"]) == (4, 5)


async def test_public_views_are_counted_without_touching_the_faq(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, status="published")
    before = await db.fetchrow(
        "SELECT updated_at, (SELECT version FROM faq_search_version) v FROM faqs WHERE id = $1", faq["id"]
    )
    await client.get(f"{BASE}/{faq['id']}")
    await client.get(f"{BASE}/by-slug/{faq['slug']}", headers=reader)
    await client.get(f"{BASE}/{faq['id']}", headers=staff)  # staff reviewing do not count
    after = await db.fetchrow(
        "SELECT view_count, updated_at, (SELECT version FROM faq_search_version) v FROM faqs WHERE id = $1", faq["id"]
    )
    assert before is not None
    assert after is not None
    assert after["view_count"] == 2
    assert (after["updated_at"], after["v"]) == (before["updated_at"], before["v"])


BAD_BODIES: list[dict[str, object]] = [
    {"question": ""},
    {"question": "   "},
    {"answer": None},
    {"status": "live"},
    {"priority": 10_000},
    {"language": "english"},
    {"slug": "Has Spaces"},
    {"keywords": "one"},
    {"keywords": [""]},
    {"category_id": 424242},
    {"question": "x" * 2001},
    {"views": 3},
]


async def test_bad_input_changes_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff)
    before = await db.fetchrow("SELECT * FROM faqs WHERE id = $1", faq["id"])
    version = await db.fetchval("SELECT version FROM faq_search_version")
    for body in BAD_BODIES:
        r = await client.put(f"{BASE}/{faq['id']}", headers=staff, json=body)
        assert r.status_code in (400, 422), (body, r.text)
        assert r.json()["error"] in ("bad_request", "validation_error")
        assert r.json()["detail"]
        r = await client.post(BASE, headers=staff, json={"question": "Fine?", "answer": "Fine.", **body})
        assert r.status_code in (400, 422), (body, r.text)
    assert (await client.put(f"{BASE}/424242", headers=staff, json={"answer": "x"})).status_code == 404
    assert (await client.put(f"{BASE}/{faq['id']}", headers=staff, json={"slug": None})).status_code == 400
    assert await db.fetchrow("SELECT * FROM faqs WHERE id = $1", faq["id"]) == before
    assert await db.fetchval("SELECT count(*) FROM faqs") == 1
    assert await db.fetchval("SELECT version FROM faq_search_version") == version


async def test_visitors_vote_once_per_device(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    faq = await create_faq(client, staff, status="published")
    url = f"{BASE}/{faq['id']}/vote"
    phone, laptop = "phone-0123456789abcdef", "laptop-0123456789abcdef"
    r = await client.post(url, json={"helpful": True, "device_id": phone})
    assert r.status_code == 200, r.text
    assert (r.json()["helpful_count"], r.json()["not_helpful_count"]) == (1, 0)
    # The same device again: its vote changes, it is not counted twice.
    r = await client.post(url, json={"helpful": True, "device_id": phone})
    assert (r.json()["helpful_count"], r.json()["not_helpful_count"]) == (1, 0)
    r = await client.post(url, json={"helpful": False, "device_id": phone})
    assert (r.json()["helpful_count"], r.json()["not_helpful_count"]) == (0, 1)
    r = await client.post(url, json={"helpful": True, "device_id": laptop})
    assert (r.json()["helpful_count"], r.json()["not_helpful_count"]) == (1, 1)
    assert await db.fetchval("SELECT count(*) FROM faq_votes WHERE faq_id = $1 AND user_id IS NULL", faq["id"]) == 2
    # Not a usable id: a 422 on the field.
    r = await client.post(url, json={"helpful": True, "device_id": "short"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "device_id"
    # A vote may not name both a user and a device, nor neither.
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO faq_votes (faq_id, helpful) VALUES ($1, true)", faq["id"])


async def test_anonymous_votes_are_rate_limited(
    client: httpx.AsyncClient, runtime: Runtime, staff: dict[str, str], reader: dict[str, str]
) -> None:
    faq = await create_faq(client, staff, status="published")
    url = f"{BASE}/{faq['id']}/vote"
    runtime.api_limiter = ApiRateLimiter(runtime.windows, LimitsSettings(rules={"vote:anonymous": "3/day"}))
    codes = [
        (await client.post(url, json={"helpful": True, "device_id": f"device-{i:016d}"})).status_code for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    # An account's vote counts in the account's own windows.
    assert (await client.post(url, headers=reader, json={"helpful": True})).status_code == 200
