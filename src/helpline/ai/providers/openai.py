"""Any OpenAI-compatible chat-completions server (OpenAI itself, Azure-style gateways, vLLM,
llama.cpp's server, Ollama, LiteLLM, ...) through the official ``openai`` SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from helpline.ai.base import (
    ChatMessage,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    StreamDone,
    StreamEvent,
    TextDelta,
    TokenCounter,
    Usage,
)
from helpline.ai.tokens import TiktokenCounter

HEALTH_TIMEOUT_SECONDS = 5.0
# Prompt + answer limits of OpenAI's chat models, longest prefix first. A server with a model not
# listed here gets the conservative default.
_CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
    ("gpt-5", 400_000),
    ("o1-mini", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
)
DEFAULT_CONTEXT_WINDOW = 8_192
# Reasoning models accept only the default temperature, and count their answer limit as
# max_completion_tokens.
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def context_window_for(model: str) -> int:
    bare = model.rsplit("/", 1)[-1]
    return next((size for prefix, size in _CONTEXT_WINDOWS if bare.startswith(prefix)), DEFAULT_CONTEXT_WINDOW)


def _to_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return ChatCompletionSystemMessageParam(role="system", content=message.content)
    if message.role == "assistant":
        return ChatCompletionAssistantMessageParam(role="assistant", content=message.content)
    return ChatCompletionUserMessageParam(role="user", content=message.content)


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        context_window: int | None = None,
    ) -> None:
        self.model = model
        self.tokens: TokenCounter = TiktokenCounter(model)
        self.context_window = context_window or context_window_for(model)
        self.base_url = base_url or "https://api.openai.com/v1"
        self.timeout = timeout
        self._official = urlsplit(self.base_url).hostname == "api.openai.com"
        self._missing_key = self._official and not api_key
        # Retries are the SDK's: 408/409/429/5xx, connection errors and timeouts are retried
        # max_retries times with exponential backoff and jitter (0.5 s doubling to 8 s), honouring
        # Retry-After. Nothing is retried here on top of that, and a stream is never retried once
        # it has started. The timeout applies to each read (connect, first byte, every chunk).
        self._client = AsyncOpenAI(
            # Self-hosted compatible servers usually need no key, but the SDK insists on one. Passed
            # explicitly, so the SDK never picks up an unrelated OPENAI_API_KEY from the environment.
            api_key=api_key or "unused",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> AsyncIterator[StreamEvent]:
        reasoning = self.model.rsplit("/", 1)[-1].startswith(_REASONING_PREFIXES)
        # OpenAI deprecated max_tokens in favour of max_completion_tokens, which compatible servers
        # (llama.cpp, older vLLM) may not know: each gets the name it understands.
        completion_limit = self._official or reasoning
        self._check_key()
        try:
            chunks = await self._client.chat.completions.create(
                model=self.model,
                messages=[_to_param(m) for m in messages],
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=openai.omit if completion_limit else max_tokens,
                max_completion_tokens=max_tokens if completion_limit else openai.omit,
                temperature=openai.omit if reasoning else temperature,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc

        parts: list[str] = []
        usage: Usage | None = None
        model = self.model
        finish_reason: str | None = None
        # Leaving the block closes the HTTP response: a consumer that stops early frees the
        # connection instead of leaving the server generating into the void.
        async with chunks:
            try:
                async for chunk in chunks:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                            yield TextDelta(choice.delta.content)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
            except openai.OpenAIError as exc:
                raise self._error(exc, after=len(parts)) from exc
            except ValueError as exc:  # a malformed event (invalid JSON) from a broken server
                raise LLMError(f"{self._where()} sent a malformed stream: {exc}") from exc
        if finish_reason is None:
            raise LLMError(f"{self._where()} ended the stream before the answer was finished")
        if usage is None:
            # Not every compatible server honours include_usage: count with the same tokenizer.
            usage = Usage(self.tokens.count_messages(messages), self.tokens.count("".join(parts)))
        yield StreamDone(model=model, usage=usage, finish_reason=finish_reason)

    async def health(self) -> None:
        """A cheap authenticated call: the model list, with a short timeout and no retries."""
        # Builds the tokenizer (~0.3 s, once) off the event loop rather than on the first answer.
        await asyncio.to_thread(self.tokens.count, "")
        self._check_key()
        try:
            await self._client.with_options(timeout=HEALTH_TIMEOUT_SECONDS, max_retries=0).models.list()
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc

    async def aclose(self) -> None:
        await self._client.close()

    def _check_key(self) -> None:
        if self._missing_key:
            raise LLMUnavailable(
                "HELPLINE_LLM_API_KEY is not set: OpenAI needs an API key "
                "(or set HELPLINE_LLM_BASE_URL to a compatible server that needs none)",
                retryable=False,
            )

    def _where(self) -> str:
        return f"the model server at {self.base_url}"

    def _error(self, exc: openai.OpenAIError, *, after: int = 0) -> LLMError:
        """An LLMError whose message says what happened and what to do about it."""
        where = self._where()
        suffix = f" (after {after} chunks of the answer)" if after else ""
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"{where} did not answer within {self.timeout:g} s{suffix}")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            detail = str(cause) or type(cause).__name__
            if after:
                return LLMUnavailable(f"{where} broke the connection mid-answer{suffix}: {detail}")
            return LLMUnavailable(f"cannot reach {where}: {detail}; check HELPLINE_LLM_BASE_URL and the network")
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APIError):  # an error event inside the stream
            return LLMError(f"{where} reported an error{suffix}: {exc.message}")
        return LLMError(f"calling {where} failed: {exc}", retryable=False)

    def _status_error(self, exc: openai.APIStatusError) -> LLMError:
        status, where = exc.status_code, self._where()
        detail = exc.body.get("message") if isinstance(exc.body, dict) else None
        said = f": {detail}" if detail else ""
        if status == 401:
            return LLMUnavailable(
                f"{where} rejected the API key (401){said}; check HELPLINE_LLM_API_KEY", retryable=False
            )
        if status == 403:
            return LLMUnavailable(f"{where} refused access (403){said}; check the key's permissions", retryable=False)
        if status == 404:
            return LLMError(
                f"{where} has no model {self.model!r} or no chat endpoint (404){said}; "
                "check HELPLINE_LLM_MODEL and HELPLINE_LLM_BASE_URL (it usually ends in /v1)",
                retryable=False,
            )
        if status == 429:
            if exc.code == "insufficient_quota":
                return LLMUnavailable(f"{where} says the account is out of quota (429){said}", retryable=False)
            return LLMUnavailable(f"{where} is rate limiting us (429) and retries did not help{said}")
        if status >= 500:
            return LLMUnavailable(f"{where} failed ({status}) and retries did not help{said}")
        retryable = status in (408, 409)
        return LLMError(f"{where} rejected the request ({status}){said}", retryable=retryable)
