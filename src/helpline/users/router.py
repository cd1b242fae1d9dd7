from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.dependencies import AdminUser, ClientDep, CurrentUser, StaffUser, ThrottlesDep
from helpline.auth.schemas import UserRead
from helpline.chat.sockets import CLOSE_UNAUTHORIZED, close_all
from helpline.core import audit
from helpline.core.cursors import BAD_CURSOR
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.errors import Forbidden, Unprocessable
from helpline.core.ids import PathId
from helpline.core.paging import Paging, paging
from helpline.models import User
from helpline.notifications import settings as notification_settings
from helpline.notifications.jobs import send_later
from helpline.notifications.schemas import NotificationChoice, NotificationSettings, NotificationSettingsUpdate
from helpline.platform.hub import Shutdown
from helpline.users import service
from helpline.users.schemas import AdminUserUpdate, PasswordChange, UserPage, UserUpdate

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


_PASSWORD_ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "current_password is not correct"},
    429: {"description": "Too many wrong passwords: the account's login lockout"},
}


@router.patch(
    "/me",
    response_model=UserRead,
    responses={
        **_PASSWORD_ERRORS,
        400: {"description": "language, timezone, username, email or marketing_consent sent as null"},
        409: {"description": "That email or username is already used by another account"},
    },
)
async def update_me(
    body: UserUpdate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> UserRead:
    """A new email needs `current_password`, and is confirmed by a link mailed to it."""
    before = user.email
    updated = await service.update_me(session, runtime, throttles.login, user, body, client)
    if updated.email != before:
        send_later(background, runtime, "verify_email", updated)
    await session.refresh(updated)
    return UserRead.model_validate(updated)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=_PASSWORD_ERRORS)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> Response:
    """Every session is revoked: the user's open chat WebSockets are closed (4401) too."""
    await service.change_password(session, runtime, throttles.login, user, body, client)
    # After the commit (once the response is sent), as the revocation is then in force.
    shutdown = Shutdown(CLOSE_UNAUTHORIZED, "Password changed: sign in again", "password_changed")
    background.add_task(close_all, runtime, user.id, shutdown)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=UserPage, responses=BAD_CURSOR)
async def list_users(
    actor: StaffUser,
    session: SessionDep,
    client: ClientDep,
    page: Annotated[Paging, Depends(paging())],
    q: Annotated[str | None, Query(max_length=100, description="Search email or username")] = None,
) -> UserPage:
    """Staff: accounts in id order (audited). GET /api/v1/admin/users has more filters."""
    users, next_cursor = await service.list_users(session, actor, client, q=q, cursor=page.cursor, limit=page.limit)
    return UserPage(items=[UserRead.model_validate(u) for u in users], next_cursor=next_cursor)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={
        400: {"description": "Administrators cannot demote or suspend themselves"},
        404: {"description": "No user with this id"},
        409: {"description": "A guest cannot be given a staff role"},
    },
)
async def admin_update(
    user_id: PathId,
    body: AdminUserUpdate,
    actor: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> UserRead:
    """A user suspended or made inactive loses their open chat WebSockets (4403) too."""
    result = await service.admin_update(session, actor, user_id, body, client)
    if result.shutdown is not None:
        background.add_task(close_all, runtime, result.user.id, result.shutdown)
    return UserRead.model_validate(result.user)


@router.get("/me/notifications", response_model=NotificationSettings, responses={401: {"description": "Not signed in"}})
async def my_notifications(user: CurrentUser, session: SessionDep) -> NotificationSettings:
    """Which notifications reach you on which channel (everything is on until you turn it off)."""
    return await _notification_settings(session, user)


@router.put(
    "/me/notifications",
    response_model=NotificationSettings,
    responses={
        401: {"description": "Not signed in"},
        403: {"description": "A guest: register first"},
        422: {"description": "An unknown channel or kind, or one this account cannot get"},
    },
)
async def set_my_notifications(
    body: NotificationSettingsUpdate, user: CurrentUser, session: SessionDep, client: ClientDep
) -> NotificationSettings:
    """Turn kinds of notification on or off per channel; the ones not sent stay as they are."""
    if user.is_guest:
        raise Forbidden(service.GUEST_REGISTER_FIRST)
    refused = notification_settings.refused(user, [(c.channel, c.kind) for c in body.settings])
    if refused:
        raise Unprocessable(f"settings: this account gets no {', '.join(refused)} notifications")
    await notification_settings.update(session, user, {(c.channel, c.kind): c.enabled for c in body.settings})
    audit.record(session, "user.notifications_updated", actor_user_id=user.id, client=client)
    return await _notification_settings(session, user)


async def _notification_settings(session: AsyncSession, user: User) -> NotificationSettings:
    values = await notification_settings.current(session, user)
    return NotificationSettings(
        settings=[NotificationChoice(channel=c, kind=k, enabled=v) for (c, k), v in values.items()],
        always_sent=list(notification_settings.ALWAYS_SENT),
    )
