"""The provider-agnostic interfaces the chat service depends on. Implementations live beside
this module and are chosen in one place (``ai/factory.py``) from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamDone:
    """The last event of a successful stream."""

    model: str
    usage: Usage
    finish_reason: str = "stop"


StreamEvent = TextDelta | StreamDone


class LLMError(Exception):
    """The provider failed. ``retryable`` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class LLMTimeout(LLMError):
    pass


class LLMUnavailable(LLMError):
    pass


class TokenCounter(Protocol):
    def count(self, text: str) -> int:
        """Tokens in ``text`` for this model (a real tokenizer, not an estimate)."""
        ...

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens for these messages, including the per-message chat-format overhead."""
        ...


@runtime_checkable
class LLMProvider(Protocol):
    name: str  # "openai" | "local" | "fake"
    model: str
    tokens: TokenCounter
    context_window: int  # tokens the model accepts, prompt + answer

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncIterator[StreamEvent]:
        """TextDelta events, then exactly one StreamDone; raises LLMError on failure
        (possibly after some deltas)."""
        ...

    async def health(self) -> None:
        """Raise if the provider cannot answer now (used by /health/ready)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ModerationResult:
    flagged: bool
    categories: dict[str, bool] = field(default_factory=dict)
    category_scores: dict[str, float] = field(default_factory=dict)
    source: str = "local"


class Moderator(Protocol):
    async def check(self, text: str) -> ModerationResult: ...


class Embedder(Protocol):
    """Text → unit-length vectors (cosine similarity = dot product)."""

    name: str  # "local" | "openai" | "fake"
    model: str
    dimension: int

    async def embed(
        self, texts: Sequence[str], *, input_type: Literal["query", "document"] = "document"
    ) -> list[list[float]]:
        """One vector per text, in order, each of length ``dimension`` and L2-normalized.
        ``input_type``: "query" for what a user asks, "document" for what is searched (models
        trained with prefixes, like e5, embed them differently; others ignore it).
        Batches internally; never blocks the event loop; raises EmbeddingError on failure."""
        ...

    async def aclose(self) -> None: ...


class EmbeddingError(Exception):
    pass
