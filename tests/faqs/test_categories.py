from __future__ import annotations

import asyncpg
import httpx

from tests.faqs.conftest import create_faq

BASE = "/api/v1/faq-categories"


async def test_staff_manage_categories_nested_one_level(
    client: httpx.AsyncClient, staff: dict[str, str], reader: dict[str, str], db: asyncpg.Connection
) -> None:
    assert (await client.post(BASE, json={"name": "Billing"})).status_code == 401
    assert (await client.post(BASE, headers=reader, json={"name": "Billing"})).status_code == 403

    billing = (await client.post(BASE, headers=staff, json={"name": "Billing & Plans", "sort_order": 2})).json()
    assert billing["slug"] == "billing-plans"
    again = (await client.post(BASE, headers=staff, json={"name": "Billing plans!"})).json()
    assert again["slug"] == "billing-plans-2"
    shipping = (await client.post(BASE, headers=staff, json={"name": "Shipping", "sort_order": 1})).json()
    invoices = await client.post(BASE, headers=staff, json={"name": "Invoices", "parent_id": billing["id"]})
    assert invoices.status_code == 201
    invoices_id = invoices.json()["id"]

    # One level only: a subcategory cannot be a parent, a parent cannot be moved under another.
    r = await client.post(BASE, headers=staff, json={"name": "PDFs", "parent_id": invoices_id})
    assert r.status_code == 400
    assert "one level" in r.json()["detail"]
    r = await client.put(f"{BASE}/{billing['id']}", headers=staff, json={"parent_id": shipping["id"]})
    assert r.status_code == 400
    r = await client.put(f"{BASE}/{shipping['id']}", headers=staff, json={"parent_id": shipping["id"]})
    assert r.status_code == 400
    r = await client.post(BASE, headers=staff, json={"name": "Orphan", "parent_id": 9999})
    assert r.status_code == 400

    # Renaming keeps the slug; a taken explicit slug is a conflict.
    r = await client.put(f"{BASE}/{billing['id']}", headers=staff, json={"name": "Payments"})
    assert (r.status_code, r.json()["slug"], r.json()["name"]) == (200, "billing-plans", "Payments")
    r = await client.put(f"{BASE}/{again['id']}", headers=staff, json={"slug": "shipping"})
    assert r.status_code == 409

    tree = (await client.get(BASE)).json()["items"]  # public
    assert [c["slug"] for c in tree] == ["billing-plans-2", "shipping", "billing-plans"]  # by sort_order
    assert [c["slug"] for c in tree[2]["children"]] == ["invoices"]
    one = (await client.get(f"{BASE}/{billing['id']}")).json()
    assert [c["id"] for c in one["children"]] == [invoices_id]
    assert (await client.get(f"{BASE}/9999")).status_code == 404

    # A parent with children cannot go; a deleted category's FAQs become uncategorised.
    assert (await client.delete(f"{BASE}/{billing['id']}", headers=staff)).status_code == 409
    faq = await create_faq(client, staff, category_id=invoices_id)
    assert (await client.delete(f"{BASE}/{invoices_id}", headers=reader)).status_code == 403
    assert (await client.delete(f"{BASE}/{invoices_id}", headers=staff)).status_code == 204
    assert await db.fetchval("SELECT category_id FROM faqs WHERE id = $1", faq["id"]) is None
    assert (await client.delete(f"{BASE}/{billing['id']}", headers=staff)).status_code == 204
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log WHERE action LIKE 'faq_category.%'")]
    assert actions.count("faq_category.created") == 4
    assert actions.count("faq_category.deleted") == 2


async def test_bad_category_input_changes_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    cat = (await client.post(BASE, headers=staff, json={"name": "Returns"})).json()
    before = await db.fetch("SELECT * FROM faq_categories ORDER BY id")
    for body in ({"name": ""}, {"name": "x" * 101}, {"slug": "Not A Slug"}, {"name": None}, {"colour": "red"}):
        r = await client.put(f"{BASE}/{cat['id']}", headers=staff, json=body)
        assert r.status_code in (400, 422), (body, r.text)
    for body in ({}, {"name": "   "}, {"name": "ok", "sort_order": "first"}):
        assert (await client.post(BASE, headers=staff, json=body)).status_code == 422
    assert await db.fetch("SELECT * FROM faq_categories ORDER BY id") == before
