from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Request, Response, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from helpline.auth.access import load_caller, require_consent
from helpline.auth.dependencies import ChatUser, CurrentUser, TurnClaims
from helpline.chat import once, service
from helpline.chat.schemas import ChatResponse, FeedbackRead, FeedbackRequest, SendRequest
from helpline.chat.stop import stop as stop_answer
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.errors import BadRequest
from helpline.core.ids import MAX_ID, PathId
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.platform.hub import EVENT_KINDS, Generation, TurnEvent
from helpline.support.live import publish
from helpline.support.relay import Relayed

router = APIRouter(prefix="/api/v1", tags=["chat"])

_LAST_EVENT_ID: dict[int | str, dict[str, Any]] = {
    400: {"description": "Last-Event-ID is not '<message_id>:<seq>' (such as 12:3)"}
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Account suspended, or consent to processing withdrawn (error consent_required)"},
    404: {"description": "No such conversation"},
    409: {"description": "Conversation full"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid message"},
    429: {"description": "Rate limited"},
}


# In OpenAPI 3.1 the schema of an event stream describes one event.
_EVENT_STREAM = {
    "description": "Server-Sent Events",
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "required": ["event", "id", "data"],
                "properties": {
                    "event": {"type": "string", "enum": sorted(EVENT_KINDS)},
                    "id": {"type": "string", "pattern": "^[0-9]+:[0-9]+$", "description": "<message_id>:<seq>"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "description": "A JSON object with message_id and conversation_id, and the event's fields",
                    },
                },
            }
        }
    },
}


async def _final(gen: Generation) -> dict[str, Any]:
    async for event in gen.follow():
        if event.kind in ("response", "error"):
            return event.data
    raise RuntimeError("generation ended without a final event")


def _quota_headers(response: Response, turn: service.Turn | Relayed) -> None:
    """A message counts in the user's message windows (not the API's): their RateLimit headers."""
    if turn.quota is not None:
        response.headers.update(turn.quota.headers())


async def _begin(runtime: Runtime, claims: TokenClaims, body: SendRequest) -> service.Turn | Relayed | once.Repeated:
    return await once.begin_once(
        runtime,
        claims=claims,
        content=body.message,
        conversation_id=body.conversation_id,
        language=body.language,
        client_id=body.client_id,
    )


@router.post("/chat/send", response_model=ChatResponse, responses=_ERRORS)
async def send(body: SendRequest, claims: TurnClaims, runtime: RuntimeDep, response: Response) -> ChatResponse:
    """Send a message and get the stored answer. A provider failure still returns the stored
    (failed or partial) answer with `error` set; retry it with `/chat/messages/{id}/retry`."""
    turn = await _begin(runtime, claims, body)
    if isinstance(turn, once.Repeated):
        # Sent before with this client_id: the first send's answer (waited for while it is written).
        if turn.answer_id is None:
            return ChatResponse.model_validate(once.relayed_payload(turn))
        final = await once.last_event(runtime, claims.user_id, turn.answer_id)
        return ChatResponse.model_validate(final.data)
    _quota_headers(response, turn)
    if isinstance(turn, Relayed):
        return ChatResponse.model_validate(service.relayed_payload(turn))
    gen = service.launch(runtime, turn)
    return ChatResponse.model_validate(await _final(gen))


def _sse(event: TurnEvent) -> ServerSentEvent:
    data = {"message_id": event.message_id, "conversation_id": event.conversation_id, **event.data}
    return ServerSentEvent(data=json.dumps(data), event=event.kind, id=f"{event.message_id}:{event.seq}")


