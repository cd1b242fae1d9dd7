"""Administration API: accounts (staff), role and status changes, force logout (admins), and the
audit trail (admins, read-only). Erasing an account is DELETE /api/v1/admin/users/{id}
(privacy.router); the moderation queue lives under /api/v1/admin/moderation."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status
from pydantic import BeforeValidator

from helpline.admin import service
from helpline.admin.schemas import AdminUserDetail, AdminUserPage, AdminUserRead, AuditPage
from helpline.auth.dependencies import AdminUser, ClientDep, StaffUser
from helpline.chat.sockets import CLOSE_UNAUTHORIZED, close_all
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.ids import MAX_ID, PathId
from helpline.core.paging import Paging, paging
from helpline.models import UserRole, UserStatus
from helpline.platform.hub import Shutdown
from helpline.users import service as users
from helpline.users.schemas import AdminUserUpdate

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

_STAFF: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not staff (an administrator or a moderator)"},
}
_ADMIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not an administrator"},
}
_NO_USER: dict[int | str, dict[str, Any]] = {404: {"description": "No user with this id"}}
_CURSOR: dict[int | str, dict[str, Any]] = {400: {"description": "The cursor is not one this list gave"}}


def _iso_8601(value: object) -> object:
    """Times are ISO 8601 ("2026-12-05" or "2026-12-05T10:00:00Z"), as documented; pydantic would
    also read a bare number as seconds since 1970, which the document does not promise."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("Give an ISO 8601 date or time, such as 2026-12-05 or 2026-12-05T10:00:00Z")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
Timestamp = Annotated[datetime, BeforeValidator(_iso_8601)]

# Sent after the commit (background tasks run once the response is sent), as logout does.
_FORCED = Shutdown(CLOSE_UNAUTHORIZED, "Signed out by an administrator", "signed_out_by_admin")


@router.get("/users", response_model=AdminUserPage, responses=_STAFF | _CURSOR)
async def list_users(
    actor: StaffUser,
    session: SessionDep,
    client: ClientDep,
    page: Annotated[Paging, Depends(paging())],
    q: Annotated[str | None, Query(max_length=100, description="Part of the email or username")] = None,
    role: UserRole | None = None,
    user_status: Annotated[UserStatus | None, Query(alias="status")] = None,
    guest: Annotated[bool | None, Query(description="Only widget guests (true) or only accounts (false)")] = None,
) -> AdminUserPage:
    """Accounts in id order, found by email or username and filtered. Audited."""
    items, next_cursor = await service.list_users(
        session, actor, client, q=q, role=role, status=user_status, guest=guest, cursor=page.cursor, limit=page.limit
    )
    return AdminUserPage(items=items, next_cursor=next_cursor)


@router.get("/users/{user_id}", response_model=AdminUserDetail, responses=_STAFF | _NO_USER)
async def read_user(user_id: PathId, actor: StaffUser, session: SessionDep, client: ClientDep) -> AdminUserDetail:
    """An account's profile and usage (conversations, messages, feedback, FAQ votes, tokens,
    last activity). Audited as a read of the user's data."""
    return await service.get_user(session, actor, user_id, client)


@router.patch(
    "/users/{user_id}",
    response_model=AdminUserRead,
    responses=_ADMIN
    | _NO_USER
    | {
        400: {"description": "Administrators cannot demote or suspend themselves"},
        409: {"description": "A guest cannot be given a staff role"},
    },
)
async def update_user(
    user_id: PathId,
    body: AdminUserUpdate,
    actor: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> AdminUserRead:
    """Change an account's role or status (audited). A status change signs the user out; a
    suspended or inactive user's open chat WebSockets are closed (4403) at once."""
    result = await users.admin_update(session, actor, user_id, body, client)
    if result.shutdown is not None:
        background.add_task(close_all, runtime, result.user.id, result.shutdown)
    return service.user_read(result.user)


@router.post(
    "/users/{user_id}/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ADMIN | _NO_USER | {400: {"description": "One's own account (sign out instead)"}},
)
async def force_logout(
    user_id: PathId,
    actor: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> Response:
    """Sign the user out everywhere: their refresh and access tokens stop working and their
    open chat WebSockets are closed (4401). They can sign in again (suspend them to stop that).
    Audited."""
    await service.force_logout(session, runtime, actor, user_id, client)
    background.add_task(close_all, runtime, user_id, _FORCED)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit", response_model=AuditPage, responses=_ADMIN | _CURSOR)
async def read_audit(
    actor: AdminUser,
    session: SessionDep,
    client: ClientDep,
    page: Annotated[Paging, Depends(paging(maximum=200))],
    actor_user_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Who acted")] = None,
    action: Annotated[
        str | None,
        Query(max_length=100, description="An action (auth.login), or a prefix ending in '.' or '*' (auth.)"),
    ] = None,
    target_type: Annotated[str | None, Query(max_length=50)] = None,
    target_id: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[Timestamp | None, Query(description="From this time (inclusive), ISO 8601")] = None,
    until: Annotated[Timestamp | None, Query(description="Before this time, ISO 8601")] = None,
) -> AuditPage:
    """The audit trail, newest first. Read-only: no entry can be changed or deleted (the
    database refuses it too). Reading it is audited."""
    items, next_cursor = await service.read_audit(
        session,
        actor,
        client,
        actor_user_id=actor_user_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        cursor=page.cursor,
        limit=page.limit,
    )
    return AuditPage(items=items, next_cursor=next_cursor)
