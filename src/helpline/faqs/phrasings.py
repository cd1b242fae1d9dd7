"""Alternative phrasings of a FAQ: other ways customers ask its question.

Each is a row of faq_phrasings with its own vector, so a query close to any of them finds the
FAQ (faqs/search.py scores a FAQ by the best of its question and phrasings); a trigger copies
their texts to faqs.phrasings, which is part of the FAQ's full-text document. Staff write them
(the FAQ editor, imports) or approve them from suggestions (faqs/suggestions.py)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.ai.base import EmbeddingError
from helpline.faqs.backends import FAQDeps
from helpline.faqs.embeddings import text_hash
from helpline.models import FAQ, FAQPhrasing

log = structlog.get_logger(__name__)

MAX_PHRASINGS = 20
MAX_PHRASING_CHARS = 300
# Left out when comparing phrasings: "Where is my parcel?" and "where is my parcel" are one.
_EDGES = " ?!.,;:¿¡…\"'“”„«»‘’()[]-–—"


def clean(text: str) -> str:
    """The text as stored: runs of whitespace (newlines included) made one space, trimmed."""
    return " ".join(text.split())


def normalize(text: str) -> str:
    """The folded form two phrasings are compared by: Unicode-normalised (NFKC), case-folded,
    whitespace collapsed, punctuation at either end left out. "" when nothing is left."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return " ".join(folded.strip(_EDGES).split())


async def rows_of(session: AsyncSession, faq_id: int) -> list[FAQPhrasing]:
    """The FAQ's phrasings in order."""
    stmt = select(FAQPhrasing).where(FAQPhrasing.faq_id == faq_id).order_by(FAQPhrasing.position, FAQPhrasing.id)
    return list((await session.scalars(stmt)).all())


def wanted(question: str, texts: Sequence[str]) -> list[tuple[str, str]]:
    """(text, folded form) of each phrasing to keep: cleaned, in order, without empty ones, ones
    the same as the question or as an earlier phrasing."""
    seen = {normalize(question)}
    out = []
    for raw in texts:
        text, norm = clean(raw), normalize(raw)
        if norm and norm not in seen:
            seen.add(norm)
            out.append((text, norm))
    return out


async def replace_phrasings(
    session: AsyncSession,
    deps: FAQDeps,
    faq: FAQ,
    texts: Sequence[str],
    *,
    sources: Mapping[str, int] | None = None,
    embed: bool = True,
) -> bool:
    """Make ``texts`` the FAQ's phrasings, in this order (the FAQ must have its id). A phrasing
    kept in the same folded form keeps its row: its vector and the user it came from. New ones
    take their source user from ``sources`` (folded form -> user id). Vectors of new or changed
    texts are made in one batch (``embed``: False skips it, for a dry run). Returns whether
    anything changed. Flushes nothing: faqs.phrasings follows at the next flush."""
    existing = {row.norm: row for row in await rows_of(session, faq.id)}
    kept: list[FAQPhrasing] = []
    changed = False
    for position, (text, norm) in enumerate(wanted(faq.question, texts)):
        row = existing.pop(norm, None)
        if row is None:
            row = FAQPhrasing(
                faq_id=faq.id, text=text, norm=norm, position=position, source_user_id=(sources or {}).get(norm)
            )
            session.add(row)
            changed = True
        elif (row.text, row.position) != (text, position):
            row.text, row.position = text, position
            changed = True
        kept.append(row)
    for row in existing.values():
        await session.delete(row)
        changed = True
    if embed:
        await refresh_phrasing_embeddings(deps, kept)
    return changed


def phrasing_current(row: FAQPhrasing, model: str | None) -> bool:
    """The row's vector was made from its current text (by ``model``, when one is given)."""
    return row.text_hash == text_hash(row.text) and (model is None or row.embedding_model == model)


async def refresh_phrasing_embeddings(
    deps: FAQDeps, rows: Sequence[FAQPhrasing], *, force: bool = False, strict: bool = False
) -> int:
    """Embed, in one batch, the phrasings whose text or model changed since their vector was made
    (as faqs.embeddings.refresh_embeddings does for questions and answers: when embedding is
    impossible now, a changed text loses its old vector and `helpline reindex` fills it in).
    Returns how many were embedded; ``strict`` raises EmbeddingError instead."""
    embedder = deps.embedder
    model = embedder.model if embedder is not None else None
    todo = [row for row in rows if force or not phrasing_current(row, model)]
    if not todo:
        return 0
    vectors: list[list[float]] | None = None
    if embedder is not None:
        try:
            vectors = await embedder.embed([row.text for row in todo])
        except EmbeddingError as exc:
            if strict:
                raise
            log.warning("faq.phrasing_embedding_failed", error=str(exc)[:300], texts=len(todo))
            if deps.reindex_later is not None:
                await deps.reindex_later()
    for i, row in enumerate(todo):
        if vectors is None:
            if row.text_hash != text_hash(row.text):
                row.embedding, row.text_hash, row.embedding_model = None, None, None
            continue
        row.embedding, row.text_hash, row.embedding_model = vectors[i], text_hash(row.text), model
    return 0 if vectors is None else len(todo)
