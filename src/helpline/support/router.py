"""Human handoff. The user's side under /api/v1/conversations/{id}/...: ask for a person, the
status and what to expect, mark replies seen, and a live event stream. The agents' side under
/api/v1/support/...: the inbox, claim, reply, notes, canned replies, resolve, hand back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Response, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from helpline.auth.dependencies import ChatUser, ClientDep, CurrentUser
from helpline.chat.schemas import MessageRead
from helpline.core.deps import ReadSessionDep, RuntimeDep, SessionDep
from helpline.core.ids import PathId
from helpline.core.runtime import Runtime
from helpline.faqs.dependencies import FAQReadDepsDep
from helpline.jobs.service import enqueue_after_commit
from helpline.platform.hub import TurnEvent
from helpline.push.service import queue_push
from helpline.support import live, service
from helpline.support.canned import canned_replies
from helpline.support.dependencies import AgentUser
from helpline.support.schemas import (
    AgentConversation,
    CannedPage,
    HandoffRequest,
    HandoffState,
    InboxPage,
    NoteCreate,
    NoteRead,
    ReplyCreate,
    SeenRequest,
)

router = APIRouter(tags=["support"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such conversation"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not in a state that allows this (claimed by another agent, not claimed, not waiting)"}
}
LIVE_KINDS = ("agent", "handoff")


def _publish(background: BackgroundTasks, runtime: Runtime, notices: list[live.Notice]) -> None:
    """After the response, so after the commit: a user never hears of a change rolled back."""
    if notices:
        background.add_task(live.publish, runtime, notices)


# The user's side


@router.get("/api/v1/conversations/{conversation_id}/handoff", response_model=HandoffState, responses=NOT_FOUND)
async def handoff_state(
    conversation_id: PathId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> HandoffState:
    """Who answers this conversation (the assistant, a person, waited for) and what to expect."""
    conv = await service.owned(session, user.id, conversation_id)
    return await service.user_state(session, runtime.settings.support, conv)


@router.post(
    "/api/v1/conversations/{conversation_id}/handoff",
    response_model=HandoffState,
    responses={**NOT_FOUND, 409: {"description": "Handing over to a person is turned off"}},
)
async def request_handoff(
    conversation_id: PathId,
    body: HandoffRequest,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> HandoffState:
    """Ask for a person ("Talk to a person"). A guest may give an email address to be told of
    the reply. Asking again while waiting changes nothing (the address is kept)."""
    state, notices = await service.request(session, runtime.settings.support, user, conversation_id, body.email)
    _publish(background, runtime, notices)
    return state


@router.post(
    "/api/v1/conversations/{conversation_id}/handoff/seen",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
async def handoff_seen(conversation_id: PathId, body: SeenRequest, user: CurrentUser, session: SessionDep) -> Response:
    """The user has seen the people's replies up to `up_to`: they are not emailed to them."""
    await service.mark_seen(session, user.id, conversation_id, body.up_to)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_EVENTS_DOC = {
    "description": "Server-Sent Events: `ready` once listening, then `agent` (a person's reply: `message`, "
    "`agent_name`) and `handoff` (the conversation changed hands: `handoff`, and `message`, the notice)",
    # In OpenAPI 3.1 the schema of an event stream describes one event (as chat/router.py's).
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "enum": ["ready", *LIVE_KINDS]},
                    "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The message's id"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "description": "A JSON object with conversation_id (and message_id, and the event's fields)",
                    },
                },
            }
        }
    },
}


def _back_with_the_assistant(item: TurnEvent) -> bool:
    status = item.data.get("handoff", {}).get("status") if item.kind == "handoff" else None
    return status in ("bot", "resolved")


