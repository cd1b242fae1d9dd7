from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from helpline.auth import service
from helpline.auth.dependencies import ClientDep, ThrottleDep, bearer
from helpline.auth.schemas import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserRead,
)
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.errors import error_response

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Invalid credentials or token"},
    403: {"description": "Account suspended or inactive"},
    429: {"description": "Too many failed attempts"},
}


def _tokens(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=int(pair.access_ttl.total_seconds()),
        refresh_expires_in=int(pair.refresh_ttl.total_seconds()),
        user=UserRead.model_validate(pair.user),
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={409: {"description": "Email or username taken"}},
)
async def register(body: RegisterRequest, session: SessionDep, runtime: RuntimeDep, client: ClientDep) -> UserRead:
    user = await service.register(session, runtime, body, client)
    await session.refresh(user)
    return UserRead.model_validate(user)


@router.post("/login", response_model=TokenResponse, responses=_ERRORS)
async def login(
    body: LoginRequest, session: SessionDep, runtime: RuntimeDep, throttle: ThrottleDep, client: ClientDep
) -> TokenResponse:
    pair = await service.login(session, runtime, throttle, body.identifier, body.password, client)
    return _tokens(pair)


@router.post("/refresh", response_model=TokenResponse, responses=_ERRORS)
async def refresh(
    body: RefreshRequest, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> TokenResponse | JSONResponse:
    result = await service.refresh(session, runtime, body.refresh_token, client)
    if isinstance(result, service.RefreshReuse):
        # Returned rather than raised so the request's transaction commits the revocation.
        return error_response(401, "refresh_token_reused", result.detail)
    return _tokens(result)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def logout(
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    body: LogoutRequest | None = None,
) -> Response:
    await service.logout(
        session,
        runtime,
        creds.credentials if creds else None,
        body.refresh_token if body else None,
        client,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
