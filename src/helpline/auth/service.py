"""Accounts and sessions: registration, login, refresh-token rotation, logout."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.schemas import RegisterRequest
from helpline.auth.throttle import LoginThrottle
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import Conflict, ConsentRequired, Forbidden, Unauthorized
from helpline.core.runtime import Runtime
from helpline.core.security import InvalidToken, TokenClaims
from helpline.models import (
    ConsentRecord,
    ConsentType,
    RefreshToken,
    RevokedAccessToken,
    User,
    UserRole,
    UserStatus,
)

INVALID_CREDENTIALS = "Invalid email/username or password"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    user: User


@dataclass(frozen=True)
class RefreshReuse:
    """A rotated refresh token came back: the whole login family has been revoked."""

    detail: str = (
        "This refresh token was already used. For your safety every session of this login "
        "has been signed out; please log in again."
    )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Caller:
    """A checked caller (auth.dependencies.fetch_caller): what chat and knowledge-base reads use of
    the user, without an ORM entity."""

    id: int
    language: str
    role: UserRole
    # Consent to the processing of their messages (privacy): chat refuses a caller without it.
    processing_consent: bool = True


CONSENT_REQUIRED = (
    "You have withdrawn your consent to the processing of your messages, so the assistant cannot "
    "answer. Give it again in your account's privacy settings (PUT /api/v1/privacy/consents)."
)


def require_consent(caller: Caller) -> None:
    if not caller.processing_consent:
        raise ConsentRequired(CONSENT_REQUIRED)


def status_problem(status: UserStatus) -> str | None:
    """Why an account with this status may not be served, or None when it may."""
    if status is UserStatus.suspended:
        return "This account is suspended. Contact an administrator."
    if status is UserStatus.inactive:
        return "This account is inactive."
    return None


ACCOUNT_GONE = "This account no longer exists"


def check_access(
    claims: TokenClaims, *, revoked: bool, password_changed_at: datetime | None, status: UserStatus
) -> None:
    """The checks every request's token and account pass, once its account row is found."""
    if revoked:
        raise Unauthorized("Token has been revoked; log in again")
    if password_changed_at and claims.iat < password_changed_at.replace(microsecond=0):
        raise Unauthorized("Password changed since this token was issued; log in again")
    problem = status_problem(status)
    if problem:
        raise Forbidden(problem)


async def find_by_login(session: AsyncSession, identifier: str) -> User | None:
    ident = identifier.strip().lower()
    stmt = select(User).where(or_(User.email == ident, func.lower(User.username) == ident))
    return (await session.execute(stmt)).scalars().first()


async def username_for(session: AsyncSession, email: str) -> str:
    base = "".join(ch for ch in email.split("@", 1)[0] if ch.isalnum() or ch in "._-")[:40]
    base = base.lstrip("._-") or "user"
    if len(base) < 3:
        base = (base + "user")[:40]
    candidate = base
    for _ in range(5):
        taken = await session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.username) == candidate.lower())
        )
        if not taken:
            return candidate
        candidate = f"{base}{secrets.randbelow(10**6):06d}"
    return f"{base}{secrets.token_hex(4)}"


