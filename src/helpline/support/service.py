"""Human handoff: a conversation goes from the assistant to a person (asked for, or by a rule),
an agent claims it (exclusively), replies, keeps internal notes, resolves it or hands it back.

While a person has it (waiting_for_agent, with_agent) the assistant does not answer: the user's
messages are stored for the agent (chat.service relays them here). Every change is a row in the
conversation (a system message the user sees as a notice) and a ``Notice`` published after the
commit (live.publish). Functions take the request's session and flush, never commit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpline.chat.schemas import MessageRead
from helpline.core import audit
from helpline.core.audit import NO_CLIENT, Client
from helpline.core.config import SupportSettings
from helpline.core.errors import Conflict, NotFound
from helpline.models import (
    Conversation,
    ConversationNote,
    Handoff,
    HandoffStatus,
    Message,
    MessageFeedback,
    MessageStatus,
    MessageType,
    User,
)
from helpline.support.hours import is_open, parse_hours
from helpline.support.live import Notice
from helpline.support.schemas import (
    AgentConversation,
    Expectation,
    HandoffState,
    InboxItem,
    NoteRead,
)

WITH_PERSON = (HandoffStatus.waiting_for_agent, HandoffStatus.with_agent)
AGENT_MODEL = "agent"  # model_used of a person's reply
InboxView = Literal["waiting", "mine", "active", "resolved"]

# The notice stored in the conversation at each change (English; clients show their own words
# from metadata.handoff.status).
_NOTICES = {
    HandoffStatus.waiting_for_agent: "The conversation was handed to a person.",
    HandoffStatus.with_agent: "{agent} joined the conversation.",
    HandoffStatus.resolved: "{agent} marked the conversation resolved.",
    HandoffStatus.bot: "The assistant answers again.",
}


def display_name(user: User | None) -> str | None:
    if user is None:
        return None
    return user.first_name or user.username


def expectation(settings: SupportSettings, *, email: bool, now: datetime | None = None) -> Expectation:
    """The honest expectation: within opening hours (or with none set) "a person usually replies
    within N minutes"; outside them the hours, and that the reply is emailed."""
    now = now or datetime.now(UTC)
    if settings.opening_hours:
        local = now.astimezone(ZoneInfo(settings.timezone))
        if not is_open(parse_hours(settings.opening_hours), local):
            return Expectation(
                kind="closed", opening_hours=settings.opening_hours, timezone=settings.timezone, email=email
            )
    return Expectation(kind="reply_within", minutes=settings.reply_within_minutes, email=email)


def state(settings: SupportSettings, conv: Conversation, *, agent_name: str | None, email: bool) -> HandoffState:
    waiting = conv.handoff_status in WITH_PERSON
    return HandoffState(
        status=conv.handoff_status,
        expectation=expectation(settings, email=email) if waiting else None,
        agent_name=agent_name if waiting else None,
        escalated_at=conv.escalated_at,
    )


def message_read(m: Message) -> MessageRead:
    return MessageRead.of(m)


async def add_message(session: AsyncSession, conv: Conversation, message: Message) -> Message:
    """Store a message in a conversation outside a chat turn (a notice, a person's reply, a
    message relayed to a person), keeping the conversation's counters."""
    session.add(message)
    conv.message_count = conv.message_count + 1
    conv.last_message_at = func.now()
    await session.flush()
    await session.refresh(message)
    await session.refresh(conv)
    return message


async def _notice(
    session: AsyncSession,
    settings: SupportSettings,
    conv: Conversation,
    *,
    agent: User | None = None,
    reason: str | None = None,
    email: bool = False,
) -> Notice:
    """Store the change as a system message and make the event that tells the user."""
    status = conv.handoff_status
    name = display_name(agent)
    meta: dict[str, Any] = {"handoff": {"status": status.value, "reason": reason, "agent_name": name}}
    message = await add_message(
        session,
        conv,
        Message(
            conversation_id=conv.id,
            user_id=conv.user_id,
            content=_NOTICES[status].format(agent=name or "A person"),
            message_type=MessageType.system,
            status=MessageStatus.sent,
            meta=meta,
        ),
    )
    handoff = state(settings, conv, agent_name=name, email=email)
    data = {"message": message_read(message).model_dump(mode="json"), "handoff": handoff.model_dump(mode="json")}
    return Notice("handoff", conv.user_id, conv.id, message.id, data)


async def can_email(session: AsyncSession, conv: Conversation) -> bool:
    """Whether a reply can reach the user by email: a guest's given address, or an account's own."""
    if conv.contact_email:
        return True
    user = await session.get(User, conv.user_id)
    return user is not None and not user.is_guest and bool(user.email)


