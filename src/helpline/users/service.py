"""A user's own account, and staff management of accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.access import status_problem
from helpline.auth.service import record_consents, revoke_all_sessions, verify_current_password
from helpline.chat.sockets import CLOSE_FORBIDDEN
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.errors import BadRequest, Conflict, Forbidden, NotFound
from helpline.core.runtime import Runtime
from helpline.models import ConsentType, User, UserRole, UserStatus
from helpline.platform.hub import Shutdown
from helpline.platform.throttle import LoginThrottle
from helpline.users.schemas import AdminUserUpdate, PasswordChange, UserUpdate

GUEST_REGISTER_FIRST = (
    "Guests have no password, email or username of their own: register (POST /api/v1/auth/register) first."
)


async def update_me(
    session: AsyncSession, runtime: Runtime, throttle: LoginThrottle, user: User, data: UserUpdate, client: Client
) -> User:
    changes = data.model_dump(exclude_unset=True, exclude={"current_password"})
    if user.is_guest and {"email", "username"} & changes.keys():
        raise Forbidden(GUEST_REGISTER_FIRST)
    if "email" in changes:
        await verify_current_password(runtime, throttle, user, data.current_password or "", client)
        changes["email"] = str(changes["email"]).lower()
    if "avatar_url" in changes and changes["avatar_url"] is not None:
        changes["avatar_url"] = str(changes["avatar_url"])
    for key in ("language", "timezone", "username", "email", "marketing_consent"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null")
    if "marketing_consent" in changes and changes["marketing_consent"] != user.marketing_consent:
        record_consents(session, runtime, user.id, {ConsentType.marketing: changes["marketing_consent"]}, client)
    if "email" in changes and changes["email"] != user.email:
        user.email_verified_at = None  # the new address is confirmed by the link mailed to it
    for key, value in changes.items():
        setattr(user, key, value)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("That email or username is already used by another account.") from None
    audit.record(
        session,
        "user.updated",
        actor_user_id=user.id,
        client=client,
        details={"fields": sorted(changes)},
    )
    return user


async def change_password(
    session: AsyncSession, runtime: Runtime, throttle: LoginThrottle, user: User, data: PasswordChange, client: Client
) -> None:
    """Set a new password and sign out every session (tokens issued before now stop working).
    Wrong current passwords count on the account's login lockout."""
    if user.is_guest:
        raise Forbidden(GUEST_REGISTER_FIRST)
    await verify_current_password(runtime, throttle, user, data.current_password, client)
    user.hashed_password = await runtime.hasher.hash(data.new_password)
    user.password_changed_at = datetime.now(UTC)
    await revoke_all_sessions(session, user.id, access_tokens=True)
    audit.record(
        session,
        "user.password_changed",
        actor_user_id=user.id,
        client=client,
    )


async def list_users(
    session: AsyncSession,
    actor: User,
    client: Client,
    *,
    q: str | None,
    cursor: str | None,
    limit: int,
    role: UserRole | None = None,
    status: UserStatus | None = None,
    guest: bool | None = None,
) -> tuple[list[User], str | None]:
    """A page of accounts in id order, found by an email or username substring and filtered by
    role, status and guest; ``cursor``: the previous page's next cursor (core.cursors). A staff
    read of personal data: audited (which filters, not their values: a search may be an email
    address)."""
    stmt = select(User).order_by(User.id).limit(limit + 1)
    if cursor:
        stmt = stmt.where(User.id > decode_cursor(cursor, int4)[0])
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.email.like(pattern), func.lower(User.username).like(pattern)))
    if role is not None:
        stmt = stmt.where(User.role == role)
    if status is not None:
        stmt = stmt.where(User.status == status)
    if guest is not None:
        stmt = stmt.where(User.is_guest.is_(guest))
    rows = list((await session.scalars(stmt)).all())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    given = {"q": q or None, "role": role, "status": status, "guest": guest, "cursor": cursor or None}
    audit.record(
        session,
        "admin.users_listed",
        actor_user_id=actor.id,
        target_type=None,
        client=client,
        details={"filters": sorted(k for k, v in given.items() if v is not None), "count": min(len(rows), limit)},
    )
    return rows[:limit], next_cursor


@dataclass(frozen=True)
class AdminUpdate:
    user: User
    # For the user's open chat WebSockets once the request has committed (the change is then in
    # force): set when the account may no longer be served.
    shutdown: Shutdown | None


async def admin_update(
    session: AsyncSession, actor: User, user_id: int, data: AdminUserUpdate, client: Client
) -> AdminUpdate:
    """An administrator changes an account's role or status (PATCH /api/v1/users/{id} and
    /api/v1/admin/users/{id}). A status change signs the user out; a suspension or deactivation
    also closes their sockets (``shutdown``)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if user.id == actor.id and (changes.get("role", UserRole.admin) is not UserRole.admin or "status" in changes):
        raise BadRequest("Administrators cannot demote or suspend themselves")
    if user.is_guest and changes.get("role", UserRole.user) is not UserRole.user:
        raise Conflict("A guest cannot be given a staff role: they must register an account first.")
    for key, value in changes.items():
        if key != "status":
            setattr(user, key, value)
    if "status" in changes:
        await set_status(session, user, changes["status"])
    audit.record(
        session,
        "admin.user_updated",
        actor_user_id=actor.id,
        target_id=user.id,
        client=client,
        details={k: str(v) for k, v in changes.items()},
    )
    await session.flush()
    await session.refresh(user)
    shutdown = status_shutdown(user.status) if "status" in changes else None
    return AdminUpdate(user, shutdown)


async def set_status(session: AsyncSession, user: User, status: UserStatus) -> None:
    """Give the account ``status`` and end every session of it. The caller closes the account's
    open chat WebSockets once the request committed (``status_shutdown``): the administrators'
    account changes and the moderation's suspensions alike."""
    user.status = status
    await revoke_all_sessions(session, user.id)


def status_shutdown(status: UserStatus) -> Shutdown | None:
    """How the chat WebSockets of an account given ``status`` are closed; None: they stay open."""
    problem = status_problem(status)
    return None if problem is None else Shutdown(CLOSE_FORBIDDEN, problem, f"account_{status.value}")
