"""The masker of personal data in unanswered questions (helpline.core.pii)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from stdnum import luhn

from helpline.core.pii import mask_pii
from helpline.migrations import upgrade
from tests.conftest import PgServer


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("My card is 4111 1111 1111 1111 exp 12/26", "My card is [card number] exp 12/26"),
        ("card 4111-1111-1111-1111.", "card [card number]."),
        ("5500005555555559", "[card number]"),
        ("Amex 3782 822463 10005 please", "Amex [card number] please"),
        ("card 4111 1111 1111 1111 12 26", "card [card number] 12 26"),
        ("mail ada.l+help@example.co.uk now", "mail [email] now"),
        ("call +44 20 7946 0958 or 020 7946 0958", "call [phone] or [phone]"),
        ("(555) 123-4567 after six", "[phone] after six"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [iban] thanks"),
        ("iban gb82west12345698765432", "iban [iban]"),
        # Left alone: numbers that are none of these.
        ("order 4111111111111112 is late", "order 4111111111111112 is late"),
        ("on 2024-01-05 10:30 I paid 1,250.00 EUR", "on 2024-01-05 10:30 I paid 1,250.00 EUR"),
        ("order #12345, 3 items, version 1.2.3.4", "order #12345, 3 items, version 1.2.3.4"),
        ("DE89 is not an IBAN", "DE89 is not an IBAN"),
        ("", ""),
    ],
)
def test_masks_cards_ibans_emails_and_phones(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def luhn_number(body: str) -> str:
    return body + luhn.calc_check_digit(body)


cards = st.builds(luhn_number, st.text(alphabet="0123456789", min_size=12, max_size=18).filter(lambda s: s[0] != "0"))
words = st.text(alphabet=st.characters(categories=["L"], include_characters=" .,?!"), max_size=40)
separators = st.sampled_from(["", " ", "-"])


@given(before=words, card=cards, sep=separators, group=st.sampled_from([4, 5, 6]), after=words)
@example(before="my card", card="4111111111111111", sep=" ", group=4, after="thanks")
def test_any_valid_card_number_is_masked(before: str, card: str, sep: str, group: int, after: str) -> None:
    typed = sep.join(card[i : i + group] for i in range(0, len(card), group))
    masked = mask_pii(f"{before} {typed} {after}")
    assert typed not in masked
    assert card not in masked.replace(" ", "").replace("-", "")


emails = st.emails().filter(lambda e: e.isascii() and "[" not in e)


@given(before=words, email=emails, after=words)
def test_any_email_address_is_masked(before: str, email: str, after: str) -> None:
    masked = mask_pii(f"{before} {email} {after}")
    assert email not in masked
    assert "@" not in masked


phones = st.builds(
    lambda cc, rest: f"+{cc} {rest}", st.integers(1, 999), st.text(alphabet="0123456789", min_size=7, max_size=11)
)


@given(before=words, phone=phones, after=words)
@example(before="call", phone="+44 2079460958", after="today")
def test_any_international_phone_number_is_masked(before: str, phone: str, after: str) -> None:
    masked = mask_pii(f"{before} {phone} {after}")
    assert phone not in masked
    assert not any(c.isdigit() for c in masked)


def german_iban(account: str) -> str:
    """A valid German IBAN for an 18-digit account part (ISO 13616: check digits by mod 97)."""
    check = 98 - int(account + "131400") % 97  # D=13, E=14, then "00"
    return f"DE{check:02d}{account}"


@given(before=words, account=st.text(alphabet="0123456789", min_size=18, max_size=18), spaced=st.booleans())
def test_any_valid_iban_is_masked(before: str, account: str, spaced: bool) -> None:
    iban = german_iban(account)
    typed = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if spaced else iban
    masked = mask_pii(f"{before} {typed} thanks")
    assert masked.endswith("[iban] thanks")
    assert account[-6:] not in masked.replace(" ", "")


@given(st.text(max_size=200))
@example("4111 1111 1111 1111 ada@example.org +44 20 7946 0958 DE89370400440532013000")
def test_masking_is_idempotent_and_never_grows_digits(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once
    assert sum(c.isdigit() for c in once) <= sum(c.isdigit() for c in text)


@given(st.text(alphabet=st.characters(exclude_categories=["Nd"], exclude_characters="@"), max_size=200))
def test_text_without_digits_or_at_signs_is_unchanged(text: str) -> None:
    assert mask_pii(text) == text


@pytest.fixture
def empty_db(pg_server: PgServer) -> str:
    name = asyncio.run(pg_server.create_database(template=None))
    return pg_server.url(name)


def test_the_migration_masks_existing_rows_and_their_drafts(empty_db: str, pg_server: PgServer) -> None:
    upgrade(empty_db, "0008_revoked_sessions")
    database = make_url(empty_db).database

    async def run(statements: str, query: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(host=pg_server.host, user="postgres", database=database)
        try:
            if statements:
                await conn.execute(statements)
            return await conn.fetch(query)
        finally:
            await conn.close()

    asyncio.run(
        run(
            """
            INSERT INTO faqs (id, question, answer, slug, status, language)
            VALUES (1, 'Refund to 4111 1111 1111 1111?', '', 'refund-to-4111-1111-1111-1111', 'draft', 'en'),
                   (2, 'Call 555 0100?', 'Yes.', 'call-555-0100', 'published', 'en');
            INSERT INTO unanswered_questions (text, language, faq_id) VALUES
              ('Refund to 4111 1111 1111 1111?', 'en', 1),
              ('write to ada@example.org please', 'en', NULL),
              ('Do you ship to Mars?', 'en', NULL);
            """,
            "SELECT 1",
        )
    )
    upgrade(empty_db)
    rows = asyncio.run(run("", "SELECT text FROM unanswered_questions ORDER BY id"))
    assert [r["text"] for r in rows] == ["Refund to [card number]?", "write to [email] please", "Do you ship to Mars?"]
    faqs = asyncio.run(run("", "SELECT id, question, slug FROM faqs ORDER BY id"))
    assert [(f["question"], f["slug"]) for f in faqs] == [
        ("Refund to [card number]?", "refund-to-card-number-1"),
        ("Call 555 0100?", "call-555-0100"),  # not drafted from a question: staff's own text
    ]