async def escalate(
    session: AsyncSession,
    settings: SupportSettings,
    conv: Conversation,
    reason: str,
    *,
    email: str | None = None,
) -> list[Notice]:
    """Hand the conversation to a person (no change if a person has it already; a guest's
    ``email`` is kept for the reply either way)."""
    if email:
        conv.contact_email = email
    if conv.handoff_status in WITH_PERSON:
        await session.flush()
        return []
    conv.handoff_status = HandoffStatus.waiting_for_agent
    conv.escalated_at = func.now()
    conv.assigned_agent_id = None
    conv.claimed_at = None
    session.add(Handoff(conversation_id=conv.id, reason=reason))
    await session.flush()
    return [await _notice(session, settings, conv, reason=reason, email=await can_email(session, conv))]


async def owned(session: AsyncSession, user_id: int, conversation_id: int, *, lock: bool = False) -> Conversation:
    stmt = select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    conv = await session.scalar(stmt.with_for_update() if lock else stmt)
    if conv is None:
        raise NotFound("No such conversation")
    return conv


async def handed_over(session: AsyncSession, conversation_id: int, *, lock: bool = False) -> Conversation:
    """A conversation that has been handed to a person at some time (what agents may see), or 404."""
    stmt = select(Conversation).where(Conversation.id == conversation_id, Conversation.escalated_at.is_not(None))
    conv = await session.scalar(stmt.with_for_update() if lock else stmt)
    if conv is None:
        raise NotFound("No such conversation in the inbox")
    return conv


async def user_state(session: AsyncSession, settings: SupportSettings, conv: Conversation) -> HandoffState:
    agent = await session.get(User, conv.assigned_agent_id) if conv.assigned_agent_id else None
    return state(settings, conv, agent_name=display_name(agent), email=await can_email(session, conv))


async def _open_handoff(session: AsyncSession, conversation_id: int) -> Handoff | None:
    return await session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.ended_at.is_(None))
    )


async def claim(
    session: AsyncSession, settings: SupportSettings, agent: User, conversation_id: int, client: Client = NO_CLIENT
) -> list[Notice]:
    """Take a waiting conversation. Exclusive: one conditional UPDATE, so of agents claiming at
    once exactly one gets it (the others' UPDATE, re-checked after the winner commits, changes
    nothing: 409)."""
    claimed = await session.scalar(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.handoff_status == HandoffStatus.waiting_for_agent)
        .values(
            handoff_status=HandoffStatus.with_agent,
            assigned_agent_id=agent.id,
            claimed_at=func.now(),
            updated_at=func.now(),
        )
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        conv = await handed_over(session, conversation_id)
        if conv.handoff_status is HandoffStatus.with_agent:
            raise Conflict("Another agent has already claimed this conversation")
        raise Conflict("This conversation is not waiting for an agent")
    conv = await handed_over(session, conversation_id)
    await session.refresh(conv)
    await session.execute(
        update(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.ended_at.is_(None))
        .values(agent_id=agent.id, claimed_at=func.now())
    )
    _audit(session, "support.claimed", agent, conv, client)
    return [await _notice(session, settings, conv, agent=agent, email=await can_email(session, conv))]


def _audit(session: AsyncSession, action: str, agent: User, conv: Conversation, client: Client, **details: Any) -> None:
    """Staff actions on a user's conversation go to the audit trail (as moderation's do)."""
    audit.record(
        session,
        action,
        actor_user_id=agent.id,
        target_type="conversation",
        target_id=conv.id,
        client=client,
        details={"user_id": conv.user_id, **details},
    )


def _require_mine(conv: Conversation, agent: User) -> None:
    if conv.handoff_status is not HandoffStatus.with_agent:
        raise Conflict("Claim the conversation before answering it")
    if conv.assigned_agent_id != agent.id:
        raise Conflict("Another agent has this conversation")


async def reply(
    session: AsyncSession,
    settings: SupportSettings,
    agent: User,
    conversation_id: int,
    content: str,
    client: Client = NO_CLIENT,
) -> tuple[Message, list[Notice]]:
    """A person's reply: stored as an assistant message marked ``metadata.author = "agent"``."""
    content = content.strip()
    if not content:
        from helpline.core.errors import Unprocessable

        raise Unprocessable("content: must not be empty")
    conv = await handed_over(session, conversation_id, lock=True)
    _require_mine(conv, agent)
    name = display_name(agent)
    message = await add_message(
        session,
        conv,
        Message(
            conversation_id=conv.id,
            user_id=conv.user_id,
            content=content,
            message_type=MessageType.assistant,
            status=MessageStatus.sent,
            model_used=AGENT_MODEL,
            meta={"author": "agent", "agent": {"id": agent.id, "name": name}},
        ),
    )
    await session.execute(
        update(Handoff)
        .where(Handoff.conversation_id == conv.id, Handoff.ended_at.is_(None), Handoff.first_reply_at.is_(None))
        .values(first_reply_at=func.now())
    )
    _audit(session, "support.replied", agent, conv, client, message_id=message.id)
    data = {"message": message_read(message).model_dump(mode="json"), "agent_name": name}
    return message, [Notice("agent", conv.user_id, conv.id, message.id, data)]