def _parse_event_id(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        message_id, seq = (int(part) for part in value.split(":", 1))
    except ValueError:
        raise BadRequest("Last-Event-ID must look like '<message_id>:<seq>'") from None
    if not (1 <= message_id <= MAX_ID and 0 <= seq <= MAX_ID):
        raise BadRequest(f"Last-Event-ID: the message id must be 1 to {MAX_ID} and the sequence 0 to {MAX_ID}")
    return message_id, seq


async def _replay(runtime: Runtime, user_id: int, message_id: int, after_seq: int) -> AsyncIterator[ServerSentEvent]:
    async for event in once.answer_events(runtime, user_id, message_id, after_seq):
        yield _sse(event)


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    responses={**_ERRORS, **_LAST_EVENT_ID, 200: _EVENT_STREAM},
)
async def stream(
    body: SendRequest,
    claims: TurnClaims,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """The answer as Server-Sent Events: `typing`, then `token` events (and `replace` when the
    guard replaced the text streamed so far with `content`), then `response` (the
    stored message; `stopped` is true when the user stopped it) or `error`. Each event id is
    `<message_id>:<seq>`; send it back as `Last-Event-ID` (here or on
    `GET /chat/stream/{message_id}`) to get the rest after a drop."""
    resume = _parse_event_id(last_event_id)
    if resume is not None:
        user = await load_caller(runtime, claims)
        await service.stored_answer(runtime, user.id, resume[0])  # 404 before the stream starts
        return EventSourceResponse(_replay(runtime, user.id, *resume), ping=15)
    turn = await _begin(runtime, claims, body)
    if isinstance(turn, once.Repeated):
        # Sent before with this client_id: the first send's answer stream, from its start.
        if turn.answer_id is None:
            event = TurnEvent("response", 1, turn.user_message_id, turn.conversation_id, once.relayed_payload(turn))
            return EventSourceResponse(iter([_sse(event)]), ping=15)
        return EventSourceResponse(_replay(runtime, claims.user_id, turn.answer_id, 0), ping=15)
    if isinstance(turn, Relayed):
        # For a person to answer: the stored message is the whole stream (see ChatResponse.handoff).
        final = TurnEvent("response", 1, turn.user_message_id, turn.conversation_id, service.relayed_payload(turn))
        relayed = EventSourceResponse(iter([_sse(final)]), ping=15)
        _quota_headers(relayed, turn)
        return relayed
    gen = service.launch(runtime, turn)
    events = EventSourceResponse((_sse(e) async for e in gen.follow()), ping=15)
    _quota_headers(events, turn)
    return events


@router.get(
    "/chat/stream/{message_id}",
    response_class=EventSourceResponse,
    responses={**_LAST_EVENT_ID, 200: _EVENT_STREAM, 404: {"description": "No such answer"}},
)
async def resume_stream(
    message_id: PathId,
    user: ChatUser,
    runtime: RuntimeDep,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Resume (or replay) an answer's event stream after the event id given in `Last-Event-ID`."""
    resume = _parse_event_id(last_event_id or request.query_params.get("last_event_id"))
    after = resume[1] if resume and resume[0] == message_id else 0
    await service.stored_answer(runtime, user.id, message_id)  # 404 before the stream starts
    return EventSourceResponse(_replay(runtime, user.id, message_id, after), ping=15)


@router.post("/chat/messages/{message_id}/retry", response_model=ChatResponse, responses=_ERRORS)
async def retry(message_id: PathId, user: ChatUser, runtime: RuntimeDep, response: Response) -> ChatResponse:
    """Regenerate a failed, partial or stopped answer."""
    require_consent(user)
    turn = await service.retry(runtime, user_id=user.id, message_id=message_id)
    _quota_headers(response, turn)
    gen = service.launch(runtime, turn)
    return ChatResponse.model_validate(await _final(gen))


@router.post(
    "/chat/messages/{message_id}/stop",
    response_model=ChatResponse,
    responses={404: {"description": "No such answer"}, 409: {"description": "The answer has already finished"}},
)
async def stop(message_id: PathId, user: ChatUser, runtime: RuntimeDep) -> ChatResponse:
    """Stop an answer while it is being generated (on whichever instance): the model stops, the
    text so far is stored as the answer (status `sent`, `stopped` true, tokens counted) and every
    follower of its stream gets a final `response` event with `stopped` true. Returns that answer.
    409 once it has finished. If no instance is generating it any more (one died), it is marked
    failed, as abandoned answers are. Not rate-limited: it ends work rather than starting any. A
    stopped answer can be retried."""
    stopped = await stop_answer(runtime, user_id=user.id, message_id=message_id)
    return ChatResponse.model_validate(stopped.payload)


@router.post(
    "/messages/{message_id}/feedback",
    response_model=FeedbackRead,
    status_code=status.HTTP_200_OK,
    responses={404: {"description": "No such answer"}},
)
async def feedback(
    message_id: PathId,
    body: FeedbackRequest,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> FeedbackRead:
    """Rate an answer helpful or not (one verdict per user and answer; sending again changes it).
    After "Not helpful", `offer_handoff` says whether to offer a person; "Not helpful" once too
    often in a conversation hands it to a person (HELPLINE_SUPPORT_ESCALATE_AFTER_NOT_HELPFUL)."""
    from helpline.chat.feedback import record_feedback

    row, offer, notices = await record_feedback(
        session, user.id, message_id, body.helpful, body.comment, support=runtime.settings.support
    )
    if notices:
        background.add_task(publish, runtime, notices)
    return FeedbackRead(
        message_id=message_id,
        helpful=row.helpful,
        comment=row.comment,
        created_at=row.created_at,
        offer_handoff=offer,
    )
