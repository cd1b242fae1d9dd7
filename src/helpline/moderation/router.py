"""The moderation queue for staff (moderators and administrators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query

from helpline.auth.dependencies import ClientDep, StaffUser
from helpline.chat.sockets import close_all
from helpline.core.deps import ReadSessionDep, RuntimeDep, SessionDep
from helpline.core.ids import PathId
from helpline.core.paging import Paging, paging
from helpline.models import UserStatus
from helpline.moderation import service
from helpline.moderation.schemas import (
    Category,
    FlagCreate,
    ModerationCategories,
    QueueItem,
    QueuePage,
    QueueStatus,
    ReviewCreate,
)
from helpline.users.service import status_shutdown

router = APIRouter(prefix="/api/v1/admin/moderation", tags=["moderation"])

_STAFF: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not a moderator or administrator"},
}


@router.get("/queue", response_model=QueuePage, responses={**_STAFF, 400: {"description": "The cursor is not valid"}})
async def queue(
    _: StaffUser,
    session: ReadSessionDep,
    page: Annotated[Paging, Depends(paging())],
    status: Annotated[QueueStatus, Query(description="pending: not reviewed yet; reviewed; all")] = "pending",
    category: Annotated[Category | None, Query(description="Only messages flagged in this category")] = None,
) -> QueuePage:
    """Flagged messages, newest first, with their author and latest review. The text is the
    user's own: show it as plain text."""
    items, next_cursor = await service.list_queue(
        session, status=status, category=category, cursor=page.cursor, limit=page.limit
    )
    return QueuePage(items=items, next_cursor=next_cursor)


@router.get("/categories", response_model=ModerationCategories, responses=_STAFF)
async def categories(_: StaffUser, session: ReadSessionDep) -> ModerationCategories:
    """The categories flagged messages carry, with how many are pending review."""
    return await service.category_counts(session)


@router.post(
    "/messages/{message_id}/review",
    response_model=QueueItem,
    responses={
        **_STAFF,
        400: {"description": "suspend_user on your own message, or on a message with no author"},
        404: {"description": "No flagged message with this id"},
        409: {"description": "Already reviewed (an administrator may change it to a different decision)"},
    },
)
async def review(
    message_id: PathId,
    body: ReviewCreate,
    actor: StaffUser,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> QueueItem:
    """Decide on a flagged message: dismiss, confirm, or suspend_user (the author is suspended
    and their open chat WebSockets close with 4403). A message is reviewed once: a second review
    is a 409, except an administrator's with a different decision, which overrules the first
    (both are kept; the queue shows the latest). Overruling a suspension does not lift it: do
    that on the users page. A moderator cannot suspend a staff account (403)."""
    result = await service.review(session, actor, message_id, body, client)
    shutdown = status_shutdown(UserStatus.suspended)
    if result.suspended_user_id is not None and shutdown is not None:
        # After the commit (the response is sent then): the suspension is in force.
        background.add_task(close_all, runtime, result.suspended_user_id, shutdown)
    return result.item


@router.post(
    "/messages/{message_id}/flag",
    response_model=QueueItem,
    responses={
        **_STAFF,
        400: {"description": "Not a user's message"},
        404: {"description": "No message with this id"},
        409: {"description": "Already flagged"},
    },
)
async def flag(
    message_id: PathId, body: FlagCreate, actor: StaffUser, session: SessionDep, client: ClientDep
) -> QueueItem:
    """Flag a user's message by hand, with a category and an optional note: it enters the queue."""
    return await service.flag(session, actor, message_id, body, client)