async def _end(
    session: AsyncSession,
    settings: SupportSettings,
    agent: User,
    conversation_id: int,
    *,
    status: HandoffStatus,
    outcome: str,
    client: Client = NO_CLIENT,
) -> list[Notice]:
    conv = await handed_over(session, conversation_id, lock=True)
    if conv.handoff_status not in WITH_PERSON:
        raise Conflict("This conversation is not with a person")
    if conv.handoff_status is HandoffStatus.with_agent and conv.assigned_agent_id != agent.id:
        raise Conflict("Another agent has this conversation")
    conv.handoff_status = status
    conv.assigned_agent_id = None
    await session.execute(
        update(Handoff)
        .where(Handoff.conversation_id == conv.id, Handoff.ended_at.is_(None))
        .values(ended_at=func.now(), outcome=outcome, agent_id=func.coalesce(Handoff.agent_id, agent.id))
    )
    await session.flush()
    _audit(session, f"support.{outcome}", agent, conv, client)
    return [await _notice(session, settings, conv, agent=agent)]


async def resolve(
    session: AsyncSession, settings: SupportSettings, agent: User, conversation_id: int, client: Client = NO_CLIENT
) -> list[Notice]:
    """The person is done: resolved. If the user writes again, the assistant answers."""
    return await _end(
        session, settings, agent, conversation_id, status=HandoffStatus.resolved, outcome="resolved", client=client
    )


async def release(
    session: AsyncSession, settings: SupportSettings, agent: User, conversation_id: int, client: Client = NO_CLIENT
) -> list[Notice]:
    """Hand the conversation back to the assistant."""
    return await _end(
        session, settings, agent, conversation_id, status=HandoffStatus.bot, outcome="handed_back", client=client
    )


async def add_note(
    session: AsyncSession, agent: User, conversation_id: int, body: str, client: Client = NO_CLIENT
) -> NoteRead:
    conv = await handed_over(session, conversation_id)
    note = ConversationNote(conversation_id=conv.id, author_id=agent.id, body=body.strip())
    session.add(note)
    await session.flush()
    _audit(session, "support.note_added", agent, conv, client, note_id=note.id)
    await session.refresh(note)
    return NoteRead(
        id=note.id, author_id=agent.id, author_name=display_name(agent), body=note.body, created_at=note.created_at
    )


async def notes(session: AsyncSession, conversation_id: int) -> list[NoteRead]:
    author = aliased(User)
    rows = await session.execute(
        select(ConversationNote, author)
        .outerjoin(author, author.id == ConversationNote.author_id)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(ConversationNote.id)
    )
    return [
        NoteRead(id=n.id, author_id=n.author_id, author_name=display_name(a), body=n.body, created_at=n.created_at)
        for n, a in rows
    ]


def _last_message() -> Any:
    return (
        select(Message.content)
        .where(Message.conversation_id == Conversation.id, Message.message_type != MessageType.system)
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )


