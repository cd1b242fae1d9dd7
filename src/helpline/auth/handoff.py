"""The widget's "create an account" link: a guest's session handed to the sign-up page with a
one-time code instead of the guest's refresh token, which the link used to carry into the
browser's history. The code is single-use, lives HANDOFF_TTL_SECONDS, is stored hashed in the
runtime's one-time store (Redis when configured, so any instance redeems it), and buys only a
short access token of the same login: enough to register as that guest, nothing to refresh."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.access import load_user
from helpline.core.errors import BadRequest, Forbidden
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import RefreshToken, User, UserStatus

HANDOFF_TTL_SECONDS = 300


class InvalidHandoff(BadRequest):
    code = "invalid_handoff_code"

    def __init__(self) -> None:
        super().__init__("This sign-up link has expired or was already used: open it again from the chat window.")


@dataclass(frozen=True, slots=True)
class Handoff:
    code: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class HandoffAccess:
    access_token: str
    expires_in: int


def _key(code: str) -> str:
    # A fast hash is enough: the code is 256 random bits, there is nothing to guess offline.
    return "handoff:" + hashlib.sha256(code.encode()).hexdigest()


async def create_handoff(session: AsyncSession, runtime: Runtime, claims: TokenClaims) -> Handoff:
    """A one-time code for the caller, who must be a guest (403 otherwise)."""
    user = await load_user(session, claims)
    if not user.is_guest:
        raise Forbidden("Only a guest session can be handed to the sign-up page")
    code = secrets.token_urlsafe(32)
    value = json.dumps({"user_id": user.id, "sid": str(claims.sid) if claims.sid else None})
    await runtime.one_time.put(_key(code), value, HANDOFF_TTL_SECONDS)
    return Handoff(code=code, expires_in=HANDOFF_TTL_SECONDS)


async def redeem_handoff(session: AsyncSession, runtime: Runtime, code: str) -> HandoffAccess:
    """The guest's access token for a code, which is used up (400 if unknown, used, expired, or
    if its guest has since registered, been deleted or signed out)."""
    raw = await runtime.one_time.take(_key(code))
    if raw is None:
        raise InvalidHandoff
    data = json.loads(raw)
    sid = uuid.UUID(data["sid"]) if data.get("sid") else None
    user = await session.get(User, int(data["user_id"]))
    if user is None or not user.is_guest or user.status != UserStatus.active:
        raise InvalidHandoff
    if sid is not None:
        # The guest's login must still be live: a signed-out session hands nothing over.
        live = exists().where(
            RefreshToken.family_id == sid,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > datetime.now(UTC),
        )
        if not await session.scalar(select(live)):
            raise InvalidHandoff
    ttl = timedelta(minutes=runtime.settings.auth.access_token_minutes)
    token, _ = runtime.tokens.encode(
        user_id=user.id, email=user.email, role=user.role.value, type="access", ttl=ttl, jti=uuid.uuid4(), sid=sid
    )
    return HandoffAccess(access_token=token, expires_in=int(ttl.total_seconds()))
