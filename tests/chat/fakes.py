"""Scripted stand-ins for a model's output and a moderation classifier (the storage, protocol
and everything around them under test are real)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from helpline.ai.base import (
    ChatMessage,
    LLMError,
    ModerationResult,
    StreamDone,
    StreamEvent,
    TextDelta,
    TokenCounter,
    Usage,
)
from helpline.ai.providers.fake import FakeProvider, WordCounter


@dataclass
class ScriptedProvider:
    """Streams ``chunks``; can wait between chunks, fail after N chunks, hang, or run a hook first.
    Counts the chunks it has given (``yielded``) and notes when its stream was closed."""

    chunks: list[str] = field(default_factory=lambda: ["Hello", " there", ", how", " can I", " help?"])
    delay: float = 0.0
    fail_after: int | None = None
    hang: bool = False
    before: Callable[[Sequence[ChatMessage]], Awaitable[None]] | None = None
    name: str = "scripted"
    model: str = "scripted-1"
    context_window: int = 4096
    tokens: TokenCounter = field(default_factory=WordCounter)
    calls: list[list[ChatMessage]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    yielded: int = 0
    closed: bool = False
    finish_reason: str = "stop"

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncIterator[StreamEvent]:
        self.calls.append(list(messages))
        try:
            if self.before is not None:
                await self.before(messages)
            if self.hang:
                await asyncio.sleep(3600)
            for i, chunk in enumerate(self.chunks):
                if self.fail_after is not None and i == self.fail_after:
                    raise LLMError("upstream returned 503", retryable=True)
                if self.gate is not None and i == 1:
                    await self.gate.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                self.yielded += 1
                yield TextDelta(chunk)
            text = "".join(self.chunks)
            usage = Usage(self.tokens.count_messages(messages), self.tokens.count(text))
            yield StreamDone(self.model, usage, self.finish_reason)
        finally:
            self.closed = True

    async def health(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class KeywordModerator:
    """Flags any text containing one of ``words`` (case-insensitive)."""

    def __init__(self, words: tuple[str, ...] = ("forbidden-topic",)) -> None:
        self.words = words
        self.checked: list[str] = []

    async def check(self, text: str) -> ModerationResult:
        self.checked.append(text)
        hit = any(w in text.lower() for w in self.words)
        return ModerationResult(flagged=hit, categories={"harassment": hit}, category_scores={"harassment": float(hit)})


__all__ = ["FakeProvider", "KeywordModerator", "ScriptedProvider"]
