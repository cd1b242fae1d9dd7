"""Whether a token may be served: the one rule, its SQL form, and the two caller loaders.

Every request's token and account pass ``refusal`` (in Python, after reading the account) or
``ALLOWED_SQL`` (inside a chat turn's own statement, which stores nothing for an account that may
not be served). The SQL is generated here from the same rule, and tests/auth/test_access.py runs
every case through both.

Two loaders read a caller: ``load_user`` (the ORM user, for routes that change or show the
account) and ``load_caller`` (a few columns in one statement, for chat and knowledge-base reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from helpline.core.db import single_statement
from helpline.core.errors import AppError, ConsentRequired, Forbidden, Unauthorized
from helpline.core.identity import Caller
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import RevokedAccessToken, RevokedSession, User, UserStatus

ACCOUNT_GONE = "This account no longer exists"
REVOKED = "Token has been revoked; log in again"
PASSWORD_CHANGED = "Password changed since this token was issued; log in again"  # noqa: S105 (a message)
CONSENT_REQUIRED = (
    "You have withdrawn your consent to the processing of your messages, so the assistant cannot "
    "answer. Give it again in your account's privacy settings (PUT /api/v1/privacy/consents)."
)


def status_problem(status: UserStatus) -> str | None:
    """Why an account with this status may not be served, or None when it may."""
    if status is UserStatus.suspended:
        return "This account is suspended. Contact an administrator."
    if status is UserStatus.inactive:
        return "This account is inactive."
    return None


@dataclass(frozen=True, slots=True)
class Account:
    """What the rule reads of an account, however it was read."""

    status: UserStatus
    password_changed_at: datetime | None
    revoked: bool  # the token, by its jti, or its login, by its sid
    # To the processing of their messages (privacy; a widget guest always has it): only a chat
    # turn asks for it.
    consent: bool = True


def refusal(claims: TokenClaims, account: Account, *, needs_consent: bool = False) -> AppError | None:
    """Why the token may not be served for this account, or None when it may. The order of the
    checks decides which error a caller failing several sees (the turn's SQL only says whether)."""
    if account.revoked:
        return Unauthorized(REVOKED)
    # Tokens carry whole seconds: a change in the second a token was issued does not refuse it.
    if account.password_changed_at and claims.iat < account.password_changed_at.replace(microsecond=0):
        return Unauthorized(PASSWORD_CHANGED)
    problem = status_problem(account.status)
    if problem:
        return Forbidden(problem)
    if needs_consent and not account.consent:
        return ConsentRequired(CONSENT_REQUIRED)
    return None


def check_access(claims: TokenClaims, account: Account, *, needs_consent: bool = False) -> None:
    """``refusal``, raised."""
    error = refusal(claims, account, needs_consent=needs_consent)
    if error is not None:
        raise error


def require_consent(caller: Caller) -> None:
    if not caller.processing_consent:
        raise ConsentRequired(CONSENT_REQUIRED)


def _allowed_sql() -> str:
    """``refusal(..., needs_consent=True) is None`` over the columns of ``CALLER_SQL``'s ``caller``
    (status as text), with the token's issue time bound as ``:issued_at``."""
    served = ", ".join(f"'{s.value}'" for s in UserStatus if status_problem(s) is None)
    return (
        f"NOT revoked AND status IN ({served}) AND consent"
        " AND (password_changed_at IS NULL OR date_trunc('second', password_changed_at) <= :issued_at)"
    )


# Constant SQL (built from the enum at import time): every value is a bound parameter.
ALLOWED_SQL = _allowed_sql()
# The account behind the token as a chat turn reads it in its own statement (the columns of
# load_caller's statement, bound :user_id, :jti, :sid, :issued_at), and ``allowed``: one row
# (its language) when it may be served (the rule above), none when not. The turn then stores
# nothing, and tells why with ``refusal`` over the row it read.
CALLER_SQL = f"""
    caller AS (
        SELECT u.language, CAST(u.status AS text) AS status, u.password_changed_at,
               (u.data_processing_consent OR u.is_guest) AS consent,
               (EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = :jti)
                OR EXISTS (SELECT 1 FROM revoked_sessions s WHERE s.sid = :sid)) AS revoked
        FROM users u WHERE u.id = :user_id
    ),
    allowed AS (
        SELECT language FROM caller WHERE {ALLOWED_SQL}
    ),"""  # noqa: S608 (constant text)


async def load_user(session: AsyncSession, claims: TokenClaims) -> User:
    """The token's user, checked on every request: exists, not revoked, active, password unchanged."""
    revoked: ColumnElement[bool] = exists().where(RevokedAccessToken.jti == claims.jti)
    if claims.sid is not None:
        revoked = or_(revoked, exists().where(RevokedSession.sid == claims.sid))
    row = (await session.execute(select(User, revoked).where(User.id == claims.user_id))).first()
    if row is None:
        raise Unauthorized(ACCOUNT_GONE)
    user, is_revoked = row
    check_access(claims, Account(status=user.status, password_changed_at=user.password_changed_at, revoked=is_revoked))
    return user


_users = User.__table__.c
# Built once: Core columns (no ORM entity, identity map or session), bound per call.
_CALLER = select(
    _users.id,
    _users.language,
    _users.role,
    _users.status,
    _users.password_changed_at,
    or_(
        exists().where(RevokedAccessToken.__table__.c.jti == bindparam("jti")),
        exists().where(RevokedSession.__table__.c.sid == bindparam("sid")),
    ),
    # A widget guest has no account to consent with: the widget's own terms cover their chat.
    or_(_users.data_processing_consent, _users.is_guest),
).where(_users.id == bindparam("user_id"))


async def load_caller(db: AsyncSession | AsyncConnection | Runtime, claims: TokenClaims) -> Caller:
    """``load_user``'s checks (same errors) in one statement of only the columns the checks and
    their callers need: through the request's session or a connection, or, given the runtime, on
    a short connection of its own returned to the pool at once (chat, whose requests last as long
    as an answer, holds no session meanwhile)."""
    if isinstance(db, Runtime):
        async with single_statement(db.engine) as conn:
            return await load_caller(conn, claims)
    row = (await db.execute(_CALLER, {"user_id": claims.user_id, "jti": claims.jti, "sid": claims.sid})).first()
    if row is None:
        raise Unauthorized(ACCOUNT_GONE)
    user_id, language, role, status, password_changed_at, revoked, consent = row
    check_access(claims, Account(status=status, password_changed_at=password_changed_at, revoked=revoked))
    return Caller(id=user_id, language=language, role=role, processing_consent=consent)
