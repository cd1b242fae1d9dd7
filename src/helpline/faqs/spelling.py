""" "Did you mean": a help-center query with its misspelled words replaced by the closest words of
the published FAQs (PostgreSQL's pg_trgm trigram similarity, in one statement).

A word is left alone when it is short (fewer than MIN_CHARS letters: trigrams say little about
"teh"), a number, or a word some published FAQ uses (question, keywords, phrasings or answer: the
larger the vocabulary, the fewer plain words are "corrected" into something else). Otherwise it
becomes the FAQ word most similar to it (of equally similar ones, the most used), if one is at
least THRESHOLD similar. The suggestion is
None when no word changed. Suggestions are cached with the search results (same version)."""

from __future__ import annotations

import json
import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.faqs.backends import FAQDeps
from helpline.faqs.embeddings import text_hash
from helpline.faqs.search import RESULT_TTL_SECONDS, primary_language, search_state

MIN_CHARS = 4
MAX_WORDS = 12
THRESHOLD = 0.35
_TOKEN = re.compile(r"\w+|\W+", re.UNICODE)

# The published FAQs' words (lower case, 3+ letters, no digits) with how often they occur in the language (or every
# language), then for each query word: whether a FAQ uses it, and the most similar FAQ word.
SUGGEST_SQL = text(
    """
    WITH docs AS (
        SELECT f.question || ' ' || coalesce(f.keywords::text, '') || ' '
               || coalesce(f.phrasings::text, '') || ' ' || f.answer AS body
        FROM faqs f
        WHERE f.status = 'published'
          AND (CAST(:lang AS text) IS NULL OR split_part(lower(f.language), '-', 1) = CAST(:lang AS text))
    ),
    vocab AS (
        SELECT w AS word, count(*) AS uses
        FROM docs, regexp_split_to_table(lower(docs.body), '[^[:alpha:]]+') AS w
        WHERE length(w) >= 3
        GROUP BY w
    )
    SELECT t.word,
           EXISTS (SELECT 1 FROM vocab v WHERE v.word = t.word) AS known,
           (SELECT v.word FROM vocab v
             WHERE similarity(v.word, t.word) >= :threshold
             ORDER BY similarity(v.word, t.word) DESC, v.uses DESC, v.word LIMIT 1) AS best
    FROM unnest(CAST(:words AS text[])) AS t(word)
    """
)


def candidates(q: str) -> list[str]:
    """The query's words worth checking (lower case, distinct, in order)."""
    seen: list[str] = []
    for token in _TOKEN.findall(q):
        word = token.lower()
        if word.isalpha() and len(word) >= MIN_CHARS and word not in seen:
            seen.append(word)
    return seen[:MAX_WORDS]


def rewrite(q: str, corrections: dict[str, str]) -> str | None:
    """``q`` with each corrected word replaced (other text as typed); None when nothing changed."""
    out = [corrections.get(token.lower(), token) for token in _TOKEN.findall(q)]
    result = " ".join("".join(out).split())
    return result if result.lower() != " ".join(q.split()).lower() else None


async def suggest(session: AsyncSession, deps: FAQDeps, q: str, language: str | None) -> str | None:
    """The "did you mean" of ``q`` among the published FAQs in ``language`` (None: all)."""
    words = candidates(q)
    if not words:
        return None
    lang = primary_language(language)
    version, _ = await search_state(session, deps)
    key = f"suggest:{version}:{text_hash(json.dumps([q, lang]))}"
    cached = await deps.cache.get(key)
    if cached is not None:
        value: str | None = json.loads(cached)
        return value
    rows = (await session.execute(SUGGEST_SQL, {"words": words, "lang": lang, "threshold": THRESHOLD})).all()
    corrections = {r.word: r.best for r in rows if not r.known and r.best and r.best != r.word}
    suggestion = rewrite(q, corrections) if corrections else None
    await deps.cache.set(key, json.dumps(suggestion), RESULT_TTL_SECONDS)
    return suggestion
