"""API keys: made, listed and revoked by their user (and revoked by administrators), and the check
of a key on each request of the OpenAI-compatible API (helpline.openai_api).

A key is ``hl_<prefix>_<secret>``: the prefix, kept in clear, finds the row and tells keys apart
in lists; the whole key is kept only as its SHA-256 (as password-reset tokens are, auth.recovery:
a key is 256 random bits, so a slow hash would add nothing but latency to every request)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.apikeys.schemas import (
    AdminApiKeyRead,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    Scope,
)
from helpline.auth.access import status_problem
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.db import single_statement
from helpline.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import ApiKey, User, UserRole, UserStatus

KEY_START = "hl_"
PREFIX_BYTES = 6  # 12 hex characters: what lists show and lookups use
SECRET_BYTES = 32
# last_used_at is written at most this often per key: a busy key costs no write per request.
TOUCH_EVERY = timedelta(minutes=1)
MAX_ACTIVE_KEYS = 25
STAFF = frozenset({UserRole.admin, UserRole.moderator})
# How long the claims a key's request is checked with live (they never leave the process).
_CLAIMS_TTL = timedelta(minutes=5)

INVALID_KEY = "Incorrect API key provided. Create one in your account page (API keys)."
REVOKED_KEY = "This API key has been revoked."


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    return f"{KEY_START}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}", prefix


def prefix_of(key: str) -> str | None:
    """The prefix of something shaped like one of our keys, else None."""
    if not key.startswith(KEY_START):
        return None
    prefix, sep, secret = key[len(KEY_START) :].partition("_")
    if not sep or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix


def _read(row: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=[Scope(s) for s in row.scopes],
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def create(session: AsyncSession, user: User, body: ApiKeyCreate, client: Client) -> ApiKeyCreated:
    """A new key for ``user``: the response is the only time the whole key is seen."""
    if user.is_guest:
        raise Forbidden("A guest cannot have API keys: register first")
    scopes = sorted(set(body.scopes), key=list(Scope).index)
    if Scope.admin_read in scopes and user.role not in STAFF:
        raise Forbidden("Only staff may give a key the admin_read scope")
    active = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_ACTIVE_KEYS:
        raise Conflict(f"You have {MAX_ACTIVE_KEYS} active keys, the most allowed: revoke one first")
    key, prefix = new_key()
    row = ApiKey(
        user_id=user.id, name=body.name, prefix=prefix, key_hash=hash_key(key), scopes=[str(s) for s in scopes]
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    audit.record(
        session,
        "api_key.created",
        actor_user_id=user.id,
        target_type="api_key",
        target_id=row.id,
        client=client,
        details={"prefix": prefix, "scopes": row.scopes},
    )
    return ApiKeyCreated(**_read(row).model_dump(), key=key)


async def list_for(session: AsyncSession, user_id: int) -> list[ApiKeyRead]:
    """The user's keys, newest first, revoked ones too (when a leaked key was last used matters)."""
    rows = await session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc()))
    return [_read(r) for r in rows]


async def _revoke(session: AsyncSession, row: ApiKey, actor: User, client: Client, action: str) -> None:
    if row.revoked_at is not None:
        return  # already revoked: nothing changes, and nothing to audit
    row.revoked_at = datetime.now(UTC)
    audit.record(
        session,
        action,
        actor_user_id=actor.id,
        target_type="api_key",
        target_id=row.id,
        client=client,
        details={"prefix": row.prefix, "owner_user_id": row.user_id},
    )
    await session.flush()


async def revoke_own(session: AsyncSession, user: User, key_id: int, client: Client) -> None:
    """Revoke one of the user's keys (at once: every request checks its key). Another user's key
    is a 404, as a key that does not exist."""
    row = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if row is None:
        raise NotFound("No such API key")
    await _revoke(session, row, user, client, "api_key.revoked")


def _admin_read(row: ApiKey, email: str) -> AdminApiKeyRead:
    return AdminApiKeyRead(**_read(row).model_dump(), user_id=row.user_id, user_email=email)


