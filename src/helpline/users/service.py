"""A user's own account, and staff management of accounts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.service import record_consents, revoke_all_sessions, verify_current_password
from helpline.auth.throttle import LoginThrottle
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import BadRequest, Conflict, Forbidden, NotFound
from helpline.core.runtime import Runtime
from helpline.models import ConsentType, User, UserRole
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
    for key in ("language", "timezone", "username", "email"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null")
    if "marketing_consent" in changes and changes["marketing_consent"] != user.marketing_consent:
        record_consents(session, runtime, user.id, {ConsentType.marketing: changes["marketing_consent"]}, client)
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
    session: AsyncSession, *, q: str | None, cursor: int | None, limit: int
) -> tuple[list[User], int | None]:
    stmt = select(User).order_by(User.id).limit(limit + 1)
    if cursor is not None:
        stmt = stmt.where(User.id > cursor)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.email.like(pattern), func.lower(User.username).like(pattern)))
    rows = list((await session.scalars(stmt)).all())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def admin_update(session: AsyncSession, actor: User, user_id: int, data: AdminUserUpdate, client: Client) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if user.id == actor.id and (changes.get("role", UserRole.admin) is not UserRole.admin or "status" in changes):
        raise BadRequest("Administrators cannot demote or suspend themselves")
    if user.is_guest and changes.get("role", UserRole.user) is not UserRole.user:
        raise Conflict("A guest cannot be given a staff role: they must register an account first.")
    for key, value in changes.items():
        setattr(user, key, value)
    if "status" in changes:
        await revoke_all_sessions(session, user.id)
    audit.record(
        session,
        "admin.user_updated",
        actor_user_id=actor.id,
        target_id=user.id,
        client=client,
        details={k: str(v) for k, v in changes.items()},
    )
    await session.flush()
    return user
