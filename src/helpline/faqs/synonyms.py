"""Search synonyms managed by staff: sets of words a customer and the knowledge base use for the
same thing ("package", "parcel", "shipment"). What support search products call synonyms
(Algolia's, Zendesk's, Elasticsearch's synonym filter): the embedders and the full-text parser
cannot know that a shop says "parcel" where its customers say "package", and no word is shared.

Expansion (``expansion``): the query's words (lower-case, as normalised by faqs.query) are
matched against the sets of the query's language and of every language; a term of several words
("money back") matches those words in a row, and a query word matches a one-word term also as
its plural ("packages"). The other terms of every matched set are added to the full-text query
as alternatives (websearch OR; a multi-word term as a phrase), so FAQs using them become
candidates and rank on them as on the query's own words. The query's vector is made from the
query followed by each matched set's first term that the query lacks ("my package never arrived
parcel"): the words alone make the FAQ a candidate, but MiniLM still scores "my package never
arrived" 0.27 against "My parcel is lost or damaged..." (under the 0.3 floor), and 0.45 with
"parcel" added. Adding every other term to the vector pulled some queries toward the wrong FAQ
("refund for unused label" + "money back reimbursement" -> the refund FAQ); the first term only
measured best (bench/README.md, "Search synonyms"). Staff put first the word the knowledge base
itself uses; a query that has it gets no customer's word for it (Expansion).

The sets are read once per search version (a trigger bumps it with every change, migration 0027)
and kept in the FAQ cache under that version, like search results: no database read per query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import NotFound
from helpline.faqs.backends import FAQDeps
from helpline.faqs.query import APOSTROPHES
from helpline.models import SearchSynonym

MIN_TERMS = 2
MAX_TERMS = 20
MAX_TERM_CHARS = 60
# Terms added to one query at most: a query touching many sets stays a query, not a thesaurus.
MAX_EXPANSION = 24
CACHE_TTL_SECONDS = 600
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class SynonymSet:
    language: str | None  # primary subtag, or None for every language
    terms: tuple[str, ...]


def normalise_term(term: str) -> str:
    """A term as stored and matched: lower-case, plain apostrophes, single spaces."""
    return " ".join(term.translate(APOSTROPHES).lower().split())


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.translate(APOSTROPHES).lower())


def _matches(term: Sequence[str], words: Sequence[str]) -> bool:
    """``term``'s words appear in a row in ``words``; its last word also with a plural -s/-es."""
    n = len(term)
    if not n or n > len(words):
        return False
    head, last = term[:-1], term[-1]
    forms = (last, f"{last}s", f"{last}es")
    return any(
        list(words[i : i + n - 1]) == list(head) and words[i + n - 1] in forms for i in range(len(words) - n + 1)
    )


@dataclass(frozen=True, slots=True)
class Expansion:
    """What a query's synonyms add: ``terms`` to its full-text query (every other term of every
    matched set), ``vector`` to the text its vector is made from (each matched set's first term,
    the word staff put first, which should be the knowledge base's own, unless the query uses it
    already: the set's second term is a customer's word, and pulls the vector away from the FAQ
    the query names with the knowledge base's own word: "my order never came" + "purchase" ranked
    the refund FAQ over the lost-parcel one)."""

    terms: tuple[str, ...] = ()
    vector: tuple[str, ...] = ()


NO_EXPANSION = Expansion()


def expansion(q: str, sets: Iterable[SynonymSet], language: str | None) -> Expansion:
    """The synonyms of ``q``'s words: the other terms of every set of ``language`` (a primary
    subtag; None: a search in every language, so every set) or of every language that one of
    ``q``'s words or word sequences belongs to, first seen first, at most MAX_EXPANSION."""
    words = _tokens(q)
    if not words:
        return NO_EXPANSION
    extra: dict[str, None] = {}
    first: dict[str, None] = {}
    for s in sets:
        if language is not None and s.language is not None and s.language != language:
            continue
        split = [(t, _tokens(t)) for t in s.terms]
        matched = {t for t, tokens in split if _matches(tokens, words)}
        if matched:
            others = [t for t, _ in split if t not in matched]
            if s.terms[0] not in matched:
                first.setdefault(s.terms[0], None)
            for t in others:
                extra.setdefault(t, None)
    if not extra:
        return NO_EXPANSION
    return Expansion(tuple(extra)[:MAX_EXPANSION], tuple(first)[:MAX_EXPANSION])


def vector_text(q: str, extra: Expansion) -> str:
    """What is embedded for ``q`` with its synonyms: the query, then each matched set's first term
    that the query does not use already (Expansion)."""
    return " ".join([q, *extra.vector])


