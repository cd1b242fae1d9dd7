""" "Did you mean" over the published FAQs' words (faqs/spelling.py, pg_trgm)."""

from __future__ import annotations

import httpx

from helpline.core.runtime import Runtime
from helpline.faqs.spelling import candidates, rewrite
from tests.faqs.conftest import create_faq
from tests.faqs.test_search import load_demo

SEARCH = "/api/v1/faqs/search"


def test_candidates_and_rewrite_keep_what_was_typed() -> None:
    assert candidates("Where is my PARCLE, parcle? 123 abc") == ["where", "parcle"]
    assert rewrite("Where is my PARCLE?", {"parcle": "parcel"}) == "Where is my parcel?"
    assert rewrite("where  is it", {}) is None


async def test_misspelled_words_get_a_suggestion(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await load_demo(runtime)
    r = await client.get(SEARCH, params={"q": "my parcle is lost", "language": "en", "suggest": True})
    assert r.status_code == 200, r.text
    assert r.json()["suggestion"] == "my parcel is lost"
    r = await client.post(SEARCH, json={"q": "how do i trak a parcel", "suggest": True})
    assert r.json()["suggestion"] == "how do i track a parcel"
    # Words the FAQs use, and queries asking for no suggestion, get none.
    r = await client.get(SEARCH, params={"q": "track a parcel", "suggest": True})
    assert r.json()["suggestion"] is None
    r = await client.get(SEARCH, params={"q": "my parcle is lost"})
    assert r.json()["suggestion"] is None


async def test_drafts_lend_no_words(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    await create_faq(client, staff, question="Quarterly zygomorphic roadmap?", status="draft")
    r = await client.get(SEARCH, params={"q": "zygomorphik", "suggest": True})
    assert r.json()["suggestion"] is None
    await create_faq(client, staff, question="Is the zygomorphic plan public?", status="published")
    r = await client.get(SEARCH, params={"q": "zygomorphik", "suggest": True})
    assert r.json()["suggestion"] == "zygomorphic"