async def admin_list(
    session: AsyncSession,
    actor: User,
    client: Client,
    *,
    user_id: int | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AdminApiKeyRead], str | None]:
    """Every user's keys, newest first, by owner and state. Audited as a staff read."""
    stmt = select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).order_by(ApiKey.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    if active is not None:
        stmt = stmt.where(ApiKey.revoked_at.is_(None) if active else ApiKey.revoked_at.is_not(None))
    if cursor:
        stmt = stmt.where(ApiKey.id < decode_cursor(cursor, int4)[0])
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    items = [_admin_read(key, email) for key, email in rows[:limit]]
    audit.record(
        session,
        "admin.api_keys_read",
        actor_user_id=actor.id,
        target_type="user" if user_id is not None else "api_key",
        target_id=user_id,
        client=client,
    )
    return items, encode_cursor(items[-1].id) if len(rows) > limit else None


async def admin_revoke(session: AsyncSession, actor: User, key_id: int, client: Client) -> AdminApiKeyRead:
    row = (
        await session.execute(
            select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).where(ApiKey.id == key_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such API key")
    key, email = row
    await _revoke(session, key, actor, client, "admin.api_key_revoked")
    return _admin_read(key, email)


@dataclass(frozen=True, slots=True)
class KeyCaller:
    """A request's checked key and its user."""

    key_id: int
    user_id: int
    email: str
    role: UserRole
    language: str
    scopes: frozenset[str]

    def claims(self) -> TokenClaims:
        """The claims a chat turn checks its caller with (chat.service.begin): the key has been
        checked already, so a fresh id (never revoked) and the time of the request; the turn's
        own statement still checks the account (active, consent to processing) as for any token.
        A password change leaves keys working, as it does a GitHub or OpenAI key: revoke them."""
        now = datetime.now(UTC)
        return TokenClaims(
            sub=str(self.user_id),
            email=self.email,
            role=self.role.value,
            type="access",
            exp=now + _CLAIMS_TTL,
            iat=now,
            jti=uuid.uuid4(),
        )


_LOOKUP = text(
    """
    SELECT k.id, k.user_id, k.key_hash, k.scopes, k.revoked_at, k.last_used_at,
           u.email, u.language, CAST(u.role AS text) AS role, CAST(u.status AS text) AS status
    FROM api_keys k JOIN users u ON u.id = k.user_id
    WHERE k.prefix = :prefix
    """
)
# Conditional, so two instances (or requests) within the same minute write it once.
_TOUCH = text(
    """
    UPDATE api_keys SET last_used_at = now()
    WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => :every))
    """
)


async def authenticate(runtime: Runtime, key: str, scope: Scope) -> KeyCaller:
    """The key's caller, checked on every request (so a revoked key, or a deleted or suspended
    user's, stops at once): 401 for a key that is not one, or revoked; 403 for a suspended account
    or a key without ``scope``. One read; a write only when last_used_at is a minute old."""
    prefix = prefix_of(key)
    if prefix is None:
        raise Unauthorized(INVALID_KEY)
    async with single_statement(runtime.engine) as conn:
        row = (await conn.execute(_LOOKUP, {"prefix": prefix})).first()
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
            raise Unauthorized(INVALID_KEY)
        if row.revoked_at is not None:
            raise Unauthorized(REVOKED_KEY)
        problem = status_problem(UserStatus(row.status))
        if problem:
            raise Forbidden(problem)
        if scope.value not in row.scopes:
            raise Forbidden(f"This API key does not have the '{scope.value}' scope")
        now = datetime.now(UTC)
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            await conn.execute(_TOUCH, {"id": row.id, "every": TOUCH_EVERY.total_seconds()})
    return KeyCaller(
        key_id=row.id,
        user_id=row.user_id,
        email=row.email,
        role=UserRole(row.role),
        language=row.language,
        scopes=frozenset(row.scopes),
    )
