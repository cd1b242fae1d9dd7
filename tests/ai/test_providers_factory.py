"""Settings choose the provider and the moderator, in one place."""

from __future__ import annotations

from typing import Any

import pytest

from helpline.ai.factory import create_moderator, create_provider
from helpline.ai.moderation import LocalModerator, NoModeration, OpenAIModerator
from helpline.ai.providers.fake import FakeProvider
from helpline.ai.providers.local import LocalProvider
from helpline.ai.providers.openai import OpenAIProvider
from helpline.core.config import LLMSettings, ModerationSettings, Settings, load_settings


def settings(moderation: str = "auto", **llm: Any) -> Settings:
    return load_settings(llm=LLMSettings(**llm), moderation=ModerationSettings(provider=moderation))


@pytest.mark.parametrize(
    ("llm", "expected"),
    [
        ({}, LocalProvider),
        ({"provider": "fake"}, FakeProvider),
        ({"api_key": "sk-test"}, OpenAIProvider),
        ({"base_url": "http://127.0.0.1:8080/v1"}, OpenAIProvider),
        ({"provider": "local", "api_key": "sk-test"}, LocalProvider),
    ],
)
def test_provider_follows_the_settings(llm: dict[str, Any], expected: type) -> None:
    assert type(create_provider(settings(**llm))) is expected


def test_openai_provider_gets_its_settings() -> None:
    provider = create_provider(settings(base_url="http://127.0.0.1:8080/v1", model="gpt-4", timeout_seconds=7))

    assert isinstance(provider, OpenAIProvider)
    assert (provider.model, provider.base_url, provider.timeout) == ("gpt-4", "http://127.0.0.1:8080/v1", 7)
    assert provider.context_window == 8192
    assert provider.tokens.count("hello world") == 2


def test_local_provider_gets_its_settings() -> None:
    provider = create_provider(
        settings(provider="local", local_context_tokens=4096, local_model_path="/m/x.gguf", local_repeat_penalty=1.3)
    )

    assert isinstance(provider, LocalProvider)
    assert (provider.context_window, str(provider.model_path), provider.model) == (4096, "/m/x.gguf", "x")
    assert provider.repeat_penalty == 1.3
    assert create_provider(settings(provider="local")).repeat_penalty == 1.1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("moderation", "llm", "expected"),
    [
        ("auto", {}, LocalModerator),
        ("auto", {"api_key": "sk-test"}, OpenAIModerator),
        # A self-hosted compatible server has no moderation endpoint.
        ("auto", {"api_key": "sk-test", "base_url": "http://127.0.0.1:8080/v1"}, LocalModerator),
        ("local", {"api_key": "sk-test"}, LocalModerator),
        ("openai", {"api_key": "sk-test"}, OpenAIModerator),
        ("off", {"api_key": "sk-test"}, NoModeration),
    ],
)
def test_moderator_follows_the_settings(moderation: str, llm: dict[str, Any], expected: type) -> None:
    assert type(create_moderator(settings(moderation, **llm))) is expected


def test_local_moderator_uses_the_threshold() -> None:
    config = load_settings(moderation=ModerationSettings(provider="local", threshold=0.5))

    moderator = create_moderator(config)

    assert isinstance(moderator, LocalModerator)
    assert moderator.threshold == 0.5
