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

from helpline.auth.access import status_problem
from helpline.auth.schemas import RegisterRequest
from helpline.auth.verification import NOT_VERIFIED
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import Conflict, Forbidden, Unauthorized
from helpline.core.runtime import Runtime
from helpline.core.security import DeviceCookie, InvalidToken, TokenClaims
from helpline.models import (
    ConsentRecord,
    ConsentType,
    RefreshToken,
    RevokedAccessToken,
    RevokedSession,
    User,
    UserRole,
)
from helpline.platform.throttle import LoginThrottle, RateLimit, account_key

INVALID_CREDENTIALS = "Invalid email/username or password"
EMAIL_TAKEN = "An account with this email already exists."
USERNAME_TAKEN = "This username is taken."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    user: User


@dataclass(frozen=True)
class RefreshReuse:
    """A rotated refresh token came back: the whole login family has been revoked (its open
    chat WebSockets are to be closed too)."""

    user_id: int
    family_id: uuid.UUID
    detail: str = (
        "This refresh token was already used. For your safety every session of this login "
        "has been signed out; please log in again."
    )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoginRefused:
    """A login refused after the password check: returned, not raised, so the request still
    commits the attempt's audit entry (a raised error rolls the transaction back)."""

    status_code: int
    error: str
    detail: str


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