def _last_reason() -> Any:
    return (
        select(Handoff.reason)
        .where(Handoff.conversation_id == Conversation.id)
        .order_by(Handoff.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )


async def inbox(session: AsyncSession, agent: User, view: InboxView, limit: int = 100) -> list[InboxItem]:
    """The queue: waiting conversations (longest wait first), the agent's own, all with a person,
    or the recently resolved."""
    owner, assignee = aliased(User), aliased(User)
    stmt = (
        select(Conversation, owner, assignee, _last_message(), _last_reason())
        .join(owner, owner.id == Conversation.user_id)
        .outerjoin(assignee, assignee.id == Conversation.assigned_agent_id)
        .where(Conversation.escalated_at.is_not(None))
        .limit(limit)
    )
    if view == "waiting":
        stmt = stmt.where(Conversation.handoff_status == HandoffStatus.waiting_for_agent)
    elif view == "mine":
        stmt = stmt.where(
            Conversation.handoff_status == HandoffStatus.with_agent, Conversation.assigned_agent_id == agent.id
        )
    elif view == "active":
        stmt = stmt.where(Conversation.handoff_status.in_(WITH_PERSON))
    else:
        stmt = stmt.where(Conversation.handoff_status == HandoffStatus.resolved)
    stmt = stmt.order_by(
        Conversation.updated_at.desc().nulls_last() if view == "resolved" else Conversation.escalated_at.asc()
    )
    now = datetime.now(UTC)
    items = []
    for conv, user, agent_user, last, reason in await session.execute(stmt):
        since = conv.escalated_at or now
        until = now if conv.handoff_status is HandoffStatus.waiting_for_agent else (conv.claimed_at or now)
        items.append(
            InboxItem(
                conversation_id=conv.id,
                title=conv.title,
                language=conv.language,
                status=conv.handoff_status,
                reason=reason,
                escalated_at=conv.escalated_at,
                wait_seconds=max(0, int((until - since).total_seconds())),
                agent_id=conv.assigned_agent_id,
                agent_name=display_name(agent_user),
                user_name=display_name(user) or "?",
                is_guest=user.is_guest,
                message_count=conv.message_count,
                last_message=(last or "")[:200] or None,
                last_message_at=conv.last_message_at,
            )
        )
    return items


async def agent_view(session: AsyncSession, conversation_id: int, limit: int = 500) -> AgentConversation:
    conv = await handed_over(session, conversation_id)
    user = await session.get(User, conv.user_id)
    assert user is not None  # the conversation goes with its user (CASCADE)
    agent = await session.get(User, conv.assigned_agent_id) if conv.assigned_agent_id else None
    rows = list(
        await session.scalars(
            select(Message).where(Message.conversation_id == conv.id).order_by(Message.id.desc()).limit(limit)
        )
    )
    return AgentConversation(
        conversation_id=conv.id,
        title=conv.title,
        language=conv.language,
        status=conv.handoff_status,
        reason=await session.scalar(
            select(Handoff.reason).where(Handoff.conversation_id == conv.id).order_by(Handoff.id.desc()).limit(1)
        ),
        escalated_at=conv.escalated_at,
        claimed_at=conv.claimed_at,
        agent_id=conv.assigned_agent_id,
        agent_name=display_name(agent),
        user_id=user.id,
        user_name=display_name(user) or "?",
        user_email=conv.contact_email or (None if user.is_guest else user.email),
        is_guest=user.is_guest,
        messages=[message_read(m) for m in reversed(rows)],
        notes=await notes(session, conv.id),
    )


async def mark_seen(session: AsyncSession, user_id: int, conversation_id: int, up_to: int) -> int:
    """The user has seen the people's replies up to ``up_to``: they are not emailed."""
    conv = await owned(session, user_id, conversation_id)
    result = await session.execute(
        update(Message)
        .where(
            Message.conversation_id == conv.id,
            Message.id <= up_to,
            Message.read_at.is_(None),
            Message.model_used == AGENT_MODEL,
            Message.message_type == MessageType.assistant,
        )
        .values(read_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def request(
    session: AsyncSession, settings: SupportSettings, user: User, conversation_id: int, email: str | None
) -> tuple[HandoffState, list[Notice]]:
    """The user asks for a person (the button; after "Not helpful")."""
    if not settings.enabled:
        raise Conflict("Handing conversations over to a person is turned off here")
    conv = await owned(session, user.id, conversation_id, lock=True)
    notices = await escalate(session, settings, conv, "user", email=email)
    return await user_state(session, settings, conv), notices


async def claim_and_view(
    session: AsyncSession, settings: SupportSettings, agent: User, conversation_id: int, client: Client = NO_CLIENT
) -> tuple[AgentConversation, list[Notice]]:
    notices = await claim(session, settings, agent, conversation_id, client)
    return await agent_view(session, conversation_id), notices


async def end_and_view(
    session: AsyncSession,
    settings: SupportSettings,
    agent: User,
    conversation_id: int,
    how: Literal["resolve", "release"],
    client: Client = NO_CLIENT,
) -> tuple[AgentConversation, list[Notice]]:
    notices = await (resolve if how == "resolve" else release)(session, settings, agent, conversation_id, client)
    return await agent_view(session, conversation_id), notices


async def after_feedback(
    session: AsyncSession, settings: SupportSettings, message_id: int, helpful: bool
) -> tuple[bool, list[Notice]]:
    """After "Not helpful": whether to offer a person (True), or the rule (repeated "Not
    helpful", setting escalate_after_not_helpful) handed the conversation over already."""
    if helpful or not settings.enabled:
        return False, []
    conv = await session.scalar(
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Message.id == message_id)
        .with_for_update(of=Conversation)
    )
    if conv is None or conv.handoff_status in WITH_PERSON:
        return False, []
    threshold = settings.escalate_after_not_helpful
    if threshold > 0:
        since = select(func.coalesce(func.max(Message.id), 0)).where(
            Message.conversation_id == conv.id, Message.message_type == MessageType.system
        )
        count = await session.scalar(
            select(func.count())
            .select_from(MessageFeedback)
            .join(Message, Message.id == MessageFeedback.message_id)
            .where(
                Message.conversation_id == conv.id,
                MessageFeedback.helpful.is_(False),
                Message.id > since.scalar_subquery(),
            )
        )
        if (count or 0) >= threshold:
            return False, await escalate(session, settings, conv, "not_helpful")
    return True, []
