"""Token counters: real tokenizers, loaded without any network access."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpline.ai import tokens
from helpline.ai.base import ChatMessage
from helpline.ai.tokens import TiktokenCounter, encoding_name, get_encoding


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No connection may be opened, and tiktoken's download cache is empty: the encodings must
    come from the bundled files."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    get_encoding.cache_clear()


@pytest.mark.parametrize(
    ("name", "text", "ids"),
    [
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "Hello, world!", [9906, 11, 1917, 0]),
        ("o200k_base", "hello world", [24912, 2375]),
        ("o200k_base", "Hello, world!", [13225, 11, 2375, 0]),
    ],
)
@pytest.mark.usefixtures("offline")
def test_bundled_encodings_give_openais_token_ids(name: str, text: str, ids: list[int]) -> None:
    enc = get_encoding(name)

    assert enc.encode_ordinary(text) == ids
    assert enc.decode(ids) == text


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("qwen2.5-7b-instruct", "o200k_base"),
    ],
)
def test_encoding_is_chosen_by_model_name(model: str, encoding: str) -> None:
    assert encoding_name(model) == encoding


@pytest.mark.usefixtures("offline")
def test_messages_include_openais_chat_overhead() -> None:
    counter = TiktokenCounter("gpt-4o-mini")
    hello = ChatMessage("user", "hello world")

    assert counter.count("hello world") == 2
    # 3 per message + role (1) + content (2), plus 3 priming the reply.
    assert counter.count_messages([hello]) == 3 + 1 + 2 + 3
    assert counter.count_messages([]) == tokens.TOKENS_PER_REPLY


def test_special_token_text_typed_by_a_user_counts_as_plain_text() -> None:
    counter = TiktokenCounter("gpt-4")

    assert counter.count("<|endoftext|>") > 1  # not the single special token, and no error


@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), st.text(max_size=40)), max_size=6))
def test_message_counts_add_up(pairs: list[tuple[Any, str]]) -> None:
    counter = TiktokenCounter("gpt-4o")
    messages = [ChatMessage(role, text) for role, text in pairs]
    base = counter.count_messages([])

    total = counter.count_messages(messages)

    assert total == base + sum(counter.count_messages([m]) - base for m in messages)
    assert total >= base + sum(counter.count(m.content) for m in messages)
