"""The moderation queue: users' messages flagged by the chat's moderation (chat.service) or by
staff, and the reviews deciding on them.

A message is in the queue while its metadata says ``flagged`` (models.chat.FLAGGED_SQL); it is
pending until it has a review. One review decides; a second one is refused (409) unless an
administrator overrules with a different decision, which adds a review (the latest counts).
Overruling records a decision only: an account suspended by an earlier review is reinstated on
the users page, deliberately, not as a side effect of a dismissal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.errors import BadRequest, Conflict, Forbidden, NotFound
from helpline.models import Message, MessageType, ModerationDecision, ModerationReview, User, UserRole, UserStatus
from helpline.models.chat import FLAGGED_SQL
from helpline.moderation.schemas import (
    Author,
    FlagCreate,
    ModerationCategories,
    ModerationCategory,
    QueueItem,
    QueueStatus,
    ReviewCreate,
    ReviewRead,
)
from helpline.users.service import set_status

STAFF_SOURCE = "staff"

# Written as the partial index's predicate, literally: the planner then uses the index.
_FLAGGED = text(FLAGGED_SQL)
_author = aliased(User, name="author")
_reviewer = aliased(User, name="reviewer")
_latest = (
    select(
        ModerationReview.id,
        ModerationReview.decision,
        ModerationReview.note,
        ModerationReview.reviewer_user_id,
        ModerationReview.created_at,
    )
    .where(ModerationReview.message_id == Message.id)
    .order_by(ModerationReview.id.desc())
    .limit(1)
    .lateral("latest")
)
_QUEUE: Select[Any] = (
    select(
        Message.id,
        Message.conversation_id,
        Message.content,
        Message.meta,
        Message.created_at,
        _author.id.label("author_id"),
        _author.email,
        _author.username,
        _author.role,
        _author.status,
        _author.is_guest,
        _latest.c.id.label("review_id"),
        _latest.c.decision,
        _latest.c.note,
        _latest.c.reviewer_user_id,
        _latest.c.created_at.label("reviewed_at"),
        _reviewer.username.label("reviewer_username"),
    )
    .select_from(Message)
    .outerjoin(_author, _author.id == Message.user_id)
    .outerjoin(_latest, true())
    .outerjoin(_reviewer, _reviewer.id == _latest.c.reviewer_user_id)
    .where(_FLAGGED)
)


def _item(row: Any) -> QueueItem:
    moderation = (row.meta or {}).get("moderation") or {}
    categories = moderation.get("categories")
    return QueueItem(
        message_id=row.id,
        conversation_id=row.conversation_id,
        author=None
        if row.author_id is None
        else Author(
            id=row.author_id,
            email=row.email,
            username=row.username,
            role=row.role,
            status=row.status,
            is_guest=row.is_guest,
        ),
        text=row.content,
        categories=[str(c) for c in categories] if isinstance(categories, list) else [],
        source=str(moderation.get("source") or "unknown"),
        flag_note=moderation.get("note"),
        created_at=row.created_at,
        review=None
        if row.review_id is None
        else ReviewRead(
            id=row.review_id,
            decision=row.decision,
            note=row.note,
            reviewer_id=row.reviewer_user_id,
            reviewer_username=row.reviewer_username,
            created_at=row.reviewed_at,
        ),
    )


def queue_statement(*, status: QueueStatus, category: str | None, cursor: str | None, limit: int) -> Select[Any]:
    """The queue page's query: ``limit + 1`` rows, to know whether there is a next page."""
    stmt = _QUEUE.order_by(Message.id.desc()).limit(limit + 1)
    if status == "pending":
        stmt = stmt.where(_latest.c.id.is_(None))
    elif status == "reviewed":
        stmt = stmt.where(_latest.c.id.is_not(None))
    if category:
        stmt = stmt.where(Message.meta[("moderation", "categories")].contains([category]))
    if cursor:
        (before,) = decode_cursor(cursor, int4)
        stmt = stmt.where(Message.id < before)
    return stmt


async def list_queue(
    session: AsyncSession, *, status: QueueStatus, category: str | None, cursor: str | None, limit: int
) -> tuple[list[QueueItem], str | None]:
    """Flagged messages, newest first; keyset on the message id (the partial index's order)."""
    stmt = queue_statement(status=status, category=category, cursor=cursor, limit=limit)
    rows = list((await session.execute(stmt)).all())
    more = len(rows) > limit
    items = [_item(r) for r in rows[:limit]]
    return items, (encode_cursor(items[-1].message_id) if more and items else None)


async def get_item(session: AsyncSession, message_id: int) -> QueueItem:
    row = (await session.execute(_QUEUE.where(Message.id == message_id))).first()
    if row is None:
        raise NotFound("No flagged message with this id")
    return _item(row)