async def username_taken(session: AsyncSession, username: str, *, other_than: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    if other_than is not None:
        stmt = stmt.where(User.id != other_than)
    return await session.scalar(stmt) is not None


async def email_taken(session: AsyncSession, email: str, *, other_than: int | None = None) -> bool:
    stmt = select(User.id).where(User.email == email.strip().lower())
    if other_than is not None:
        stmt = stmt.where(User.id != other_than)
    return await session.scalar(stmt) is not None


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
    """Insert a user (the CLI's and the first admin's); Conflict if the email or username
    (case-insensitive) is taken."""
    email = email.strip().lower()
    if await email_taken(session, email):
        raise Conflict(EMAIL_TAKEN)
    if username and await username_taken(session, username):
        raise Conflict(USERNAME_TAKEN)
    # An operator made this account: the address is taken as confirmed.
    fields.setdefault("email_verified_at", _now())
    user = await _insert_user(session, email, await runtime.hasher.hash(password), username, role=role, **fields)
    if user is None:
        raise Conflict(EMAIL_TAKEN)
    return user


async def _insert_user(
    session: AsyncSession, email: str, hashed_password: str, username: str | None, **fields: object
) -> User | None:
    """Insert the account; None if a concurrent registration took the email meanwhile, Conflict
    if it took the username."""
    user = User(
        email=email,
        username=username or await username_for(session, email),
        hashed_password=hashed_password,
        **fields,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same email or username: tell which.
        if await email_taken(session, email):
            return None
        raise Conflict(USERNAME_TAKEN) from None
    return user


async def register(session: AsyncSession, runtime: Runtime, data: RegisterRequest, client: Client) -> User | None:
    """Create an account and record the consents given, with the policy version and origin.

    None when the email already has an account: nothing changes, and the caller answers as for a
    new account, after the same bcrypt hash, so registration does not tell who has an account
    here. A taken username is a 409 (checked first, so it says nothing about the email):
    usernames are chosen and shown, not private."""
    email = str(data.email).strip().lower()
    if data.username and await username_taken(session, data.username):
        raise Conflict(USERNAME_TAKEN)
    hashed = await runtime.hasher.hash(data.password)  # spent on both paths, for the same timing
    if await email_taken(session, email):
        return None  # the router mails the address's owner (auth.verification.registration_mail)
    user = await _insert_user(
        session,
        email,
        hashed,
        data.username,
        first_name=data.first_name,
        last_name=data.last_name,
        language=data.language,
        timezone=data.timezone,
        gdpr_consent=data.gdpr_consent,
        data_processing_consent=data.data_processing_consent,
        marketing_consent=data.marketing_consent,
    )
    if user is not None:
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
    device: DeviceCookie | None = None,
) -> TokenPair | LoginRefused:
    """Check the password (same cost whether or not the account exists) and start a session.

    Failures count per account, whichever of its email or username was typed, and per client
    address; a client showing a device cookie of this account (it signed in here before) is
    limited on that cookie alone, so nobody else's failures lock the owner out (OWASP's device
    cookies). Unknown identifiers lock out exactly as accounts do.

    A wrong password and a suspended or inactive account are audited (an unknown identifier too,
    without it, so both paths cost the same) and returned as ``LoginRefused``."""
    user = await find_by_login(session, identifier)
    account = account_key(user.id if user else None, identifier)
    nonce = device.nonce if device is not None and user is not None and device.user_id == user.id else None
    if not await throttle.trusted(nonce):
        nonce = None
        await throttle.check(account, client.ip)
    ok = await runtime.hasher.verify(password, user.hashed_password if user else None)
    if not ok or user is None:
        await throttle.failed(account, client.ip, nonce)
        # Nobody is signed in: the account tried is the target. The identifier typed is never
        # kept (it may be an email address, or a password typed into the wrong field).
        audit.record(
            session,
            "auth.login_failed",
            actor_user_id=None,
            target_type="user" if user else None,
            target_id=user.id if user else None,
            client=client,
            details={"known_account": user is not None},
        )
        return LoginRefused(401, "unauthorized", INVALID_CREDENTIALS)
    await throttle.succeeded(account, nonce)
    if runtime.hasher.needs_rehash(user.hashed_password):
        # Keep every stored hash at the configured cost, so a change of cost applies to
        # existing accounts too and known and unknown emails keep costing the same time.
        user.hashed_password = await runtime.hasher.hash(password)
    problem = status_problem(user.status)
    if problem:
        audit.record(
            session, "auth.login_refused", actor_user_id=user.id, client=client, details={"status": user.status.value}
        )
        return LoginRefused(403, "forbidden", problem)
    if runtime.settings.auth.email_verification == "required" and not user.email_verified and not user.is_guest:
        audit.record(
            session, "auth.login_refused", actor_user_id=user.id, client=client, details={"email_verified": False}
        )
        return LoginRefused(403, "email_not_verified", NOT_VERIFIED)
    user.last_login = _now()
    pair, _ = await issue_tokens(session, runtime, user, uuid.uuid4(), client)
    audit.record(
        session,
        "auth.login",
        actor_user_id=user.id,
        client=client,
    )
    return pair


async def verify_current_password(
    runtime: Runtime, throttle: LoginThrottle, user: User, password: str, client: Client
) -> None:
    """A signed-in user's password, checked before a sensitive change: failures count on the
    account's login lockout (and the address's), so a stolen access token guesses no faster
    than a login form could. 403 when wrong, 429 while locked out."""
    account = account_key(user.id, "")
    await throttle.check(account, client.ip)
    if not await runtime.hasher.verify(password, user.hashed_password):
        await throttle.failed(account, client.ip)
        raise Forbidden("current_password is not correct")
    await throttle.succeeded(account)


def _decode(runtime: Runtime, token: str, kind: str) -> TokenClaims:
    try:
        return runtime.tokens.decode(token, "refresh" if kind == "refresh" else "access")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None


async def end_login(session: AsyncSession, runtime: Runtime, family_id: uuid.UUID, user_id: int) -> None:
    """Sign out one login: its refresh tokens, and every access token carrying its ``sid`` (until
    the last one issued, at the latest now, expires)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    until = _now() + timedelta(minutes=runtime.settings.auth.access_token_minutes)
    await session.execute(
        pg_insert(RevokedSession).values(sid=family_id, user_id=user_id, expires_at=until).on_conflict_do_nothing()
    )


async def refresh(
    session: AsyncSession, runtime: Runtime, throttle: RateLimit, token: str, client: Client
) -> TokenPair | RefreshReuse:
    """Rotate a refresh token. A token used twice revokes its whole family, access tokens
    included (theft signal). At most HELPLINE_AUTH_REFRESH_LIMIT_PER_IP per client address.

    Reuse is returned, not raised, so the request still commits the revocation."""
    await throttle.hit(client.ip or "unknown")
    claims = _decode(runtime, token, "refresh")
    row = await session.scalar(select(RefreshToken).where(RefreshToken.jti == claims.jti).with_for_update())
    if row is None or row.user_id != claims.user_id:
        raise Unauthorized("Invalid token")
    if row.revoked_at is not None and row.replaced_by is None:
        raise Unauthorized("This refresh token has been revoked; log in again")
    if row.revoked_at is not None:
        await end_login(session, runtime, row.family_id, row.user_id)
        audit.record(
            session,
            "auth.refresh_reuse",
            actor_user_id=row.user_id,
            target_type="refresh_family",
            target_id=row.family_id,
            client=client,
        )
        return RefreshReuse(row.user_id, row.family_id)
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
    """End the login of the tokens given: its refresh tokens and every access token issued to it
    (by their ``sid``; an access token from before sids existed is revoked by its jti)."""
    user_id: int | None = None
    logins: set[uuid.UUID] = set()
    if access_token:
        claims = _decode(runtime, access_token, "access")
        user_id = claims.user_id
        if claims.sid is not None:
            logins.add(claims.sid)
        else:
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
        if row is not None and row.user_id == user_id:
            logins.add(row.family_id)
    if user_id is None:
        raise Unauthorized("Give the access token (Authorization header) or the refresh token to log out")
    if await session.get(User, user_id) is None:
        # An erased account: its tokens already answer 401 everywhere and nothing of it is left to
        # end (recording a revocation for it would break the foreign key: a 500).
        return
    for family_id in sorted(logins):
        await end_login(session, runtime, family_id, user_id)
    # Revoked tokens and logins matter only until their access tokens expire; keep the tables small.
    await session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < _now()))
    await session.execute(delete(RevokedSession).where(RevokedSession.expires_at < _now()))
    audit.record(session, "auth.logout", actor_user_id=user_id, client=client)


async def end_every_login(session: AsyncSession, runtime: Runtime, user_id: int) -> int:
    """Sign the user out everywhere (an administrator's force logout): every refresh token, and
    every login that may still have an unexpired access token goes into revoked_sessions, as a
    logout does for one login. Returns how many logins still had live access tokens."""
    now = _now()
    ttl = timedelta(minutes=runtime.settings.auth.access_token_minutes)
    # A login's access tokens are issued with its refresh tokens: one whose newest refresh token
    # is older than an access token's lifetime has no access token left to refuse. A minute's
    # margin: created_at is the database's clock, ``now`` the application's.
    recent = (
        select(RefreshToken.family_id)
        .where(RefreshToken.user_id == user_id, RefreshToken.created_at > now - ttl - timedelta(minutes=1))
        .distinct()
    )
    families = list((await session.scalars(recent)).all())
    await revoke_all_sessions(session, user_id)
    if families:
        await session.execute(
            pg_insert(RevokedSession)
            .values([{"sid": sid, "user_id": user_id, "expires_at": now + ttl} for sid in families])
            .on_conflict_do_nothing()
        )
    return len(families)


# The longest an access token can live (HELPLINE_AUTH_ACCESS_TOKEN_MINUTES' upper bound).
LONGEST_ACCESS_TOKEN = timedelta(minutes=24 * 60)


async def revoke_all_sessions(session: AsyncSession, user_id: int, *, access_tokens: bool = False) -> None:
    """Revoke every refresh token of the user; with ``access_tokens``, their logins' access
    tokens too, at once, through their ``sid`` (after a password change: its
    ``password_changed_at`` check has one-second precision, so a token issued in the same second
    as the change would otherwise stay valid until it expires)."""
    families = (
        await session.scalars(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=_now())
            .returning(RefreshToken.family_id)
        )
    ).all()
    if not access_tokens:
        return
    until = _now() + LONGEST_ACCESS_TOKEN
    for family_id in sorted(set(families)):
        await session.execute(
            pg_insert(RevokedSession).values(sid=family_id, user_id=user_id, expires_at=until).on_conflict_do_nothing()
        )
