"""The OpenAI-compatible provider against a real HTTP server speaking the protocol (SSE)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import pytest

from helpline.ai.base import (
    ChatMessage,
    LLMError,
    LLMProvider,
    LLMTimeout,
    LLMUnavailable,
    StreamDone,
    StreamEvent,
    TextDelta,
    Usage,
)
from helpline.ai.providers.openai import OpenAIProvider
from tests.ai.conftest import ANSWER, COMPLETION_TOKENS, PROMPT_TOKENS, Upstream

MESSAGES = [ChatMessage("system", "You are Helpline."), ChatMessage("user", "Hello?")]


def provider(upstream: Upstream, model: str, **kwargs: object) -> OpenAIProvider:
    options: dict[str, object] = {"timeout": 5.0, "max_retries": 0} | kwargs
    return OpenAIProvider(model=model, base_url=upstream.url, **options)  # type: ignore[arg-type]


async def collect(events: AsyncIterator[StreamEvent]) -> tuple[list[str], list[StreamDone]]:
    deltas: list[str] = []
    done: list[StreamDone] = []
    async for event in events:
        if isinstance(event, TextDelta):
            assert not done, "a delta came after StreamDone"
            deltas.append(event.text)
        else:
            done.append(event)
    return deltas, done


async def deltas_until_failure(events: AsyncIterator[StreamEvent], deltas: list[str]) -> None:
    async for event in events:
        assert isinstance(event, TextDelta), "no StreamDone after a failure"
        deltas.append(event.text)


async def test_streams_deltas_then_usage_from_the_server(upstream: Upstream) -> None:
    model = upstream.unique("ok")
    llm = provider(upstream, model)
    assert isinstance(llm, LLMProvider)

    deltas, done = await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert deltas == ANSWER
    assert done == [StreamDone(model=f"{model}-snapshot", usage=Usage(PROMPT_TOKENS, COMPLETION_TOKENS))]
    sent = upstream.bodies[model]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [
        {"role": "system", "content": "You are Helpline."},
        {"role": "user", "content": "Hello?"},
    ]
    # A compatible server (not api.openai.com) gets the classic parameter name.
    assert sent["max_tokens"] == 50
    assert "max_completion_tokens" not in sent
    assert sent["temperature"] == 0.2
    await llm.aclose()


async def test_counts_usage_itself_when_the_server_sends_none(upstream: Upstream) -> None:
    llm = provider(upstream, upstream.unique("nousage"))

    _, [done] = await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert done.usage == Usage(llm.tokens.count_messages(MESSAGES), llm.tokens.count("".join(ANSWER)))
    assert done.usage.completion_tokens == 4  # "Hello", ",", " world", "!"


async def test_rate_limits_are_retried_by_the_sdk(upstream: Upstream) -> None:
    model = upstream.unique("flaky2")
    llm = provider(upstream, model, max_retries=3)

    deltas, done = await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert "".join(deltas) == "Hello, world!"
    assert len(done) == 1
    assert upstream.requests[model] == 3  # two 429s, then the answer


async def test_rate_limit_outlasting_the_retries_is_retryable_unavailable(upstream: Upstream) -> None:
    model = upstream.unique("flaky2")
    llm = provider(upstream, model, max_retries=1)

    with pytest.raises(LLMUnavailable, match="rate limiting") as caught:
        await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert caught.value.retryable
    assert upstream.requests[model] == 2


async def test_exhausted_quota_is_not_retryable(upstream: Upstream) -> None:
    llm = provider(upstream, upstream.unique("quota"))

    with pytest.raises(LLMUnavailable, match="out of quota") as caught:
        await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert not caught.value.retryable


async def test_server_errors_are_retried_then_reported(upstream: Upstream) -> None:
    model = upstream.unique("down")
    llm = provider(upstream, model, max_retries=2)

    with pytest.raises(LLMUnavailable, match=r"failed \(500\)") as caught:
        await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert caught.value.retryable
    assert upstream.requests[model] == 3


@pytest.mark.parametrize(
    ("scenario", "error", "hint"),
    [
        ("auth", LLMUnavailable, "HELPLINE_LLM_API_KEY"),
        ("missing", LLMError, "HELPLINE_LLM_MODEL"),
        ("bad", LLMError, "maximum context length"),
    ],
)
async def test_client_errors_are_not_retryable_and_say_what_to_fix(
    upstream: Upstream, scenario: str, error: type[LLMError], hint: str
) -> None:
    model = upstream.unique(scenario)
    llm = provider(upstream, model, max_retries=3)

    with pytest.raises(error, match=hint) as caught:
        await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert not caught.value.retryable
    assert upstream.requests[model] == 1  # never retried


async def test_a_server_that_never_answers_times_out(upstream: Upstream) -> None:
    llm = provider(upstream, upstream.unique("hang"), timeout=0.3)
    started = time.monotonic()

    with pytest.raises(LLMTimeout, match=r"within 0.3 s") as caught:
        await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert caught.value.retryable
    assert time.monotonic() - started < 3


async def test_a_stream_that_stalls_times_out_after_its_first_deltas(upstream: Upstream) -> None:
    llm = provider(upstream, upstream.unique("stall"), timeout=0.3)
    deltas: list[str] = []

    with pytest.raises(LLMTimeout):
        await deltas_until_failure(llm.stream(MESSAGES, max_tokens=50, temperature=0.2), deltas)

    assert deltas == ANSWER[:1]


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("break", "broke the connection mid-answer"),
        ("errorevent", "The model is overloaded"),
        ("truncated", "ended the stream before the answer was finished"),
    ],
)
async def test_a_stream_failing_midway_raises_after_the_deltas_it_sent(
    upstream: Upstream, scenario: str, message: str
) -> None:
    llm = provider(upstream, upstream.unique(scenario))
    deltas: list[str] = []

    with pytest.raises(LLMError, match=message) as caught:
        await deltas_until_failure(llm.stream(MESSAGES, max_tokens=50, temperature=0.2), deltas)

    expected = ANSWER if scenario == "truncated" else ANSWER[:2]
    assert deltas == expected
    assert caught.value.retryable


async def test_a_reader_that_stops_early_closes_the_upstream_response(upstream: Upstream) -> None:
    model = upstream.unique("long")
    llm = provider(upstream, model)
    stream = cast(AsyncGenerator[StreamEvent, None], llm.stream(MESSAGES, max_tokens=500, temperature=0.2))

    first = await anext(stream)
    await stream.aclose()  # what an async for does when the client goes away

    assert first == TextDelta("Hello")
    assert upstream.wait_for(lambda: model in upstream.finished)
    assert upstream.finished[model] == "aborted"


async def test_reasoning_models_get_max_completion_tokens_and_no_temperature(upstream: Upstream) -> None:
    model = upstream.unique("o3")  # an o-series name: such models reject max_tokens and temperature
    llm = provider(upstream, model)

    deltas, _ = await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))

    assert deltas == ANSWER
    sent = upstream.bodies[model]
    assert sent["max_completion_tokens"] == 50
    assert "max_tokens" not in sent
    assert "temperature" not in sent


async def test_health_lists_models_and_reports_a_bad_key(upstream: Upstream) -> None:
    await provider(upstream, "ok").health()

    bad = OpenAIProvider(model="ok", base_url=upstream.url, api_key="bad-key", max_retries=0)
    with pytest.raises(LLMUnavailable, match="rejected the API key") as caught:
        await bad.health()
    assert not caught.value.retryable


async def test_health_reports_an_unreachable_server() -> None:
    llm = OpenAIProvider(model="ok", base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=0)

    with pytest.raises(LLMUnavailable, match=r"cannot reach .*HELPLINE_LLM_BASE_URL") as caught:
        await llm.health()
    assert caught.value.retryable


async def test_openai_without_a_key_says_which_setting_is_missing() -> None:
    llm = OpenAIProvider(model="gpt-4o-mini")

    with pytest.raises(LLMUnavailable, match="HELPLINE_LLM_API_KEY is not set"):
        await llm.health()
    with pytest.raises(LLMUnavailable, match="HELPLINE_LLM_API_KEY is not set"):
        await collect(llm.stream(MESSAGES, max_tokens=50, temperature=0.2))