_CATEGORIES = text(
    f"""
    SELECT category,
           count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM moderation_reviews r WHERE r.message_id = m.id)),
           count(*)
    FROM (SELECT id, metadata FROM messages WHERE {FLAGGED_SQL}) AS m,
         jsonb_array_elements_text(
             CASE WHEN jsonb_typeof(m.metadata -> 'moderation' -> 'categories') = 'array'
                  THEN m.metadata -> 'moderation' -> 'categories' ELSE '[]'::jsonb END
         ) AS category
    GROUP BY category
    ORDER BY category
    """  # noqa: S608 - a constant, no user input
)


_PENDING = text(
    f"""
    SELECT count(*) FROM messages m
    WHERE {FLAGGED_SQL} AND NOT EXISTS (SELECT 1 FROM moderation_reviews r WHERE r.message_id = m.id)
    """  # noqa: S608 - a constant, no user input
)


async def category_counts(session: AsyncSession) -> ModerationCategories:
    """Every category of a flagged message, with how many are pending and in all; and how many
    messages are pending."""
    rows = (await session.execute(_CATEGORIES)).all()
    pending = await session.scalar(_PENDING)
    return ModerationCategories(
        items=[ModerationCategory(category=c, pending=p, total=t) for c, p, t in rows], pending=pending or 0
    )


@dataclass(frozen=True)
class Reviewed:
    item: QueueItem
    # The author's id when this review suspended them: their chat sockets close after the commit.
    suspended_user_id: int | None


async def _flagged_for_update(session: AsyncSession, message_id: int) -> Message:
    # Locked: two moderators reviewing the same message at once cannot both see it pending.
    msg = await session.scalar(select(Message).where(Message.id == message_id, _FLAGGED).with_for_update())
    if msg is None:
        raise NotFound("No flagged message with this id")
    return msg


async def review(session: AsyncSession, actor: User, message_id: int, data: ReviewCreate, client: Client) -> Reviewed:
    """Record ``actor``'s decision on a flagged message (audited); ``suspend_user`` suspends its
    author too, ending their sessions. A moderator cannot suspend staff, nobody themselves."""
    msg = await _flagged_for_update(session, message_id)
    latest = await session.scalar(
        select(ModerationReview)
        .where(ModerationReview.message_id == message_id)
        .order_by(ModerationReview.id.desc())
        .limit(1)
    )
    if latest is not None:
        if actor.role is not UserRole.admin:
            raise Conflict("This message was already reviewed; only an administrator can change the decision.")
        if latest.decision is data.decision:
            raise Conflict(f"This message was already reviewed with the decision {data.decision.value}.")
    suspended: int | None = None
    if data.decision is ModerationDecision.suspend_user:
        suspended = await _suspend_author(session, actor, msg, client)
    row = ModerationReview(
        message_id=message_id, reviewer_user_id=actor.id, decision=data.decision, note=data.note or None
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        "moderation.reviewed",
        actor_user_id=actor.id,
        target_type="message",
        target_id=message_id,
        client=client,
        details={
            "decision": data.decision.value,
            "review_id": row.id,
            "overrules": latest.decision.value if latest else None,
        },
    )
    return Reviewed(await get_item(session, message_id), suspended)


async def _suspend_author(session: AsyncSession, actor: User, msg: Message, client: Client) -> int | None:
    author = None if msg.user_id is None else await session.get(User, msg.user_id, with_for_update=True)
    if author is None:
        raise BadRequest("This message has no author to suspend.")
    if author.id == actor.id:
        raise BadRequest("You cannot suspend your own account.")
    if author.role is not UserRole.user and actor.role is not UserRole.admin:
        raise Forbidden("Only an administrator can suspend a staff account.")
    if author.status is UserStatus.suspended:
        return None
    await set_status(session, author, UserStatus.suspended)
    audit.record(
        session,
        "moderation.user_suspended",
        actor_user_id=actor.id,
        target_id=author.id,
        client=client,
        details={"message_id": msg.id},
    )
    return author.id


async def flag(session: AsyncSession, actor: User, message_id: int, data: FlagCreate, client: Client) -> QueueItem:
    """Put a user's message in the queue by hand, with a category and a note (audited). It is
    then also left out of the history the model sees, as messages the moderation flagged are."""
    msg = await session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if msg is None:
        raise NotFound("No message with this id")
    if msg.message_type is not MessageType.user:
        raise BadRequest("Only users' messages are moderated; answers are checked by the output moderation.")
    meta = dict(msg.meta or {})
    if meta.get("flagged"):
        raise Conflict("This message is already flagged: it is in the moderation queue.")
    meta["flagged"] = True
    meta["moderation"] = {"flagged": True, "categories": [data.category], "source": STAFF_SOURCE, "note": data.note}
    msg.meta = meta
    await session.flush()
    audit.record(
        session,
        "moderation.flagged",
        actor_user_id=actor.id,
        target_type="message",
        target_id=message_id,
        client=client,
        details={"category": data.category},
    )
    return await get_item(session, message_id)
