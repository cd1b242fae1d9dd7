"""OpenAI's chat completions on the chat's own pipeline (chat.service): the request's last user
message is the question, sent as a chat message of the key's user (their rate limits, moderation,
FAQ grounding and the guard, stored in a conversation of theirs, counted in the metrics); the
stored answer comes back as a completion, or streamed as completion chunks.

Context: with ``helpline.conversation_id`` the turn continues that conversation (its stored
messages are the context; the request's earlier messages are ignored, the server's copy being the
one the guard and the analytics see). Without it each request starts a conversation holding the
question and the answer, and the request's earlier user and assistant messages are the model's
context (not stored: they are the client's transcript). System messages are ignored: the
organisation's system prompt and its grounding rules apply to every client.

Streaming: with the grounded-answer guard on (the default), the answer's text is sent once the
guard has checked it, since an OpenAI client cannot take back text it was shown; the role chunk
comes at once and SSE comments keep the connection alive meanwhile. With the guard off, tokens are
sent as the model writes them."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from helpline.ai.base import ChatMessage
from helpline.apikeys.service import KeyCaller
from helpline.chat import service as chat
from helpline.core.ratelimit import Quota
from helpline.core.runtime import Runtime
from helpline.models import MessageType
from helpline.openai_api.errors import OpenAIError
from helpline.openai_api.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    CompletionUsage,
    HelplineInfo,
    InputMessage,
    Model,
    ModelList,
)
from helpline.platform.hub import Generation
from helpline.support.relay import Relayed

# The organisation's assistant, as OpenAI clients name it: whichever provider and model the
# settings choose, behind the knowledge base, the guard and moderation.
MODEL_ID = "helpline"
OWNED_BY = "helpline"
RATE_GROUP = "openai"  # its windows per key: HELPLINE_LIMITS_RULES "openai" (or "*") entries
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
STARTED = int(time.time())


def models() -> ModelList:
    return ModelList(data=[Model(id=MODEL_ID, created=STARTED, owned_by=OWNED_BY)])


def check_model(model: str) -> None:
    if model != MODEL_ID:
        raise OpenAIError(
            404,
            f"The model `{model}` does not exist: this server's model is `{MODEL_ID}` (GET /v1/models).",
            param="model",
            code="model_not_found",
        )


def _text(message: InputMessage, index: int) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.type != "text":
            raise OpenAIError(
                400,
                f"Only text content is supported (not {part.type!r}).",
                param=f"messages.[{index}].content",
                code="unsupported_content",
            )
        parts.append(part.text or "")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Question:
    content: str
    history: list[tuple[MessageType, str]]  # the request's earlier user and assistant messages
    conversation_id: int | None
    language: str | None


def read_question(body: ChatCompletionRequest) -> Question:
    """The question and its context, or a 400 (404 for an unknown model) naming the field."""
    check_model(body.model)
    if body.n not in (None, 1):
        raise OpenAIError(400, "Only n=1 is supported.", param="n", code="unsupported_value")
    if not body.messages:
        raise OpenAIError(400, "messages must not be empty.", param="messages", code="empty_array")
    for i, m in enumerate(body.messages):
        if m.role not in ROLES:
            raise OpenAIError(400, f"Unknown role {m.role!r}.", param=f"messages.[{i}].role", code="invalid_value")
    last = len(body.messages) - 1
    if body.messages[last].role != "user":
        raise OpenAIError(
            400,
            "The last message must be the user's question (role 'user').",
            param=f"messages.[{last}].role",
            code="invalid_value",
        )
    content = _text(body.messages[last], last)
    options = body.helpline
    conversation_id = options.conversation_id if options else None
    history: list[tuple[MessageType, str]] = []
    if conversation_id is None:
        for i, m in enumerate(body.messages[:last]):
            if m.role in ("user", "assistant") and (text := _text(m, i).strip()):
                history.append((MessageType(m.role), text))
    return Question(
        content=content,
        history=history[-chat.HISTORY_TAIL :],
        conversation_id=conversation_id,
        language=options.language if options else None,
    )


@dataclass(frozen=True, slots=True)
class Started:
    turn: chat.Turn
    gen: Generation
    question: Question
    quota: Quota | None  # the key's windows after this request
    created: int


async def start(runtime: Runtime, caller: KeyCaller, body: ChatCompletionRequest) -> Started:
    """Check the request, count it in the key's windows, then start the chat turn (which counts
    in the user's message windows, moderates, and stores the question)."""
    question = read_question(body)
    quota = await runtime.api_limiter.hit(RATE_GROUP, caller.role.value, f"k{caller.key_id}")
    turn = await chat.begin(
        runtime,
        claims=caller.claims(),
        content=question.content,
        conversation_id=question.conversation_id,
        language=question.language,
    )
    if isinstance(turn, Relayed):
        # A person has this conversation (helpline.support): the message is stored for them and
        # the assistant does not answer; their reply comes in the Helpline app.
        raise OpenAIError(
            409,
            "A person is handling this conversation: your message was passed on to them, and the assistant "
            "does not answer meanwhile. Their reply appears in the Helpline app.",
            param="helpline.conversation_id",
            code="conversation_with_agent",
        )
    if question.conversation_id is None and question.history:
        turn = dataclasses.replace(turn, history=question.history)
    return Started(turn, chat.launch(runtime, turn), question, quota, int(time.time()))


