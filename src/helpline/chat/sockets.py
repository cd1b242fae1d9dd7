"""What the rest of the app knows of the chat WebSockets: closing a user's sockets when
their login ends (logout, password change, suspension), through the hub so that every instance
closes its own."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from helpline.core.security import InvalidToken, TokenClaims, TokenType
from helpline.platform.hub import Shutdown

if TYPE_CHECKING:
    from helpline.core.runtime import Runtime

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


def _claims(runtime: Runtime, token: str | None, kind: TokenType) -> TokenClaims | None:
    if not token:
        return None
    try:
        return runtime.tokens.decode(token, kind)
    except InvalidToken:
        return None


async def close_login(runtime: Runtime, access_token: str | None, refresh_token: str | None) -> None:
    """After a logout: close the sockets of that login (its tokens' ``sid``). A token from before
    sids existed names no login: the sockets using that very access token (``jti``) are closed;
    the others of its login close when their token expires."""
    access = _claims(runtime, access_token, "access")
    refresh = _claims(runtime, refresh_token, "refresh")
    known = access or refresh
    if known is None:
        return
    sid = (access.sid if access else None) or (refresh.sid if refresh else None)
    jti = access.jti if access is not None and sid is None else None
    if sid is None and jti is None:
        return
    await runtime.hub.disconnect(
        known.user_id, Shutdown(CLOSE_UNAUTHORIZED, "Signed out", "signed_out"), sid=sid, jti=jti
    )


REUSED = Shutdown(CLOSE_UNAUTHORIZED, "Refresh token reused: this login was signed out", "refresh_reused")


async def close_reused_login(runtime: Runtime, user_id: int, family_id: uuid.UUID) -> None:
    """After a refresh token came back a second time (stolen?): the sockets of its login."""
    await runtime.hub.disconnect(user_id, REUSED, sid=family_id)


async def close_all(runtime: Runtime, user_id: int, shutdown: Shutdown) -> None:
    """Close every socket of the user (its sessions were all revoked, or it may not be served)."""
    await runtime.hub.disconnect(user_id, shutdown)
