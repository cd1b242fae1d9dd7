from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.dependencies import CurrentUser
from helpline.chat.schemas import MessageRead
from helpline.conversations import export, search, service
from helpline.conversations.dependencies import OwnedConversation
from helpline.conversations.schemas import (
    ConversationDetail,
    ConversationHit,
    ConversationPage,
    ConversationRead,
    ConversationUpdate,
)
from helpline.core.cursors import BAD_CURSOR
from helpline.core.deps import HistorySessionDep, RuntimeDep, SessionDep
from helpline.core.errors import NotFound
from helpline.core.ids import MAX_ID, PathId

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])
NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "No such conversation (or not yours)"}}
NULL_FIELD: dict[int | str, dict[str, str]] = {400: {"description": "title or is_archived sent as null"}}


@router.get("", response_model=ConversationPage, responses=BAD_CURSOR)
async def list_conversations(
    user: CurrentUser,
    session: HistorySessionDep,
    status_filter: Annotated[service.Status, Query(alias="status")] = "active",
    q: Annotated[str | None, Query(max_length=200, description="Search titles and message text")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConversationPage:
    """The caller's conversations, most recent first. With `q`: those whose title or messages
    contain it, each with a snippet of the newest matching message (`match`)."""
    rows, next_cursor = await service.list_conversations(
        session, user.id, status=status_filter, q=q, cursor=cursor, limit=limit
    )
    found = await search.matches(session, [c.id for c in rows], service.like(q), q) if q else {}
    items = [ConversationHit.model_validate(c).model_copy(update={"match": found.get(c.id)}) for c in rows]
    return ConversationPage(items=items, next_cursor=next_cursor)


@router.get("/{conversation_id}", response_model=ConversationDetail, responses=NOT_FOUND)
# Not OwnedConversation: the conversation is read on the history session (a replica when one is
# set), with the primary as the fallback for one started a moment ago.
async def get_conversation(
    conversation_id: PathId,
    user: CurrentUser,
    runtime: RuntimeDep,
    session: HistorySessionDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Messages older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationDetail:
    try:
        return await _detail(session, user.id, conversation_id, before, limit)
    except NotFound:
        if runtime.replica_engine is None:
            raise
    # Read on a replica, a conversation started a moment ago may not be there yet: the primary has it.
    async with runtime.read_sessionmaker() as primary:
        return await _detail(primary, user.id, conversation_id, before, limit)


async def _detail(
    session: AsyncSession, user_id: int, conversation_id: int, before: int | None, limit: int
) -> ConversationDetail:
    conv = await service.get_owned(session, user_id, conversation_id)
    messages, next_cursor = await service.messages_page(session, conv.id, user_id, before=before, limit=limit)
    base = ConversationRead.model_validate(conv).model_dump()
    return ConversationDetail(
        **base,
        context=conv.context,
        messages=[MessageRead.of(m, helpful) for m, helpful in messages],
        messages_next_cursor=next_cursor,
    )


@router.get(
    "/{conversation_id}/export",
    response_class=Response,
    responses=NOT_FOUND | {200: {"content": {"text/markdown": {}}, "description": "The conversation as Markdown"}},
)
async def export_conversation(conv: OwnedConversation, session: SessionDep, request: Request) -> Response:
    """The whole conversation as a Markdown file (its first 5,000 messages), to keep or share."""
    messages = await service.all_messages(session, conv.id, export.MAX_MESSAGES)
    body = export.to_markdown(conv, messages, str(request.base_url).rstrip("/"))
    return Response(
        body,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="conversation-{conv.id}.md"'},
    )


@router.put("/{conversation_id}", response_model=ConversationRead, responses=NOT_FOUND | NULL_FIELD)
async def update_conversation(
    conv: OwnedConversation, body: ConversationUpdate, session: SessionDep
) -> ConversationRead:
    return ConversationRead.model_validate(await service.update(session, conv, body))


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_conversation(conv: OwnedConversation, session: SessionDep, runtime: RuntimeDep) -> Response:
    message_ids = await service.remove(session, conv)
    # Its answers' event streams go too (as for an erased account or a retention purge).
    await runtime.hub.erase(message_ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