async def create_user(
    session: AsyncSession,
    runtime: Runtime,
    *,
    email: str,
    password: str,
    username: str | None = None,
    role: UserRole = UserRole.user,
    **fields: object,
) -> User:
    """Insert a user; Conflict if the email or username (case-insensitive) is taken."""
    email = email.strip().lower()
    exists = await session.scalar(select(User.id).where(User.email == email))
    if exists:
        raise Conflict("An account with this email already exists.")
    if username:
        taken = await session.scalar(select(User.id).where(func.lower(User.username) == username.lower()))
        if taken:
            raise Conflict("This username is taken.")
    else:
        username = await username_for(session, email)
    user = User(
        email=email,
        username=username,
        hashed_password=await runtime.hasher.hash(password),
        role=role,
        **fields,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same email or username.
        raise Conflict("An account with this email or username already exists.") from None
    return user


async def register(session: AsyncSession, runtime: Runtime, data: RegisterRequest, client: Client) -> User:
    """Create an account and record the consents given, with the policy version and origin."""
    user = await create_user(
        session,
        runtime,
        email=str(data.email),
        password=data.password,
        username=data.username,
        first_name=data.first_name,
        last_name=data.last_name,
        language=data.language,
        timezone=data.timezone,
        gdpr_consent=data.gdpr_consent,
        data_processing_consent=data.data_processing_consent,
        marketing_consent=data.marketing_consent,
    )
    record_registration(session, runtime, user.id, data, client)
    return user


def record_registration(
    session: AsyncSession,
    runtime: Runtime,
    user_id: int,
    data: RegisterRequest,
    client: Client,
    *,
    from_guest: bool = False,
) -> None:
    """The consents a registration gave and its audit entry (a new account, or a guest's)."""
    record_consents(
        session,
        runtime,
        user_id,
        {
            ConsentType.gdpr: data.gdpr_consent,
            ConsentType.data_processing: data.data_processing_consent,
            ConsentType.marketing: data.marketing_consent,
        },
        client,
        source="registration",
    )
    details = {"from_guest": True} if from_guest else None
    audit.record(session, "user.registered", actor_user_id=user_id, client=client, details=details)


def record_consents(
    session: AsyncSession,
    runtime: Runtime,
    user_id: int,
    consents: dict[ConsentType, bool],
    client: Client,
    *,
    source: str | None = None,
) -> None:
    for kind, granted in consents.items():
        session.add(
            ConsentRecord(
                user_id=user_id,
                consent_type=kind,
                granted=granted,
                policy_version=runtime.settings.auth.policy_version,
                ip_address=client.ip,
                user_agent=client.user_agent,
                source=source,
            )
        )


async def issue_tokens(
    session: AsyncSession, runtime: Runtime, user: User, family_id: uuid.UUID, client: Client
) -> tuple[TokenPair, uuid.UUID]:
    cfg = runtime.settings.auth
    access_ttl = timedelta(minutes=cfg.access_token_minutes)
    # A guest's session is short: an idle widget visitor is signed out after guest_session_hours.
    refresh_ttl = (
        timedelta(hours=runtime.settings.widget.guest_session_hours)
        if user.is_guest
        else timedelta(days=cfg.refresh_token_days)
    )
    access, _ = runtime.tokens.encode(
        user_id=user.id,
        email=user.email,
        role=user.role.value,
        type="access",
        ttl=access_ttl,
        jti=uuid.uuid4(),
        sid=family_id,
    )
    refresh_jti = uuid.uuid4()
    refresh, claims = runtime.tokens.encode(
        user_id=user.id,
        email=user.email,
        role=user.role.value,
        type="refresh",
        ttl=refresh_ttl,
        jti=refresh_jti,
        sid=family_id,
    )
    session.add(
        RefreshToken(
            jti=refresh_jti,
            family_id=family_id,
            user_id=user.id,
            expires_at=claims.exp,
            ip_address=client.ip,
            user_agent=client.user_agent,
        )
    )
    return TokenPair(access, refresh, access_ttl, refresh_ttl, user), refresh_jti


async def login(
    session: AsyncSession,
    runtime: Runtime,
    throttle: LoginThrottle,
    identifier: str,
    password: str,
    client: Client,
) -> TokenPair:
    """Check the password (same cost whether or not the account exists) and start a session."""
    await throttle.check(identifier, client.ip)
    user = await find_by_login(session, identifier)
    ok = await runtime.hasher.verify(password, user.hashed_password if user else None)
    if not ok or user is None:
        await throttle.failed(identifier, client.ip)
        raise Unauthorized(INVALID_CREDENTIALS)
    await throttle.succeeded(identifier)
    if runtime.hasher.needs_rehash(user.hashed_password):
        # Keep every stored hash at the configured cost, so a change of cost applies to
        # existing accounts too and known and unknown emails keep costing the same time.
        user.hashed_password = await runtime.hasher.hash(password)
    problem = status_problem(user.status)
    if problem:
        raise Forbidden(problem)
    user.last_login = _now()
    pair, _ = await issue_tokens(session, runtime, user, uuid.uuid4(), client)
    audit.record(
        session,
        "auth.login",
        actor_user_id=user.id,
        client=client,
    )
    return pair


def _decode(runtime: Runtime, token: str, kind: str) -> TokenClaims:
    try:
        return runtime.tokens.decode(token, "refresh" if kind == "refresh" else "access")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


async def refresh(session: AsyncSession, runtime: Runtime, token: str, client: Client) -> TokenPair | RefreshReuse:
    """Rotate a refresh token. A token used twice revokes its whole family (theft signal).

    Reuse is returned, not raised, so the request still commits the revocation."""
    claims = _decode(runtime, token, "refresh")
    row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti).with_for_update())
    if row is None or row.user_id != claims.user_id:
        raise Unauthorized("Invalid token")
    if row.revoked_at is not None and row.replaced_by is None:
        raise Unauthorized("This refresh token has been revoked; log in again")
    if row.revoked_at is not None:
        await _revoke_family(session, row.family_id)
        audit.record(
            session,
            "auth.refresh_reuse",
            actor_user_id=row.user_id,
            target_type="refresh_family",
            target_id=row.family_id,
            client=client,
        )
        return RefreshReuse()
    user = await session.get(User, row.user_id)
    if user is None:
        raise Unauthorized("Invalid token")
    problem = status_problem(user.status)
    if problem:
        raise Forbidden(problem)
    pair, new_jti = await issue_tokens(session, runtime, user, row.family_id, client)
    row.revoked_at = _now()
    row.replaced_by = new_jti
    return pair


async def logout(
    session: AsyncSession,
    runtime: Runtime,
    access_token: str | None,
    refresh_token: str | None,
    client: Client,
) -> None:
    """Revoke the refresh token's family and the access token's jti (until it expires)."""
    user_id: int | None = None
    if access_token:
        claims = _decode(runtime, access_token, "access")
        user_id = claims.user_id
        await session.execute(
            pg_insert(RevokedAccessToken)
            .values(jti=claims.jti, user_id=claims.user_id, expires_at=claims.exp)
            .on_conflict_do_nothing()
        )
    if refresh_token:
        rclaims = _decode(runtime, refresh_token, "refresh")
        if user_id is not None and rclaims.user_id != user_id:
            raise Unauthorized("The refresh token belongs to another user")
        user_id = rclaims.user_id
        row = await session.get(RefreshToken, rclaims.jti)
        if row is not None:
            await _revoke_family(session, row.family_id)
    if user_id is None:
        raise Unauthorized("Give the access token (Authorization header) or the refresh token to log out")
    # Revoked access tokens matter only until they expire; keep the table small.
    await session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < _now()))
    audit.record(session, "auth.logout", actor_user_id=user_id, client=client)


async def revoke_all_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
