"""`helpline reindex`: make every FAQ (phrasing, and unanswered question) vector current.

Re-embeds what is missing or stale: text changed since its vector was made, or made by another
model. When HELPLINE_EMBEDDING_DIMENSION (the embedder's width) differs from the vector
columns', the columns are first resized (their vectors dropped: another width means another
model) and the HNSW indexes rebuilt after the new vectors are in, which is faster than
maintaining them row by row. Works in batches, each its own short transaction, so the app keeps
serving (with full-text search for rows not done yet) and an interrupted run resumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.ai.base import Embedder
from helpline.core.db import session_scope
from helpline.faqs.backends import FAQDeps, vector_column_dimension
from helpline.faqs.embeddings import refresh_embeddings
from helpline.faqs.phrasings import refresh_phrasing_embeddings
from helpline.faqs.views import ViewCounter
from helpline.models import FAQ, FAQPhrasing, UnansweredQuestion
from helpline.models.faqs import HNSW_BUILD_MEMORY, HNSW_INDEXES, PHRASING_HNSW_INDEX, hnsw_ddl
from helpline.platform.cache import MemoryFAQCache

log = structlog.get_logger(__name__)

# pgvector's HNSW indexes take `vector` columns of at most 2000 dimensions; wider ones are
# searched exactly (a sequential scan), which is fine for a knowledge base of a few thousand FAQs.
HNSW_MAX_DIMENSIONS = 2000


@dataclass
class ReindexReport:
    model: str
    dimension: int
    resized_from: int | None = None
    faqs_updated: int = 0
    texts_embedded: int = 0
    faqs_current: int = 0
    phrasings_embedded: int = 0
    unanswered_embedded: int = 0
    indexes_built: bool = False


async def resize_vectors(session: AsyncSession, dimension: int) -> None:
    """Change the vector columns to ``dimension`` (dropping their vectors and the HNSW indexes)."""
    for name in (*HNSW_INDEXES, PHRASING_HNSW_INDEX[0]):
        await session.execute(text(f"DROP INDEX IF EXISTS {name}"))
    await session.execute(
        text(
            f"ALTER TABLE faqs ALTER COLUMN question_embedding TYPE vector({dimension}) USING NULL, "
            f"ALTER COLUMN answer_embedding TYPE vector({dimension}) USING NULL"
        )
    )
    await session.execute(text("UPDATE faqs SET question_hash = NULL, answer_hash = NULL, embedding_model = NULL"))
    await session.execute(text(f"ALTER TABLE faq_phrasings ALTER COLUMN embedding TYPE vector({dimension}) USING NULL"))
    await session.execute(text("UPDATE faq_phrasings SET text_hash = NULL, embedding_model = NULL"))
    await session.execute(
        text(f"ALTER TABLE unanswered_questions ALTER COLUMN embedding TYPE vector({dimension}) USING NULL")
    )
    await session.execute(text("UPDATE unanswered_questions SET embedding_model = NULL"))


async def reindex(
    maker: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    force: bool = False,
    batch_size: int = 64,
    progress: Callable[[str], None] | None = None,
) -> ReindexReport:
    say = progress or (lambda _: None)
    report = ReindexReport(model=embedder.model, dimension=embedder.dimension)
    async for session in session_scope(maker):
        current = await vector_column_dimension(session)
        if current != embedder.dimension:
            say(f"Resizing the vector columns from {current} to {embedder.dimension} dimensions")
            await resize_vectors(session, embedder.dimension)
            report.resized_from = current
    deps = FAQDeps(embedder=embedder, cache=MemoryFAQCache(), views=ViewCounter(), sessionmaker=maker)
    last_id = 0
    while True:
        done = False
        async for session in session_scope(maker):
            stmt = (
                select(FAQ, FAQ.question_embedding.is_(None), FAQ.answer_embedding.is_(None))
                .where(FAQ.id > last_id)
                .order_by(FAQ.id)
                .limit(batch_size)
            )
            rows = (await session.execute(stmt)).all()
            if not rows:
                done = True
                continue
            last_id = rows[-1][0].id
            faqs = []
            for faq, no_question, no_answer in rows:
                # A hash without its vector (vectors dropped by hand) must not pass for current.
                if no_question:
                    faq.question_hash = None
                if no_answer:
                    faq.answer_hash = None
                faqs.append(faq)
            before = {f.id: (f.question_hash, f.answer_hash, f.embedding_model) for f in faqs}
            report.texts_embedded += await refresh_embeddings(deps, faqs, force=force, strict=True)
            changed = sum(1 for f in faqs if before[f.id] != (f.question_hash, f.answer_hash, f.embedding_model))
            report.faqs_updated += changed
            report.faqs_current += len(faqs) - changed
            say(f"FAQs up to #{last_id}: {report.texts_embedded} texts embedded so far")
        if done:
            break
    report.phrasings_embedded = await _phrasings(deps, force, batch_size, say)
    report.unanswered_embedded = await _unanswered(maker, embedder, batch_size)
    if embedder.dimension <= HNSW_MAX_DIMENSIONS:
        async for session in session_scope(maker):
            existing = set(
                (
                    await session.scalars(
                        text("SELECT indexname FROM pg_indexes WHERE tablename IN ('faqs', 'faq_phrasings')")
                    )
                ).all()
            )
            indexes = [(name, column, "faqs") for name, column in HNSW_INDEXES.items()]
            indexes.append((*PHRASING_HNSW_INDEX, "faq_phrasings"))
            for name, column, table in indexes:
                if name not in existing:
                    say(f"Building the HNSW index {name}")
                    await session.execute(text(f"SET LOCAL maintenance_work_mem = '{HNSW_BUILD_MEMORY}'"))
                    await session.execute(text(hnsw_ddl(name, column, table)))
                    report.indexes_built = True
    else:
        log.warning("faq.hnsw_skipped", dimension=embedder.dimension, max=HNSW_MAX_DIMENSIONS)
    return report


async def _phrasings(deps: FAQDeps, force: bool, batch_size: int, say: Callable[[str], None]) -> int:
    """The alternative phrasings, as the FAQs above: in batches of their own transactions."""
    total = 0
    last_id = 0
    while True:
        rows: list[FAQPhrasing] = []
        async for session in session_scope(deps.sessionmaker):
            stmt = (
                select(FAQPhrasing, FAQPhrasing.embedding.is_(None))
                .where(FAQPhrasing.id > last_id)
                .order_by(FAQPhrasing.id)
                .limit(batch_size)
            )
            found = (await session.execute(stmt)).all()
            if not found:
                continue
            last_id = found[-1][0].id
            for row, no_vector in found:
                if no_vector:
                    row.text_hash = None  # a hash without its vector must not pass for current
                rows.append(row)
            total += await refresh_phrasing_embeddings(deps, rows, force=force, strict=True)
            say(f"Phrasings up to #{last_id}: {total} embedded so far")
        if not rows:
            return total


async def _unanswered(maker: async_sessionmaker[AsyncSession], embedder: Embedder, batch_size: int) -> int:
    total = 0
    last_id = 0
    while True:
        batch: list[UnansweredQuestion] = []
        async for session in session_scope(maker):
            stmt = (
                select(UnansweredQuestion)
                .where(
                    UnansweredQuestion.id > last_id,
                    UnansweredQuestion.embedding_model.is_distinct_from(embedder.model)
                    | UnansweredQuestion.embedding.is_(None),
                )
                .order_by(UnansweredQuestion.id)
                .limit(batch_size)
            )
            batch = list((await session.scalars(stmt)).all())
            if not batch:
                continue
            last_id = batch[-1].id
            vectors = await embedder.embed([q.text for q in batch], input_type="query")
            for q, v in zip(batch, vectors, strict=True):
                q.embedding, q.embedding_model = v, embedder.model
            total += len(batch)
        if not batch:
            return total
