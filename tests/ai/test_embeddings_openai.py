"""The OpenAI-compatible embedder against a real HTTP server speaking the embeddings protocol."""

from __future__ import annotations

import math
import socket

import pytest

from helpline.ai.base import Embedder, EmbeddingError
from helpline.ai.embeddings.openai import OpenAIEmbedder
from helpline.core.config import SettingsError
from tests.ai.conftest import EMBEDDING_WIDTH, Upstream, scripted_embedding

TEXTS = ["How do I reset my password?", "I forgot my password", "What are your opening hours?"]


def embedder(upstream: Upstream, model: str, **kwargs: object) -> OpenAIEmbedder:
    options: dict[str, object] = {"dimension": EMBEDDING_WIDTH, "timeout": 5.0, "max_retries": 0} | kwargs
    return OpenAIEmbedder(model=model, api_key="sk-test", base_url=upstream.url, **options)  # type: ignore[arg-type]


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def assert_close(got: list[list[float]], want: list[list[float]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, abs=1e-6)


async def test_embeds_each_text_in_order_as_unit_vectors(upstream: Upstream) -> None:
    model = upstream.unique("ok")
    emb: Embedder = embedder(upstream, model)  # mypy checks that it meets the protocol

    vectors = await emb.embed(TEXTS)

    # The server's vectors are not unit-length: the embedder normalizes them.
    assert_close(vectors, [unit(scripted_embedding(t, EMBEDDING_WIDTH)) for t in TEXTS])
    assert all(math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-9) for vec in vectors)
    sent = upstream.bodies[model]
    assert sent["input"] == TEXTS
    assert sent["model"] == model
    # A model not known to support shortened vectors is not sent `dimensions`.
    assert "dimensions" not in sent
    await emb.aclose()


async def test_asks_text_embedding_3_models_for_the_configured_width(upstream: Upstream) -> None:
    model = upstream.unique("text-embedding-3-small")
    emb = embedder(upstream, model, dimension=384)

    [vector] = await emb.embed(["hello"])

    assert upstream.bodies[model]["dimensions"] == 384
    assert len(vector) == 384
    await emb.aclose()


async def test_batches_requests_and_keeps_the_order(upstream: Upstream) -> None:
    model = upstream.unique("ok")
    emb = embedder(upstream, model, batch_size=3)
    texts = [f"question {i}" for i in range(7)]

    vectors = await emb.embed(texts)

    assert upstream.embedding_inputs[model] == [texts[0:3], texts[3:6], texts[6:7]]
    assert_close(vectors, [unit(scripted_embedding(t, EMBEDDING_WIDTH)) for t in texts])
    await emb.aclose()


@pytest.mark.parametrize("scenario", ["shuffled", "floats"])
async def test_accepts_what_compatible_servers_send(upstream: Upstream, scenario: str) -> None:
    """Results out of order (matched by their index) and plain floats instead of base64."""
    emb = embedder(upstream, upstream.unique(scenario))

    vectors = await emb.embed(TEXTS)

    assert_close(vectors, [unit(scripted_embedding(t, EMBEDDING_WIDTH)) for t in TEXTS])
    await emb.aclose()


async def test_no_texts_means_no_request(upstream: Upstream) -> None:
    model = upstream.unique("ok")
    emb = embedder(upstream, model)

    assert await emb.embed([]) == []
    assert upstream.requests[model] == 0
    with pytest.raises(TypeError):
        await emb.embed("one string")
    await emb.aclose()


async def test_retries_rate_limits_then_succeeds(upstream: Upstream) -> None:
    model = upstream.unique("flaky2")
    emb = embedder(upstream, model, max_retries=2)

    vectors = await emb.embed(TEXTS)

    assert len(vectors) == 3
    assert upstream.requests[model] == 3
    await emb.aclose()


@pytest.mark.parametrize(
    ("scenario", "options", "message"),
    [
        ("flaky2", {}, "rate limiting us (429) and retries did not help"),
        ("quota", {}, "out of quota (429)"),
        ("down", {}, "failed (500) and retries did not help"),
        ("auth", {}, "check HELPLINE_EMBEDDING_API_KEY"),
        ("missing", {}, "check HELPLINE_EMBEDDING_MODEL and HELPLINE_EMBEDDING_BASE_URL"),
        ("bad", {}, "a text is longer than the model accepts"),
        ("hang", {"timeout": 0.3}, "did not answer within 0.3 s; raise HELPLINE_EMBEDDING_TIMEOUT_SECONDS"),
        ("short", {}, "returned 2 embeddings for 3 texts"),
        ("zero", {}, "returned an empty (zero or non-finite) embedding"),
        ("empty", {}, "malformed embeddings response"),
        ("ok", {"dimension": 16}, "returned 12-dimensional embeddings"),
    ],
)
async def test_failures_become_embedding_errors_that_say_what_to_do(
    upstream: Upstream, scenario: str, options: dict[str, object], message: str
) -> None:
    emb = embedder(upstream, upstream.unique(scenario), **options)

    with pytest.raises(EmbeddingError, match=r"the embeddings server at http://127\.0\.0\.1") as info:
        await emb.embed(TEXTS)

    assert message in str(info.value)
    await emb.aclose()


async def test_width_mismatch_names_the_setting(upstream: Upstream) -> None:
    emb = embedder(upstream, upstream.unique("ok"), dimension=16)

    with pytest.raises(EmbeddingError, match="HELPLINE_EMBEDDING_DIMENSION is 16"):
        await emb.embed(TEXTS)
    await emb.aclose()


async def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    emb = OpenAIEmbedder(dimension=8, model="ok", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)

    with pytest.raises(EmbeddingError, match=r"cannot reach the embeddings server at .*HELPLINE_EMBEDDING_BASE_URL"):
        await emb.embed(TEXTS)
    await emb.aclose()


async def test_openai_without_a_key_fails_before_calling_anyone() -> None:
    emb = OpenAIEmbedder(dimension=384, api_key=None, base_url=None)

    with pytest.raises(EmbeddingError, match=r"HELPLINE_EMBEDDING_API_KEY .* is not set"):
        await emb.embed(TEXTS)
    await emb.aclose()


@pytest.mark.parametrize(
    ("model", "dimension"),
    [("text-embedding-3-small", 3072), ("text-embedding-3-large", 4000), ("text-embedding-ada-002", 384)],
)
def test_widths_the_model_cannot_make_are_a_configuration_error(model: str, dimension: int) -> None:
    with pytest.raises(SettingsError, match=f"HELPLINE_EMBEDDING_DIMENSION is {dimension}, but {model}"):
        OpenAIEmbedder(dimension=dimension, model=model, api_key="sk-test")


@pytest.mark.parametrize(
    ("model", "dimension"),
    [("text-embedding-3-small", 384), ("text-embedding-3-large", 3072), ("text-embedding-ada-002", 1536)],
)
def test_widths_the_model_can_make(model: str, dimension: int) -> None:
    assert OpenAIEmbedder(dimension=dimension, model=model, api_key="sk-test").dimension == dimension
