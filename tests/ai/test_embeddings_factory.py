"""Settings choose the embedder, its endpoint and its width, in one place."""

from __future__ import annotations

from typing import Any

import pytest

from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.ai.embeddings.local import LocalEmbedder
from helpline.ai.embeddings.openai import OpenAIEmbedder
from helpline.ai.factory import create_embedder
from helpline.core.config import EmbeddingSettings, LLMSettings, Settings, SettingsError, load_settings

SELF_HOSTED = "http://127.0.0.1:8080/v1"
OTHER_SERVER = "http://embeddings.internal:9000/v1"


def settings(llm: dict[str, Any] | None = None, **embedding: Any) -> Settings:
    return load_settings(llm=LLMSettings(**(llm or {})), embedding=EmbeddingSettings(**embedding))


@pytest.mark.parametrize(
    ("llm", "embedding", "expected"),
    [
        ({}, {}, LocalEmbedder),
        ({}, {"provider": "fake"}, FakeEmbedder),
        # The chat model is OpenAI itself: its embeddings come from there too.
        ({"api_key": "sk-test"}, {}, OpenAIEmbedder),
        ({"api_key": "sk-test", "base_url": "https://api.openai.com/v1"}, {}, OpenAIEmbedder),
        # A self-hosted chat server may serve no embeddings: stay local unless told otherwise.
        ({"api_key": "sk-test", "base_url": SELF_HOSTED}, {}, LocalEmbedder),
        ({"base_url": SELF_HOSTED}, {}, LocalEmbedder),
        ({"base_url": SELF_HOSTED}, {"base_url": SELF_HOSTED}, OpenAIEmbedder),
        ({}, {"api_key": "sk-emb"}, OpenAIEmbedder),
        ({"api_key": "sk-test"}, {"provider": "local"}, LocalEmbedder),
        ({}, {"provider": "openai", "api_key": "sk-emb"}, OpenAIEmbedder),
    ],
)
def test_embedder_follows_the_settings(llm: dict[str, Any], embedding: dict[str, Any], expected: type) -> None:
    assert type(create_embedder(settings(llm, **embedding))) is expected


def test_fake_embedder_has_the_configured_width() -> None:
    assert create_embedder(settings(provider="fake", dimension=1536)).dimension == 1536


def test_openai_embedder_gets_its_settings() -> None:
    emb = create_embedder(
        settings(
            {"api_key": "sk-test"},
            dimension=512,
            model="text-embedding-3-large",
            batch_size=64,
            timeout_seconds=7,
        )
    )

    assert isinstance(emb, OpenAIEmbedder)
    assert (emb.model, emb.dimension, emb.batch_size, emb.timeout) == ("text-embedding-3-large", 512, 64, 7)
    assert emb.base_url == "https://api.openai.com/v1"


def test_openai_embedder_defaults() -> None:
    emb = create_embedder(settings({"api_key": "sk-test"}))

    assert isinstance(emb, OpenAIEmbedder)
    # text-embedding-3-small, shortened to the default column width.
    assert (emb.model, emb.dimension, emb.batch_size) == ("text-embedding-3-small", 384, 128)


@pytest.mark.parametrize(
    ("llm", "embedding", "base_url", "api_key"),
    [
        # Nothing embedding-specific: the LLM's server and key.
        ({"api_key": "sk-llm", "base_url": SELF_HOSTED}, {"provider": "openai"}, SELF_HOSTED, "sk-llm"),
        # The same server named again: its key is reused.
        ({"api_key": "sk-llm", "base_url": SELF_HOSTED}, {"base_url": SELF_HOSTED}, SELF_HOSTED, "sk-llm"),
        ({"api_key": "sk-llm"}, {"base_url": "https://api.openai.com/v1/"}, "https://api.openai.com/v1/", "sk-llm"),
        # Another server: the LLM's key is not sent there.
        ({"api_key": "sk-llm"}, {"base_url": OTHER_SERVER}, OTHER_SERVER, None),
        # Its own key, for OpenAI, while the chat model is self-hosted.
        ({"api_key": "sk-llm", "base_url": SELF_HOSTED}, {"api_key": "sk-emb"}, None, "sk-emb"),
    ],
)
def test_endpoint_falls_back_to_the_llms_only_for_the_same_server(
    llm: dict[str, Any], embedding: dict[str, Any], base_url: str | None, api_key: str | None
) -> None:
    config = settings(llm, **embedding)

    assert config.embedding.endpoint(config.llm) == (base_url, api_key)
    emb = create_embedder(config)
    assert isinstance(emb, OpenAIEmbedder)
    assert emb.base_url == (base_url or "https://api.openai.com/v1")


def test_local_embedder_gets_its_settings() -> None:
    emb = create_embedder(settings(provider="local", batch_size=8, local_threads=1, model="all-MiniLM-L6-v2"))

    assert isinstance(emb, LocalEmbedder)
    assert (emb.batch_size, emb.threads, emb.dimension) == (8, 1, 384)


def test_local_embedder_refuses_another_width() -> None:
    with pytest.raises(SettingsError, match="HELPLINE_EMBEDDING_DIMENSION is 1536"):
        create_embedder(settings(dimension=1536))


def test_local_embedder_refuses_another_model() -> None:
    with pytest.raises(SettingsError, match="HELPLINE_EMBEDDING_MODEL is 'bge-small'"):
        create_embedder(settings(provider="local", model="bge-small"))


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_EMBEDDING_PROVIDER", "openai")
    monkeypatch.setenv("HELPLINE_EMBEDDING_BASE_URL", SELF_HOSTED)
    monkeypatch.setenv("HELPLINE_EMBEDDING_MODEL", "nomic-embed-text")
    monkeypatch.setenv("HELPLINE_EMBEDDING_DIMENSION", "768")
    monkeypatch.setenv("HELPLINE_EMBEDDING_API_KEY", " ")

    emb = create_embedder(load_settings())

    assert isinstance(emb, OpenAIEmbedder)
    assert (emb.base_url, emb.model, emb.dimension) == (SELF_HOSTED, "nomic-embed-text", 768)


def test_an_unknown_provider_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_EMBEDDING_PROVIDER", "bert")

    with pytest.raises(SettingsError, match="HELPLINE_EMBEDDING_PROVIDER"):
        load_settings()