async def _events(
    runtime: Runtime, user_id: int, conversation_id: int, with_person: bool
) -> AsyncIterator[ServerSentEvent]:
    hub = runtime.hub
    if not with_person:  # nothing to wait for: the client follows again after asking for a person
        yield ServerSentEvent(event="ready", data=json.dumps({"conversation_id": conversation_id}))
        return
    with hub.listen(user_id, runtime.settings.ws.max_queued_frames) as listener:
        ready = getattr(hub, "ready", None)
        if ready is not None:
            await ready(user_id)  # subscribed: another instance's events reach this stream from now on
        yield ServerSentEvent(event="ready", data=json.dumps({"conversation_id": conversation_id}))
        while listener.shutdown is None:
            getter = asyncio.ensure_future(listener.get())
            shut = asyncio.ensure_future(listener.shut_down.wait())
            try:
                await asyncio.wait({getter, shut}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                shut.cancel()
                if not getter.done():
                    getter.cancel()
            if not getter.done() or getter.cancelled():
                return  # shut: signed out, or not reading
            item = getter.result()
            if isinstance(item, TurnEvent) and item.kind in LIVE_KINDS and item.conversation_id == conversation_id:
                data = {"message_id": item.message_id, "conversation_id": item.conversation_id, **item.data}
                yield ServerSentEvent(data=json.dumps(data), event=item.kind, id=str(item.message_id))
                if _back_with_the_assistant(item):
                    return


@router.get(
    "/api/v1/conversations/{conversation_id}/events",
    response_class=EventSourceResponse,
    responses={**NOT_FOUND, 200: _EVENTS_DOC},
)
async def conversation_events(conversation_id: PathId, user: ChatUser, runtime: RuntimeDep) -> EventSourceResponse:
    """The conversation's live events while a person has it: their replies and its changes of
    hands, from whichever instance. What came before the stream opened is in the stored history.
    The stream ends after `ready` when no person has the conversation, and after the `handoff`
    event that gives it back to the assistant (resolved, or handed back)."""
    async with runtime.sessionmaker() as session:
        conv = await service.owned(session, user.id, conversation_id)
        with_person = conv.handoff_status in service.WITH_PERSON
    return EventSourceResponse(_events(runtime, user.id, conversation_id, with_person), ping=15)


# The agents' side

support = APIRouter(prefix="/api/v1/support", tags=["support"])


@support.get("/inbox", response_model=InboxPage)
async def inbox(
    agent: AgentUser,
    session: ReadSessionDep,
    view: Annotated[
        service.InboxView, Query(description="waiting, mine (claimed by me), active, resolved")
    ] = "waiting",
) -> InboxPage:
    """Conversations handed to a person: the waiting ones longest-waiting first, with wait time."""
    return InboxPage(items=await service.inbox(session, agent, view))


@support.get("/conversations/{conversation_id}", response_model=AgentConversation, responses=NOT_FOUND)
async def agent_conversation(conversation_id: PathId, agent: AgentUser, session: ReadSessionDep) -> AgentConversation:
    """The whole conversation (the assistant's answers with their sources in `metadata.sources`),
    the internal notes and who has it."""
    return await service.agent_view(session, conversation_id)


@support.post(
    "/conversations/{conversation_id}/claim", response_model=AgentConversation, responses={**NOT_FOUND, **CONFLICT}
)
async def claim(
    conversation_id: PathId,
    agent: AgentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    client: ClientDep,
) -> AgentConversation:
    """Take a waiting conversation. Exclusive: when agents claim at once, one gets it, the others 409."""
    view, notices = await service.claim_and_view(session, runtime.settings.support, agent, conversation_id, client)
    _publish(background, runtime, notices)
    return view


@support.post(
    "/conversations/{conversation_id}/reply",
    response_model=MessageRead,
    status_code=status.HTTP_201_CREATED,
    responses={**NOT_FOUND, **CONFLICT},
)
async def reply(
    conversation_id: PathId,
    body: ReplyCreate,
    agent: AgentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    client: ClientDep,
) -> MessageRead:
    """Answer the user (the agent who claimed it): shown live in their open chat, emailed if
    they have not seen it after HELPLINE_SUPPORT_EMAIL_AFTER_SECONDS."""
    message, notices = await service.reply(
        session, runtime.settings.support, agent, conversation_id, body.content, client
    )
    _publish(background, runtime, notices)
    # The user's installed app, if they subscribed it: pushed at once (the service worker shows
    # nothing while a window of the app is in view); the mail waits to see whether they read it.
    if message.user_id is not None:
        values = {"conversation_id": conversation_id}
        await queue_push(runtime, message.user_id, "human_reply", values, background=background)
    delay = runtime.settings.support.email_after_seconds
    background.add_task(
        enqueue_after_commit,
        runtime,
        "support_reply_mail",
        key=f"mail:human_reply:{conversation_id}",
        scheduled=int(time.time()) + delay,
        conversation_id=conversation_id,
    )
    return service.message_read(message)


@support.post(
    "/conversations/{conversation_id}/notes",
    response_model=NoteRead,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
async def add_note(
    conversation_id: PathId, body: NoteCreate, agent: AgentUser, session: SessionDep, client: ClientDep
) -> NoteRead:
    """An internal note for the other agents: never shown to the user."""
    return await service.add_note(session, agent, conversation_id, body.body, client)


@support.post(
    "/conversations/{conversation_id}/resolve", response_model=AgentConversation, responses={**NOT_FOUND, **CONFLICT}
)
async def resolve(
    conversation_id: PathId,
    agent: AgentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    client: ClientDep,
) -> AgentConversation:
    """Done: the conversation is resolved (if the user writes again, the assistant answers)."""
    view, notices = await service.end_and_view(
        session, runtime.settings.support, agent, conversation_id, "resolve", client
    )
    _publish(background, runtime, notices)
    return view


@support.post(
    "/conversations/{conversation_id}/release", response_model=AgentConversation, responses={**NOT_FOUND, **CONFLICT}
)
async def release(
    conversation_id: PathId,
    agent: AgentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    client: ClientDep,
) -> AgentConversation:
    """Hand the conversation back to the assistant."""
    view, notices = await service.end_and_view(
        session, runtime.settings.support, agent, conversation_id, "release", client
    )
    _publish(background, runtime, notices)
    return view


@support.get("/canned", response_model=CannedPage)
async def canned(
    agent: AgentUser,
    session: ReadSessionDep,
    deps: FAQReadDepsDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Search the FAQs")],
    language: Annotated[str | None, Query(max_length=10)] = None,
) -> CannedPage:
    """Canned replies: the published FAQs that best match `q`, their answers ready to send."""
    return CannedPage(items=await canned_replies(session, deps, q, language))
