"""Erasing an account (GDPR art. 17): every row of the user goes (one DELETE, the foreign keys
CASCADE: conversations, messages and the moderation reviews of them, feedback, votes, unanswered
questions, tokens, consents, exports and their archives; reviews the user wrote as staff stay,
their reviewer SET NULL), the audit trail keeps what happened under a keyed pseudonym, and
the stores outside PostgreSQL forget the user: answer streams and per-user rate-limit windows
in Redis (or in process), login-throttle entries, export jobs still running."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import structlog
from asgi_correlation_id import correlation_id
from sqlalchemy import and_, case, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.dependencies import get_throttles
from helpline.core.audit import Client
from helpline.core.errors import BadRequest, Conflict, Forbidden, NotFound
from helpline.core.runtime import Runtime
from helpline.models import AuditLog, Conversation, Message, PrivacyExport, User, UserRole
from helpline.platform.throttle import account_key

log = structlog.get_logger(__name__)

ERASED_PREFIX = "erased:"


def pseudonym(runtime: Runtime, user_id: int) -> str:
    """The same for one user every time (their trail stays linkable), not reversible without the
    secret key: HMAC-SHA256 of the id."""
    key = runtime.settings.secret_key().encode()
    return hmac.new(key, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


async def _pseudonymise_audit(session: AsyncSession, user_id: int, alias: str) -> None:
    """The one UPDATE the audit_log trigger allows (migration 0008), for this transaction only."""
    audit = AuditLog.__table__.c
    is_target = and_(audit.target_type == "user", audit.target_id == str(user_id))
    by_user = audit.actor_user_id == user_id
    # The address and browser of a row are the user's when they acted, or when nobody signed in
    # did (a login attempt on their account): those go; an administrator's stay.
    theirs = or_(by_user, audit.actor_user_id.is_(None))
    await session.execute(text("SELECT set_config('helpline.audit_pseudonymise', 'on', true)"))
    await session.execute(
        update(AuditLog)
        .where(or_(by_user, is_target))
        .values(
            actor_user_id=case((by_user, None), else_=audit.actor_user_id),
            actor_pseudonym=case((by_user, alias), else_=audit.actor_pseudonym),
            target_id=case((is_target, ERASED_PREFIX + alias), else_=audit.target_id),
            ip_address=case((theirs, None), else_=audit.ip_address),
            user_agent=case((theirs, None), else_=audit.user_agent),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(text("SELECT set_config('helpline.audit_pseudonymise', 'off', true)"))


async def erase_account(session: AsyncSession, runtime: Runtime, user: User, *, by: User | None, client: Client) -> str:
    """Delete ``user`` and everything of theirs; ``by`` is the administrator doing it (None: the
    user themself). Returns the pseudonym their audit trail now carries. The stores outside the
    database are cleared before the request commits: if the commit fails the user keeps their
    data and has only lost rate-limit windows and finished answer streams."""
    user_id, email, username = user.id, user.email, user.username
    alias = pseudonym(runtime, user_id)
    message_ids = list(
        (
            await session.scalars(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.user_id == user_id)
            )
        ).all()
    )
    export_ids = list((await session.scalars(select(PrivacyExport.id).where(PrivacyExport.user_id == user_id))).all())
    await _pseudonymise_audit(session, user_id, alias)
    await session.delete(user)
    await session.flush()
    session.add(
        AuditLog(
            action="privacy.account_erased",
            actor_user_id=by.id if by else None,
            actor_pseudonym=None if by else alias,
            target_type="user",
            target_id=ERASED_PREFIX + alias,
            # The user's own address is not kept once they are gone; an administrator's is.
            ip_address=client.ip if by else None,
            user_agent=client.user_agent if by else None,
            details={"by": "admin" if by else "self", "messages": len(message_ids)},
            request_id=correlation_id.get(),
        )
    )
    await _forget_outside_database(runtime, user_id, (email, username), message_ids, export_ids)
    return alias


async def _forget_outside_database(
    runtime: Runtime,
    user_id: int,
    logins: tuple[str, ...],
    message_ids: list[int],
    export_ids: list[uuid.UUID],
) -> None:
    from helpline.jobs.functions import export_key
    from helpline.jobs.service import abort_jobs

    # A queued export would find its row gone anyway; this stops one that is running.
    await abort_jobs(runtime, [export_key(e) for e in export_ids], "the account was erased")
    await runtime.hub.erase(message_ids)
    try:
        await runtime.chat_limiter.clear(user_id)
        await runtime.api_limiter.clear_user(user_id)
        # Failed logins count on the account (and on identifiers that matched none).
        throttle = (await get_throttles(runtime)).login
        for key in (account_key(user_id, ""), *(account_key(None, login) for login in logins)):
            await throttle.succeeded(key)
    except Exception as exc:  # windows expire by themselves; the erasure goes on
        log.warning("privacy.erasure_store_unavailable", error=repr(exc)[:200])


async def check_admin_erasure(session: AsyncSession, actor: User, user_id: int) -> User:
    """The account an administrator may erase: not their own, never the last administrator."""
    if user_id == actor.id:
        raise BadRequest("Administrators cannot erase their own account here: use DELETE /api/v1/users/me")
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No user with this id")
    if user.role is UserRole.admin and await _admins(session) <= 1:
        raise Conflict("This is the last administrator; promote another account first.")
    return user


async def _admins(session: AsyncSession) -> int:
    """How many administrators there are, their rows locked until the transaction ends: two
    erasures racing (two admins erasing each other) cannot both see a second admin left."""
    ids = (await session.scalars(select(User.id).where(User.role == UserRole.admin).with_for_update())).all()
    return len(ids)


async def check_self_erasure(session: AsyncSession, runtime: Runtime, user: User, password: str) -> None:
    if user.is_guest:
        raise Forbidden("Guests have no password: their data is deleted when they stop using the widget.")
    if not await runtime.hasher.verify(password, user.hashed_password):
        raise Forbidden("current_password is not correct")
    if user.role is UserRole.admin and await _admins(session) <= 1:
        raise Conflict("You are the last administrator; promote another account before erasing yours.")
