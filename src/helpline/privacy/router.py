"""Privacy rights (GDPR): consents, data export, account erasure."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Response, status

from helpline.auth.dependencies import AdminUser, ClientDep, CurrentUser
from helpline.chat.sockets import CLOSE_UNAUTHORIZED, close_all
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.ids import PathId
from helpline.jobs.functions import export_key
from helpline.jobs.service import enqueue_after_commit
from helpline.platform.hub import Shutdown
from helpline.privacy import erasure, service
from helpline.privacy.schemas import AccountErasure, Consents, ConsentUpdate, ExportRead, RetentionStatus

router = APIRouter(tags=["privacy"])

_AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated, or the account no longer exists"}}


@router.get("/api/v1/privacy/consents", response_model=Consents, responses=_AUTH)
async def read_consents(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> Consents:
    """Your consents, and whether the privacy policy changed since you accepted it."""
    return await service.read_consents(session, runtime, user)


@router.put(
    "/api/v1/privacy/consents",
    response_model=Consents,
    responses={**_AUTH, 422: {"description": "No consent given to change, or a value is not a boolean"}},
)
async def update_consents(
    body: ConsentUpdate, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> Consents:
    """Give or withdraw consents. Withdrawing data processing stops chat (403 consent_required)
    until it is given again."""
    return await service.update_consents(session, runtime, user, body, client)


@router.post(
    "/api/v1/privacy/export",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportRead,
    responses={
        **_AUTH,
        409: {"description": "An export is already being prepared"},
        429: {"description": "Too many exports in 24 hours"},
    },
)
async def start_export(
    user: CurrentUser, session: SessionDep, runtime: RuntimeDep, client: ClientDep, background: BackgroundTasks
) -> ExportRead:
    """Start preparing a ZIP of all your data; poll GET /api/v1/privacy/export/{id}."""
    export = await service.start_export(session, runtime, user, client)
    # Background tasks run after the response, so after the request's transaction committed:
    # the job never looks for a row that is not there yet (or never will be).
    background.add_task(
        enqueue_after_commit, runtime, "privacy_export", key=export_key(export.id), export_id=str(export.id)
    )
    return service.export_read(export)


@router.get(
    "/api/v1/privacy/export/{export_id}",
    response_model=ExportRead,
    responses={**_AUTH, 404: {"description": "No export of yours with this id"}},
)
async def read_export(export_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ExportRead:
    return service.export_read(await service.get_export(session, user, export_id))


@router.get(
    "/api/v1/privacy/export/{export_id}/download",
    response_class=Response,
    responses={
        **_AUTH,
        200: {"content": {"application/zip": {}}, "description": "The archive"},
        404: {"description": "Not ready, expired, or not yours"},
    },
)
async def download_export(export_id: uuid.UUID, user: CurrentUser, session: SessionDep, client: ClientDep) -> Response:
    content = await service.download_export(session, user, export_id, client)
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="helpline-data-{export_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


# Sent after the commit (background tasks run once the response is sent), as logout does.
_ERASED = Shutdown(CLOSE_UNAUTHORIZED, "This account has been erased", "account_erased")


@router.delete(
    "/api/v1/users/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **_AUTH,
        403: {"description": "The password is not correct (nothing was changed), or a guest account"},
        409: {"description": "The last administrator cannot be erased"},
    },
)
async def erase_me(
    body: AccountErasure,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> Response:
    """Erase your account and all its data, at once and for good. Your tokens stop working and
    your open chat WebSockets are closed (4401)."""
    await erasure.check_self_erasure(session, runtime, user, body.current_password)
    await erasure.erase_account(session, runtime, user, by=None, client=client)
    background.add_task(close_all, runtime, user.id, _ERASED)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/api/v1/admin/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["admin"],
    responses={
        **_AUTH,
        400: {"description": "Administrators cannot erase themselves here"},
        403: {"description": "Not an administrator"},
        404: {"description": "No user with this id"},
        409: {"description": "The last administrator cannot be erased"},
    },
)
async def erase_user(
    user_id: PathId,
    actor: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> Response:
    """Erase an account and all its data (audited; the trail keeps a pseudonym of the user); its
    open chat WebSockets are closed (4401)."""
    user = await erasure.check_admin_erasure(session, actor, user_id)
    await erasure.erase_account(session, runtime, user, by=actor, client=client)
    background.add_task(close_all, runtime, user_id, _ERASED)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api/v1/privacy/retention",
    response_model=RetentionStatus,
    responses={**_AUTH, 403: {"description": "Administrators only"}},
)
async def retention_status(_: AdminUser, session: SessionDep, runtime: RuntimeDep) -> RetentionStatus:
    """How long data is kept (HELPLINE_RETENTION_*) and what the latest run removed (administrators)."""
    return await service.retention_status(session, runtime)
