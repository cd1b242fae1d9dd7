"""Guest visitors of the embeddable widget: a real ``users`` row marked ``is_guest``, with no usable
password and a short session; it becomes a full account when the guest registers (keeping its
conversations) and is deleted with its data once idle for HELPLINE_WIDGET_GUEST_RETENTION_DAYS."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import jwt
import structlog
from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.access import load_user
from helpline.auth.schemas import RegisterRequest
from helpline.auth.service import (
    USERNAME_TAKEN,
    TokenPair,
    email_taken,
    issue_tokens,
    record_registration,
    revoke_all_sessions,
    username_for,
    username_taken,
)
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.db import session_scope
from helpline.core.errors import AppError, Conflict, Unauthorized
from helpline.core.runtime import Runtime
from helpline.core.security import InvalidToken, TokenClaims
from helpline.models import Conversation, RefreshToken, RevokedAccessToken, User, UserRole
from helpline.platform.throttle import RateLimit
from helpline.widget.access import check_widget

log = structlog.get_logger(__name__)

# Not a bcrypt hash: bcrypt refuses it as a salt, so no password ever verifies against it and a
# password login as a guest fails like any wrong password.
UNUSABLE_PASSWORD = "!guest: no password"  # noqa: S105 - deliberately unusable, not a secret
GUEST_DOMAIN = "guest.invalid"  # RFC 2606: can never be a real address, and registration refuses it
PURGE_BATCH = 500
EXPIRED = "Token has expired"  # InvalidToken's message for an expired token


async def create_guest(
    session: AsyncSession,
    runtime: Runtime,
    throttle: RateLimit,
    *,
    site_key: str | None,
    language: str,
    client: Client,
) -> TokenPair:
    """Start a guest session for a widget visitor, if the widget's settings allow it (404 widget
    off, 403 guests not allowed or wrong key, 429 too many from this address)."""
    check_widget(runtime.settings.widget, site_key, guest=True)
    await throttle.hit(client.ip or "unknown")
    handle = "guest-" + secrets.token_hex(8)
    user = User(
        email=f"{handle}@{GUEST_DOMAIN}",
        username=handle,
        hashed_password=UNUSABLE_PASSWORD,
        role=UserRole.user,
        language=language,
        is_guest=True,
        # Not registered: they have given no consent (chat does not require it).
        gdpr_consent=False,
        data_processing_consent=False,
        last_login=datetime.now(UTC),
    )
    session.add(user)
    await session.flush()
    pair, _ = await issue_tokens(session, runtime, user, uuid.uuid4(), client)
    audit.record(session, "auth.guest_started", actor_user_id=user.id, client=client)
    return pair


async def guest_to_register(session: AsyncSession, runtime: Runtime, token: str | None) -> TokenClaims | None:
    """The guest a registration turns into an account: the caller's, when the request carries a
    guest's valid access token. Any other token (none, a registered user's, revoked, garbage)
    leaves registration as it always was. An expired guest token is refused (401) rather than
    ignored, so the client refreshes and retries instead of silently leaving the conversations behind."""
    if not token:
        return None
    try:
        claims = runtime.tokens.decode(token, "access")
    except InvalidToken as exc:
        if str(exc) == EXPIRED and _claims_guest(token):
            raise Unauthorized("Your guest session has expired; refresh it and register again.") from None
        return None
    try:
        user = await load_user(session, claims)
    except AppError:
        return None
    return claims if user.is_guest else None


def _claims_guest(token: str) -> bool:
    # Unverified peek, only ever used to refuse (never to grant) the request.
    try:
        email = jwt.decode(token, options={"verify_signature": False}).get("email", "")
    except jwt.PyJWTError:
        return False
    return isinstance(email, str) and email.endswith("@" + GUEST_DOMAIN)


async def register_guest(
    session: AsyncSession, runtime: Runtime, guest: TokenClaims, data: RegisterRequest, client: Client
) -> User | None:
    """Turn a guest into a registered account: same row and id, so its conversations stay.

    Every guest token stops working (the account now has a password; the client logs in with
    it, as after any registration). A taken username is the usual 409; a taken email changes
    nothing and returns None, after the same bcrypt hash, for the same answer as a registration
    (auth.service.register)."""
    user = await session.scalar(
        select(User).where(User.id == guest.user_id).with_for_update().execution_options(populate_existing=True)
    )
    if user is None or not user.is_guest:
        raise Conflict("This guest session has already been turned into an account; log in instead.")
    email = str(data.email).strip().lower()
    if data.username and await username_taken(session, data.username, other_than=user.id):
        raise Conflict(USERNAME_TAKEN)
    hashed = await runtime.hasher.hash(data.password)  # spent on both paths, for the same timing
    if await email_taken(session, email, other_than=user.id):
        return None  # the router mails the address's owner (auth.verification.registration_mail)
    try:
        # One savepoint for the whole change: a lost race leaves the guest exactly as it was.
        async with session.begin_nested():
            now = datetime.now(UTC)
            user.email = email
            user.username = data.username or await username_for(session, email)
            user.hashed_password = hashed
            user.first_name = data.first_name
            user.last_name = data.last_name
            user.language = data.language
            user.timezone = data.timezone
            user.gdpr_consent = data.gdpr_consent
            user.data_processing_consent = data.data_processing_consent
            user.marketing_consent = data.marketing_consent
            user.is_guest = False
            # Access tokens issued before this instant are refused (see load_user), the one presented at
            # once (it may be from this very second), and the guest's logins with every token of theirs.
            user.password_changed_at = now
            await session.execute(
                pg_insert(RevokedAccessToken)
                .values(jti=guest.jti, user_id=user.id, expires_at=guest.exp)
                .on_conflict_do_nothing()
            )
            await revoke_all_sessions(session, user.id, access_tokens=True)
            await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same email or username: tell which.
        if await email_taken(session, email, other_than=user.id):
            return None
        raise Conflict(USERNAME_TAKEN) from None
    record_registration(session, runtime, user.id, data, client, from_guest=True)
    return user


async def purge_guests(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Delete guests idle for longer than the retention period, with their data; return how many.

    Idle means: created, last signed in (the guest start), last refreshed a token and last
    chatted all before the cutoff. Foreign keys cascade to conversations, messages, feedback,
    tokens and consents; the audit trail keeps actor ids as plain values, so it survives.
    Batches of their own transactions with SKIP LOCKED: several instances purging at once
    share the work instead of waiting on each other."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=runtime.settings.widget.guest_retention_days)
    idle = and_(
        User.is_guest,
        User.created_at < cutoff,
        or_(User.last_login.is_(None), User.last_login < cutoff),
        ~exists().where(RefreshToken.user_id == User.id, RefreshToken.created_at >= cutoff),
        ~exists().where(Conversation.user_id == User.id, Conversation.last_message_at >= cutoff),
    )
    total = 0
    while True:
        deleted: Sequence[int] = []
        batch = select(User.id).where(idle).order_by(User.id).limit(PURGE_BATCH).with_for_update(skip_locked=True)
        async for session in session_scope(runtime.sessionmaker):
            deleted = (await session.scalars(delete(User).where(User.id.in_(batch)).returning(User.id))).all()
            if deleted:
                audit.record(
                    session,
                    "guests.purged",
                    actor_user_id=None,
                    target_type=None,
                    details={
                        "count": len(deleted),
                        "retention_days": runtime.settings.widget.guest_retention_days,
                        "user_ids": list(deleted),
                    },
                )
        total += len(deleted)
        if len(deleted) < PURGE_BATCH:
            return total
