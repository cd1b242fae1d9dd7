"""The OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``, with
Helpline API keys (scope chat), errors in OpenAI's shape (openai_api.errors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from helpline.core.deps import RuntimeDep
from helpline.openai_api import service
from helpline.openai_api.dependencies import ChatKey
from helpline.openai_api.errors import OpenAIError, OpenAIErrorResponse, OpenAIRoute
from helpline.openai_api.schemas import ChatCompletion, ChatCompletionRequest, Model, ModelList

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def _error(description: str, *, retry: bool = False) -> dict[str, Any]:
    return {"model": OpenAIErrorResponse, "description": description} | ({"headers": _RETRY_AFTER} if retry else {})


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No valid API key: missing, not one of ours, or revoked (code invalid_api_key)"),
    403: _error("A key without the chat scope, a suspended account, or consent to processing withdrawn"),
    503: _error("The assistant (or a backing service) is unavailable; try again shortly", retry=True),
}
_CHUNK = {
    "description": "With `stream: true`: Server-Sent Events, each `data:` a chat.completion.chunk (the last "
    "one with `finish_reason` and the `helpline` extension), then `data: [DONE]`",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.get("/models", response_model=ModelList, responses=_ERRORS)
async def list_models(caller: ChatKey) -> ModelList:
    """The organisation's assistant, as one model (`helpline`)."""
    return service.models()


@router.get("/models/{model}", response_model=Model, responses={**_ERRORS, 404: _error("No such model")})
async def read_model(model: str, caller: ChatKey) -> Model:
    service.check_model(model)
    return service.models().data[0]


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **_ERRORS,
        200: _CHUNK,
        400: _error("Not a request this API can answer: no messages, the last one not the user's, n > 1, ..."),
        404: _error("Unknown model (code model_not_found), or no such conversation of yours"),
        409: _error("The conversation is full"),
        429: _error("Too many requests for this key, or messages for this user: wait Retry-After seconds", retry=True),
    },
)
async def chat_completions(body: ChatCompletionRequest, caller: ChatKey, runtime: RuntimeDep) -> Response:
    """A chat completion from the organisation's grounded assistant, through the chat's own
    pipeline (moderation, FAQ grounding and the guard, rate limits, storage in a conversation of
    the key's user). Sources and the conversation are in the `helpline` extension field. See
    the README, "Use it from any OpenAI client"."""
    started = await service.start(runtime, caller, body)
    headers = started.quota.headers() if started.quota else {}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = service.chunks(runtime, started, include_usage=include_usage)
        return EventSourceResponse(({"data": data} async for data in events), ping=15, headers=headers)
    completion = await service.complete(runtime, started)
    return JSONResponse(completion.model_dump(mode="json"), headers=headers)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(path: str) -> Response:
    """Any other /v1 path (embeddings, assistants, ...) is not part of this API."""
    raise OpenAIError(
        404,
        f"Unknown request URL: /v1/{path}. This server offers /v1/chat/completions and /v1/models.",
        code="unknown_url",
    )
