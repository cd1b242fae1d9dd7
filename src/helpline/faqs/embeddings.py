"""Embeddings of FAQs (kept on the row with the hash of the text and the model that made them)
and of queries (cached by model + text hash)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from array import array
from collections.abc import Sequence

import structlog

from helpline.ai.base import Embedder, EmbeddingError
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


def question_current(faq: FAQ) -> bool:
    """The question vector was made from the current question and keywords."""
    return faq.question_hash == text_hash(question_text(faq))


def answer_current(faq: FAQ) -> bool:
    """The answer vector was made from the current answer (an empty answer needs none)."""
    return not faq.answer.strip() or faq.answer_hash == text_hash(faq.answer)


def _pack(vector: Sequence[float]) -> str:
    return base64.b64encode(array("f", vector).tobytes()).decode()


def _unpack(raw: str) -> list[float]:
    values = array("f")
    values.frombytes(base64.b64decode(raw))
    return values.tolist()


async def embed_queries(deps: FAQDeps, texts: Sequence[str]) -> list[list[float]] | None:
    """One vector per text, from the cache when this model embedded the same text before; None
    when embeddings are unavailable (search then runs on full text alone). A text that another
    caller is embedding right now is waited for, not embedded again (see ``_fill``)."""
    embedder = deps.embedder
    if embedder is None:
        return None
    # "qemb2": query vectors are embedded as queries (input_type), not as documents any more.
    keys = [f"qemb2:{embedder.model}:{embedder.dimension}:{text_hash(t)}" for t in texts]
    found = await deps.cache.get_many(keys)
    vectors: list[list[float] | None] = [_unpack(raw) if raw else None for raw in found]
    missing = {keys[i]: texts[i] for i, v in enumerate(vectors) if v is None}
    if missing:
        made = await _fill(deps, embedder, missing)
        if made is None:
            return None
        vectors = [made[keys[i]] if v is None else v for i, v in enumerate(vectors)]
    return [v for v in vectors if v is not None]


_Made = dict[str, list[float]] | None


async def _fill(deps: FAQDeps, embedder: Embedder, missing: dict[str, str]) -> _Made:
    """The vectors of ``missing`` (cache key -> text), embedded once per process however many
    callers ask at the same moment: the chat starts embedding a message while the turn is still
    being checked and stored, and its retrieval then waits for that embedding; concurrent
    searches for the same text share one. Written here rather than with a memoizing library
    because the cache behind it is Redis (shared by instances), and only the fill in progress
    needs sharing: a dict of running tasks, each removed when done."""
    inflight = deps.cache.inflight
    mine = {k: t for k, t in missing.items() if k not in inflight}
    if mine:
        task = asyncio.create_task(_embed_and_store(deps, embedder, mine))
        for key in mine:
            inflight[key] = task

        def done(finished: asyncio.Task[_Made], keys: tuple[str, ...] = tuple(mine)) -> None:
            for key in keys:
                if inflight.get(key) is finished:
                    del inflight[key]

        task.add_done_callback(done)
    made: dict[str, list[float]] = {}
    # shield(): a caller that goes away (a client disconnecting) does not cancel the others' embedding.
    for task in {inflight[k] for k in missing}:
        got = await asyncio.shield(task)
        if got is None:
            return None
        made.update(got)
    return made


async def _embed_and_store(deps: FAQDeps, embedder: Embedder, todo: dict[str, str]) -> _Made:
    texts = list(dict.fromkeys(todo.values()))
    try:
        by_text = dict(zip(texts, await embedder.embed(texts, input_type="query"), strict=True))
    except EmbeddingError as exc:
        log.warning("faq.query_embedding_failed", error=str(exc)[:300])
        return None
    made = {key: by_text[text] for key, text in todo.items()}
    for key, vector in made.items():
        await deps.cache.set(key, _pack(vector), QUERY_EMBEDDING_TTL)
    return made


async def embed_query(deps: FAQDeps, text: str) -> list[float] | None:
    """The query's vector (cached); what the chat passes to ``record_unanswered``."""
    vectors = await embed_queries(deps, [text])
    return vectors[0] if vectors else None


async def refresh_embeddings(deps: FAQDeps, faqs: Sequence[FAQ], *, force: bool = False, strict: bool = False) -> int:
    """Embed, in one batch, each question and answer whose text or model changed since its vector
    was made; an unchanged text is never embedded again. Call before the flush. When embedding is
    impossible now, vectors of changed texts are dropped (so vector search never matches old text;
    full-text search still finds the FAQ, and the faq_reindex job fills them in). Returns how many
    texts were embedded. ``strict`` raises EmbeddingError instead."""
    embedder = deps.embedder
    jobs: list[tuple[FAQ, bool, str]] = []  # (faq, is_question, text)
    for faq in faqs:
        model_changed = embedder is not None and faq.embedding_model != embedder.model
        if force or model_changed or not question_current(faq):
            jobs.append((faq, True, question_text(faq)))
        if not faq.answer.strip():
            if faq.answer_hash is not None:
                faq.answer_embedding, faq.answer_hash = None, None
        elif force or model_changed or not answer_current(faq):
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
            if deps.reindex_later is not None:
                await deps.reindex_later()
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
