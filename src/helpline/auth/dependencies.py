"""Who is calling: the authenticated user, and reusable role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import exists, select

from helpline.auth.service import status_problem
from helpline.auth.throttle import GuestThrottle, LoginThrottle
from helpline.core.audit import Client
from helpline.core.deps import RuntimeDep, SessionDep, client_ip, user_agent
from helpline.core.errors import Forbidden, Unauthorized
from helpline.core.runtime import Runtime
from helpline.core.security import InvalidToken, TokenClaims
from helpline.models import RevokedAccessToken, User, UserRole

bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def get_client(request: Request) -> Client:
    return Client(ip=client_ip(request), user_agent=user_agent(request))


ClientDep = Annotated[Client, Depends(get_client)]


def get_throttle(runtime: RuntimeDep) -> LoginThrottle:
    throttle = runtime.extras.get("login_throttle")
    if not isinstance(throttle, LoginThrottle):
        throttle = LoginThrottle(runtime.limits_storage, runtime.settings.auth)
        runtime.extras["login_throttle"] = throttle
    return throttle


ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]


def get_guest_throttle(runtime: RuntimeDep) -> GuestThrottle:
    throttle = runtime.extras.get("guest_throttle")
    if not isinstance(throttle, GuestThrottle):
        throttle = GuestThrottle(runtime.limits_storage, runtime.settings.widget.guest_create_limit)
        runtime.extras["guest_throttle"] = throttle
    return throttle


GuestThrottleDep = Annotated[GuestThrottle, Depends(get_guest_throttle)]


def access_claims(runtime: RuntimeDep, creds: HTTPAuthorizationCredentials | None) -> TokenClaims:
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("Not authenticated: send 'Authorization: Bearer <access token>'")
    try:
        return runtime.tokens.decode(creds.credentials, "access")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None


async def load_user(session: SessionDep, claims: TokenClaims) -> User:
    """The token's user, checked on every request: exists, not revoked, active, password unchanged."""
    revoked = exists().where(RevokedAccessToken.jti == claims.jti)
    row = (await session.execute(select(User, revoked).where(User.id == claims.user_id))).first()
    if row is None:
        raise Unauthorized("This account no longer exists")
    user, is_revoked = row
    if is_revoked:
        raise Unauthorized("Token has been revoked; log in again")
    if user.password_changed_at and claims.iat < user.password_changed_at.replace(microsecond=0):
        raise Unauthorized("Password changed since this token was issued; log in again")
    problem = status_problem(user)
    if problem:
        raise Forbidden(problem)
    return user


async def current_user(
    runtime: RuntimeDep,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    return await load_user(session, access_claims(runtime, creds))


CurrentUser = Annotated[User, Depends(current_user)]


async def load_user_detached(runtime: Runtime, claims: TokenClaims) -> User:
    """``load_user`` in a short session of its own, returning the connection to the pool at once."""
    async with runtime.sessionmaker() as session:
        return await load_user(session, claims)


async def current_user_detached(
    runtime: RuntimeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    """For requests that last as long as an answer (chat): holding the request's session open
    meanwhile would pin a pooled connection per request and starve the pool under load."""
    return await load_user_detached(runtime, access_claims(runtime, creds))


# The user of a long-running request; it must not touch lazy attributes (none are needed).
ChatUser = Annotated[User, Depends(current_user_detached)]


def require_role(*roles: UserRole) -> Callable[[User], Awaitable[User]]:
    """Dependency factory: the current user, if their role is one of ``roles``; else 403."""
    allowed = frozenset(roles)

    async def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden("You do not have permission to do this")
        return user

    return dependency


StaffUser = Annotated[User, Depends(require_role(UserRole.moderator, UserRole.admin))]
AdminUser = Annotated[User, Depends(require_role(UserRole.admin))]
