"""API keys: a user's own (/api/v1/users/me/api-keys) and every user's for administrators
(/api/v1/admin/api-keys). The keys are used on the OpenAI-compatible API (helpline.openai_api)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from helpline.apikeys import service
from helpline.apikeys.schemas import AdminApiKeyPage, AdminApiKeyRead, ApiKeyCreate, ApiKeyCreated, ApiKeyList
from helpline.auth.dependencies import AdminUser, ClientDep, CurrentUser
from helpline.core.cursors import BAD_CURSOR
from helpline.core.deps import SessionDep
from helpline.core.ids import MAX_ID, PathId

router = APIRouter(prefix="/api/v1", tags=["api-keys"])

_NO_KEY: dict[int | str, dict[str, Any]] = {404: {"description": "No such API key (of yours)"}}


@router.get("/users/me/api-keys", response_model=ApiKeyList)
async def my_keys(user: CurrentUser, session: SessionDep) -> ApiKeyList:
    """Your API keys, newest first, revoked ones included; never their secrets."""
    return ApiKeyList(items=await service.list_for(session, user.id))


@router.post(
    "/users/me/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "A guest, or the admin_read scope asked for by someone who is not staff"},
        409: {"description": "Too many active keys"},
    },
)
async def create_key(body: ApiKeyCreate, user: CurrentUser, session: SessionDep, client: ClientDep) -> ApiKeyCreated:
    """A new key for the OpenAI-compatible API (`Authorization: Bearer hl_…` on `/v1/…`). The
    response holds the whole key, this once: only its hash is kept."""
    return await service.create(session, user, body, client)


@router.delete("/users/me/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NO_KEY)
async def revoke_key(key_id: PathId, user: CurrentUser, session: SessionDep, client: ClientDep) -> Response:
    """Revoke one of your keys: it stops working at once (it stays listed as revoked)."""
    await service.revoke_own(session, user, key_id, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/api-keys", response_model=AdminApiKeyPage, responses=BAD_CURSOR)
async def admin_keys(
    actor: AdminUser,
    session: SessionDep,
    client: ClientDep,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this user's keys")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or only revoked (false) keys")] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AdminApiKeyPage:
    """Administrators: every user's API keys, newest first (never their secrets). Audited."""
    items, next_cursor = await service.admin_list(
        session, actor, client, user_id=user_id, active=active, cursor=cursor, limit=limit
    )
    return AdminApiKeyPage(items=items, next_cursor=next_cursor)


@router.post("/admin/api-keys/{key_id}/revoke", response_model=AdminApiKeyRead, responses=_NO_KEY)
async def admin_revoke(key_id: PathId, actor: AdminUser, session: SessionDep, client: ClientDep) -> AdminApiKeyRead:
    """Administrators: revoke a user's key (at once). Revoking a revoked key changes nothing."""
    return await service.admin_revoke(session, actor, key_id, client)