def _cache_key(version: int) -> str:
    return f"synonyms:{version}"


async def for_version(session: AsyncSession, deps: FAQDeps, version: int) -> list[SynonymSet]:
    """Every synonym set, as of search version ``version``: from the FAQ cache, or read once and
    cached (a change bumps the version, so a cached list is never stale)."""
    key = _cache_key(version)
    raw = await deps.cache.get(key)
    if raw is not None:
        return [SynonymSet(d[0], tuple(d[1])) for d in json.loads(raw)]
    rows = (await session.execute(select(SearchSynonym.language, SearchSynonym.terms).order_by(SearchSynonym.id))).all()
    sets = [SynonymSet(r.language, tuple(r.terms)) for r in rows]
    await deps.cache.set(key, json.dumps([[s.language, list(s.terms)] for s in sets]), CACHE_TTL_SECONDS)
    return sets


# Staff management (the /api/v1/admin/search-synonyms endpoints). The request's schema has
# normalised and checked the terms; the search version is bumped by the table's trigger.


async def list_sets(session: AsyncSession) -> list[SearchSynonym]:
    stmt = select(SearchSynonym).order_by(SearchSynonym.language.nulls_first(), SearchSynonym.id)
    return list((await session.scalars(stmt)).all())


async def get_set(session: AsyncSession, synonym_id: int) -> SearchSynonym:
    found = await session.get(SearchSynonym, synonym_id)
    if found is None:
        raise NotFound("No such synonym set")
    return found


async def create_set(
    session: AsyncSession,
    language: str | None,
    terms: list[str],
    *,
    actor_id: int | None,
    client: Client = audit.NO_CLIENT,
) -> SearchSynonym:
    """A new synonym set (``terms`` already normalised and unique)."""
    row = SearchSynonym(language=language, terms=terms, created_by=actor_id)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    audit.record(
        session, "search_synonym.created", actor_user_id=actor_id, target_type="search_synonym",
        target_id=row.id, client=client, details={"language": language, "terms": terms},
    )  # fmt: skip
    return row


async def update_set(
    session: AsyncSession,
    row: SearchSynonym,
    language: str | None,
    terms: list[str],
    *,
    actor_id: int | None,
    client: Client = audit.NO_CLIENT,
) -> SearchSynonym:
    """Replace a set's language and terms (a no-op when nothing changes: no audit entry, no bump)."""
    if row.language == language and list(row.terms) == terms:
        return row
    before = {"language": row.language, "terms": list(row.terms)}
    row.language, row.terms = language, terms
    await session.flush()
    await session.refresh(row)
    audit.record(
        session, "search_synonym.updated", actor_user_id=actor_id, target_type="search_synonym",
        target_id=row.id, client=client, details={"before": before, "language": language, "terms": terms},
    )  # fmt: skip
    return row


async def delete_set(
    session: AsyncSession, row: SearchSynonym, *, actor_id: int | None, client: Client = audit.NO_CLIENT
) -> None:
    await session.execute(delete(SearchSynonym).where(SearchSynonym.id == row.id))
    audit.record(
        session, "search_synonym.deleted", actor_user_id=actor_id, target_type="search_synonym",
        target_id=row.id, client=client, details={"language": row.language, "terms": list(row.terms)},
    )  # fmt: skip


# General e-commerce vocabulary the demo knowledge base (faqs.demo) starts with: words customers
# and shops use for the same thing. Vocabulary only, never a test or benchmark query's phrasing.
DEMO_SETS: tuple[SynonymSet, ...] = (
    SynonymSet("en", ("parcel", "package", "shipment")),
    SynonymSet("en", ("order", "purchase")),
    SynonymSet("en", ("refund", "money back", "reimbursement")),
    SynonymSet("en", ("courier", "driver")),
    SynonymSet("en", ("tracking number", "tracking code", "tracking id")),
    SynonymSet("en", ("damaged", "broken")),
    # How customers say a shipment was lost: it never arrived (not "hasn't arrived yet": late).
    SynonymSet("en", ("lost", "missing", "never arrived", "never came", "never showed up", "never delivered")),
    SynonymSet("en", ("cost", "price", "fee")),
    SynonymSet("es", ("paquete", "envío", "bulto")),
    SynonymSet("es", ("pedido", "compra")),
    SynonymSet("es", ("reembolso", "devolución del dinero")),
)


def add_demo_sets(session: AsyncSession) -> None:
    """Add DEMO_SETS (the demo loader's transaction commits them)."""
    session.add_all([SearchSynonym(language=s.language, terms=list(s.terms)) for s in DEMO_SETS])
