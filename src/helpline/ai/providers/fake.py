"""An instant, deterministic provider for benchmarks and end-to-end checks (never the default).

It answers with a short summary of the prompt it was given, streamed in several chunks, so a
test can see that the conversation history and knowledge reached the model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from helpline.ai.base import ChatMessage, StreamDone, StreamEvent, TextDelta, TokenCounter, Usage


class WordCounter:
    """Whitespace tokens: enough for a fake model that has no tokenizer of its own."""

    def count(self, text: str) -> int:
        return len(text.split())

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        return sum(self.count(m.content) + 3 for m in messages) + 3


class FakeProvider:
    name = "fake"

    def __init__(self, model: str = "fake-echo", chunks: int = 8, delay: float = 0.0) -> None:
        self.model = model
        self.tokens: TokenCounter = WordCounter()
        self.context_window = 8192
        self.chunks = chunks
        self.delay = delay

    @staticmethod
    def answer_for(messages: Sequence[ChatMessage]) -> str:
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        turns = sum(1 for m in messages if m.role != "system")
        return f"You said: {last.strip()[:200]} (I saw {turns} messages of this conversation.)"

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncIterator[StreamEvent]:
        text = self.answer_for(messages)
        words = text.split(" ")
        per = max(1, -(-len(words) // self.chunks))
        for i in range(0, len(words), per):
            if self.delay:
                await asyncio.sleep(self.delay)
            piece = " ".join(words[i : i + per])
            yield TextDelta(piece if i == 0 else " " + piece)
        usage = Usage(self.tokens.count_messages(messages), self.tokens.count(text))
        yield StreamDone(model=self.model, usage=usage)

    async def health(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