async def _final(gen: Generation) -> tuple[str, dict[str, Any]]:
    async for event in gen.follow():
        if event.kind in ("response", "error"):
            return event.kind, event.data
    raise RuntimeError("generation ended without a final event")


def _failed(payload: dict[str, Any]) -> OpenAIError:
    return OpenAIError(
        503,
        str(payload.get("error") or "The assistant could not answer."),
        type="server_error",
        code="assistant_unavailable",
    )


def usage(runtime: Runtime, started: Started, payload: dict[str, Any]) -> CompletionUsage:
    """Tokens by the model's own tokenizer (ai/tokens.py, through the provider's counter): the
    prompt the model was given when it was asked, else the request's question and context; the
    completion is the answer returned (after the guard or moderation, whichever wrote it)."""
    counter = runtime.llm.tokens
    prompt = int((payload.get("usage") or {}).get("prompt_tokens") or 0)
    if prompt == 0:
        q = started.question
        shown = [ChatMessage(kind.value, text) for kind, text in (started.turn.history or q.history)]
        prompt = counter.count_messages([*shown, ChatMessage("user", q.content)])
    completion = counter.count(str(payload.get("content") or ""))
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _info(payload: dict[str, Any]) -> HelplineInfo:
    return HelplineInfo.model_validate(
        {
            "conversation_id": payload["conversation_id"],
            "message_id": payload["message_id"],
            "sources": payload.get("sources") or [],
            "related": payload.get("related") or [],
            "guard": payload.get("guard"),
            "flagged": bool(payload.get("flagged")),
        }
    )


def _finish_reason(payload: dict[str, Any]) -> str:
    return "content_filter" if payload.get("flagged") else "stop"


def completion_id(started: Started) -> str:
    return f"chatcmpl-{started.turn.message_id}"


async def complete(runtime: Runtime, started: Started) -> ChatCompletion:
    """The stored answer as a chat completion; a 503 when the model failed (the answer is kept,
    failed, in the conversation)."""
    kind, payload = await _final(started.gen)
    if kind == "error":
        raise _failed(payload)
    return ChatCompletion.model_validate(
        {
            "id": completion_id(started),
            "created": started.created,
            "model": MODEL_ID,
            "choices": [
                Choice.model_validate(
                    {
                        "message": AssistantMessage(content=payload["content"]),
                        "finish_reason": _finish_reason(payload),
                    }
                )
            ],
            "usage": usage(runtime, started, payload),
            "helpline": _info(payload),
        }
    )


async def chunks(runtime: Runtime, started: Started, *, include_usage: bool) -> AsyncIterator[str]:
    """The answer as OpenAI's stream: ``data:`` values of chat.completion.chunk objects (role
    first, then text, then the finish reason with the ``helpline`` extension; with
    ``include_usage`` a last chunk with no choices and the usage), then ``[DONE]``. A model that
    failed ends the stream with an ``error`` object, as OpenAI's does."""
    base = {
        "id": completion_id(started),
        "object": "chat.completion.chunk",
        "created": started.created,
        "model": MODEL_ID,
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return json.dumps({**base, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": ""})
    live = not runtime.settings.guard.enabled  # see the module's docstring
    sent: list[str] = []
    payload: dict[str, Any] = {}
    kind = "error"
    async for event in started.gen.follow():
        if event.kind == "token" and live:
            text = str(event.data.get("content") or "")
            sent.append(text)
            yield chunk({"content": text})
        elif event.kind in ("response", "error"):
            kind, payload = event.kind, event.data
            break
    if kind == "error":
        error = _failed(payload)
        yield json.dumps({"error": {"message": error.detail, "type": error.type, "param": None, "code": error.code}})
        yield "[DONE]"
        return
    content = str(payload.get("content") or "")
    if not live and content:
        yield chunk({"content": content})
    info = _info(payload).model_dump(mode="json")
    if live and "".join(sent) != content:
        info["content"] = content  # moderation replaced the streamed answer: the stored text
    yield chunk({}, _finish_reason(payload), helpline=info)
    if include_usage:
        yield json.dumps({**base, "choices": [], "usage": usage(runtime, started, payload).model_dump()})
    yield "[DONE]"
