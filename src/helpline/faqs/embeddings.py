"""Embeddings of FAQs (kept on the row with the hash of the text and the model that made them)
and of queries (cached by model + text hash)."""

from __future__ import annotations

import base64
import hashlib
from array import array
from collections.abc import Sequence

import structlog

from helpline.ai.base import EmbeddingError
from helpline.faqs.backends import FAQDeps
from helpline.models import FAQ

log = structlog.get_logger(__name__)

QUERY_EMBEDDING_TTL = 24 * 3600


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def question_text(faq: FAQ) -> str:
    """What the question vector is made of: the question and its keywords, "Question? (kw, kw)".
    Keywords are the words an admin expects users to ask with; embedded with the question they
    bring its vector closer to those phrasings (bench/bench_retrieval.py: top-1 0.79 to 0.87 with
    MiniLM). Its hash, in ``question_hash``, makes a changed keyword re-embed the question."""
    keywords = [k.strip() for k in faq.keywords or [] if isinstance(k, str) and k.strip()]
    return f"{faq.question} ({', '.join(keywords)})" if keywords else faq.question


def _pack(vector: Sequence[float]) -> str:
    return base64.b64encode(array("f", vector).tobytes()).decode()


def _unpack(raw: str) -> list[float]:
    values = array("f")
    values.frombytes(base64.b64decode(raw))
    return values.tolist()


async def embed_queries(deps: FAQDeps, texts: Sequence[str]) -> list[list[float]] | None:
    """One vector per text, from the cache when this model embedded the same text before; None
    when embeddings are unavailable (search then runs on full text alone)."""
    embedder = deps.embedder
    if embedder is None:
        return None
    # "qemb2": query vectors are embedded as queries (input_type), not as documents any more.
    keys = [f"qemb2:{embedder.model}:{embedder.dimension}:{text_hash(t)}" for t in texts]
    found = await deps.cache.get_many(keys)
    vectors: list[list[float] | None] = [_unpack(raw) if raw else None for raw in found]
    todo = list(dict.fromkeys(texts[i] for i, v in enumerate(vectors) if v is None))
    if todo:
        try:
            made = dict(zip(todo, await embedder.embed(todo, input_type="query"), strict=True))
        except EmbeddingError as exc:
            log.warning("faq.query_embedding_failed", error=str(exc)[:300])
            return None
        for i, v in enumerate(vectors):
            if v is None:
                vectors[i] = made[texts[i]]
                await deps.cache.set(keys[i], _pack(made[texts[i]]), QUERY_EMBEDDING_TTL)
    return [v for v in vectors if v is not None]


async def embed_query(deps: FAQDeps, text: str) -> list[float] | None:
    """The query's vector (cached); what the chat passes to ``record_unanswered``."""
    vectors = await embed_queries(deps, [text])
    return vectors[0] if vectors else None


async def refresh_embeddings(deps: FAQDeps, faqs: Sequence[FAQ], *, force: bool = False, strict: bool = False) -> int:
    """Embed, in one batch, each question and answer whose text or model changed since its vector
    was made; an unchanged text is never embedded again. Call before the flush. When embedding is
    impossible now, vectors of changed texts are dropped (so vector search never matches old text;
    full-text search still finds the FAQ and `helpline reindex` fills them in). Returns how many
    texts were embedded. ``strict`` raises EmbeddingError instead."""
    embedder = deps.embedder
    jobs: list[tuple[FAQ, bool, str]] = []  # (faq, is_question, text)
    for faq in faqs:
        model_changed = embedder is not None and faq.embedding_model != embedder.model
        question = question_text(faq)
        if force or model_changed or faq.question_hash != text_hash(question):
            jobs.append((faq, True, question))
        if not faq.answer.strip():
            if faq.answer_hash is not None:
                faq.answer_embedding, faq.answer_hash = None, None
        elif force or model_changed or faq.answer_hash != text_hash(faq.answer):
            jobs.append((faq, False, faq.answer))
    if not jobs:
        return 0
    vectors: list[list[float]] | None = None
    if embedder is not None:
        try:
            vectors = await embedder.embed([t for _, _, t in jobs])
        except EmbeddingError as exc:
            if strict:
                raise
            log.warning("faq.embedding_failed", error=str(exc)[:300], texts=len(jobs))
    for i, (faq, is_question, txt) in enumerate(jobs):
        changed = (faq.question_hash if is_question else faq.answer_hash) != text_hash(txt)
        if vectors is None:
            if changed:
                _set(faq, is_question, None, None)
            continue
        _set(faq, is_question, vectors[i], text_hash(txt))
    if vectors is None or embedder is None:
        return 0
    for faq, _, _ in jobs:
        faq.embedding_model = embedder.model
    return len(jobs)


def _set(faq: FAQ, is_question: bool, vector: list[float] | None, digest: str | None) -> None:
    if is_question:
        faq.question_embedding, faq.question_hash = vector, digest
    else:
        faq.answer_embedding, faq.answer_hash = vector, digest
