"""Conversation search shows where it matched: a snippet of the newest matching message."""

from __future__ import annotations

import re

import httpx
from hypothesis import given
from hypothesis import strategies as st

from helpline.conversations.search import AROUND, BEFORE, snippet
from tests.chat.conftest import send


def test_snippet_cuts_around_the_match_between_words() -> None:
    text = ("Lorem ipsum dolor sit amet " * 6) + "my INVOICE total is wrong\n\nand " + ("more words here " * 12)
    before, match, after = snippet(text, "invoice total")
    assert match == "INVOICE total"  # as written
    assert before.startswith("…")
    assert before.endswith("my ")
    assert after.startswith(" is wrong and more")
    assert after.endswith("…")
    assert "\n" not in before + match + after
    assert len(before) <= 52
    assert len(before + match + after) <= 150


def test_short_text_is_whole_and_unmatched_text_is_its_start() -> None:
    assert snippet("Where is my parcel?", "parcel") == ("Where is my ", "parcel", "?")
    assert snippet("Straße kaputt", "STRASSE") == ("", "", "Straße kaputt")  # Python and PostgreSQL fold differently
    assert snippet("x " * 200, "nothing")[2].endswith("…")


@given(st.text(max_size=400), st.text(min_size=1, max_size=20))
def test_snippet_is_short_and_shows_the_match(content: str, q: str) -> None:
    before, match, after = snippet(content, q)
    assert len(before) <= BEFORE + 1
    assert len(after) <= AROUND + 1
    assert "\n" not in before + match + after
    if match and not re.search(r"\s", q):
        assert re.fullmatch(re.escape(q), match, re.IGNORECASE)


async def test_search_results_carry_a_snippet_of_the_matching_message(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    a = (await send(client, auth, "Billing address change")).json()["conversation_id"]
    await send(client, auth, "Also my invoice total is wrong since March", conversation_id=a)
    b = (await send(client, auth, "Invoice question")).json()["conversation_id"]
    found = (await client.get("/api/v1/conversations", headers=auth, params={"q": "invoice total"})).json()["items"]
    assert [c["id"] for c in found] == [a]
    match = found[0]["match"]
    assert match["match"] == "invoice total"
    # The newest matching message: the fake model's answer, which repeats the question.
    assert match["message_type"] == "assistant"
    assert match["before"] == "You said: Also my "
    assert match["after"].startswith(" is wrong since March")

    # Found by the title and the first message: the newest matching message is shown.
    found = (await client.get("/api/v1/conversations", headers=auth, params={"q": "invoice"})).json()["items"]
    assert {c["id"] for c in found} == {a, b}
    assert all(c["match"] and c["match"]["match"].lower() == "invoice" for c in found)

    # A title matched, no message did (renamed): no snippet.
    await client.put(f"/api/v1/conversations/{b}", headers=auth, json={"title": "Zebra paperwork"})
    found = (await client.get("/api/v1/conversations", headers=auth, params={"q": "zebra"})).json()["items"]
    assert [(c["id"], c["match"]) for c in found] == [(b, None)]
    # Without a search, no snippets.
    listed = (await client.get("/api/v1/conversations", headers=auth)).json()["items"]
    assert all(c["match"] is None for c in listed)
