"""Who is calling: the authenticated user, and reusable role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Cookie, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from helpline.auth.access import ACCOUNT_GONE, load_caller, load_user
from helpline.core.audit import Client
from helpline.core.deps import RuntimeDep, SessionDep, client_ip, user_agent
from helpline.core.errors import Forbidden, Unauthorized
from helpline.core.identity import Caller
from helpline.core.logging import set_user
from helpline.core.openapi import DEFAULT_DESCRIPTIONS, documents
from helpline.core.security import DeviceCookie, InvalidToken, TokenClaims
from helpline.models import User, UserRole
from helpline.platform.throttle import AuthThrottles

bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def get_client(request: Request) -> Client:
    return Client(ip=client_ip(request), user_agent=user_agent(request))


ClientDep = Annotated[Client, Depends(get_client)]


async def get_throttles(runtime: RuntimeDep) -> AuthThrottles:
    return runtime.auth_throttles


ThrottlesDep = Annotated[AuthThrottles, Depends(get_throttles)]

DEVICE_COOKIE = "helpline_device"
# The device cookie travels only to the auth endpoints (path /api/v1/auth).
DEVICE_COOKIE_PATH = "/api/v1/auth"


async def device_cookie(
    runtime: RuntimeDep,
    helpline_device: Annotated[
        str | None, Cookie(max_length=1024, description="Set by a successful login (a device signed in before)")
    ] = None,
) -> DeviceCookie | None:
    """The login's device cookie when it is one of ours, else None (an untrusted client)."""
    return runtime.tokens.decode_device(helpline_device) if helpline_device else None


DeviceDep = Annotated[DeviceCookie | None, Depends(device_cookie)]


def access_claims(runtime: RuntimeDep, creds: HTTPAuthorizationCredentials | None) -> TokenClaims:
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("Not authenticated: send 'Authorization: Bearer <access token>'")
    try:
        claims = runtime.tokens.decode(creds.credentials, "access")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    set_user(claims.user_id)  # the request's log lines carry its user's id
    return claims


# What every check of a caller's token and account can answer (auth.access: load_user, load_caller).
SIGNED_IN: dict[int, str] = {
    401: DEFAULT_DESCRIPTIONS[401],
    403: "The account is suspended or inactive (or, for chat, consent to processing is withdrawn)",
}


@documents(SIGNED_IN, requires_token=True)
async def current_user(
    runtime: RuntimeDep,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    return await load_user(session, access_claims(runtime, creds))


CurrentUser = Annotated[User, Depends(current_user)]


@documents(SIGNED_IN, requires_token=True)
async def current_caller(
    runtime: RuntimeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """For requests that last as long as an answer (chat): holding the request's session open
    meanwhile would pin a pooled connection per request and starve the pool under load."""
    return await load_caller(runtime, access_claims(runtime, creds))


# The caller of a long-running request (chat).
ChatUser = Annotated[Caller, Depends(current_caller)]


@documents({401: DEFAULT_DESCRIPTIONS[401]}, requires_token=True)
async def turn_claims(
    runtime: RuntimeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> TokenClaims:
    """A valid access token's claims, its account not checked yet: for a chat turn, which reads
    and checks the account in the statement that stores the message (chat.service.begin)."""
    return access_claims(runtime, creds)


TurnClaims = Annotated[TokenClaims, Depends(turn_claims)]
# A valid access token's claims, for routes that check its account themselves.
AccessClaims = TurnClaims


# Methods a Helpline API key with the admin_read scope may use on staff routes: reading only.
READ_METHODS = frozenset({"GET", "HEAD"})


async def staff_caller(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The caller of a staff route (require_role's): an access token's user, or, for a read (GET),
    a Helpline API key's with the ``admin_read`` scope (apikeys: checked on every request, so a
    revoked key or a suspended account stops at once). A key may never write: any other method
    wants a token."""
    from helpline.apikeys.schemas import Scope
    from helpline.apikeys.service import authenticate, prefix_of

    if creds is not None and creds.scheme.lower() == "bearer" and prefix_of(creds.credentials) is not None:
        if request.method not in READ_METHODS:
            raise Unauthorized("An API key may only read here: sign in and send an access token to make changes")
        key = await authenticate(runtime, creds.credentials, Scope.admin_read)
        set_user(key.user_id)
        user = await session.get(User, key.user_id)
        if user is None:
            raise Unauthorized(ACCOUNT_GONE)
        return user
    return await load_user(session, access_claims(runtime, creds))


def require_role(*roles: UserRole) -> Callable[..., Awaitable[User]]:
    """Dependency factory: the caller (staff_caller), if their role is one of ``roles``; else 403."""
    allowed = frozenset(roles)

    @documents(
        {**SIGNED_IN, 403: "Your role does not allow this (or an API key lacks the admin_read scope)"},
        requires_token=True,
    )
    async def dependency(user: Annotated[User, Depends(staff_caller)]) -> User:
        if user.role not in allowed:
            raise Forbidden("You do not have permission to do this")
        return user

    return dependency


StaffUser = Annotated[User, Depends(require_role(UserRole.moderator, UserRole.admin))]
AdminUser = Annotated[User, Depends(require_role(UserRole.admin))]
