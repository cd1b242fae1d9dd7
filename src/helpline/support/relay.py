"""A chat turn while a person has the conversation (or one that asks for a person): the user's
message is stored for the agent and the assistant does not answer. Called by chat.service.begin
only off its one-statement path: a conversation the assistant answers costs nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from helpline.auth.access import load_caller, require_consent
from helpline.core.errors import Conflict, NotFound
from helpline.core.ratelimit import Quota
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import Conversation, HandoffStatus, Message, MessageStatus, MessageType
from helpline.support import live, service
from helpline.support.rules import Rule, rule_on
from helpline.support.schemas import HandoffState


@dataclass(frozen=True, slots=True)
class Relayed:
    """The user's message was stored for a person; no answer from the assistant follows."""

    conversation_id: int
    user_message_id: int
    created_at: datetime
    handoff: HandoffState
    quota: Quota | None = None


async def relay(
    runtime: Runtime,
    *,
    claims: TokenClaims,
    content: str,
    conversation_id: int | None,
    language: str | None,
    title: str,
    reason: str | None,
    user_meta: dict[str, Any] | None = None,
    client_id: str | None = None,
) -> Relayed | None:
    """Store the message for a person: in a conversation a person has, or (``reason`` given) in
    one handed over by this very message. None: the conversation is the assistant's after all
    (a race with a hand-back), so the caller answers it as usual."""
    caller = await load_caller(runtime, claims)  # the account checks the turn's statement makes
    require_consent(caller)
    settings = runtime.settings.support
    max_messages = runtime.settings.limits.conversation_max_messages
    async with runtime.sessionmaker() as session, session.begin():
        if conversation_id is None:
            conv = Conversation(user_id=caller.id, title=title, language=language or caller.language or "en")
            session.add(conv)
            await session.flush()
            await session.refresh(conv)
        else:
            conv_or_none = await session.scalar(
                select(Conversation)
                .where(Conversation.id == conversation_id, Conversation.user_id == caller.id)
                .with_for_update()
            )
            if conv_or_none is None:
                raise NotFound("No such conversation")
            conv = conv_or_none
            if reason is None and conv.handoff_status not in service.WITH_PERSON:
                return None
        if conv.message_count + 1 > max_messages:
            raise Conflict(
                f"This conversation has reached its limit of {max_messages} messages; start a new conversation."
            )
        if language:
            conv.language = language
        conv.is_active = True
        message = await service.add_message(
            session,
            conv,
            Message(
                conversation_id=conv.id,
                user_id=caller.id,
                content=content,
                message_type=MessageType.user,
                status=MessageStatus.sent,
                meta=user_meta,
                client_id=client_id,
            ),
        )
        notices = await service.escalate(session, settings, conv, reason) if reason else []
        handoff = await service.user_state(session, settings, conv)
        relayed = Relayed(conv.id, message.id, message.created_at, handoff)
    await live.publish(runtime, notices)
    return relayed


async def escalate_by_rule(runtime: Runtime, conversation_id: int, reason: Rule) -> None:
    """A rule hands the conversation over ("I don't know" twice, a flagged message), if it is on
    here (support.rules.rule_on): in a transaction of its own, then the user is told."""
    if not rule_on(runtime.settings.support, reason):
        return
    async with runtime.sessionmaker() as session, session.begin():
        conv = await session.scalar(select(Conversation).where(Conversation.id == conversation_id).with_for_update())
        if conv is None or conv.handoff_status in service.WITH_PERSON:
            return
        notices = await service.escalate(session, runtime.settings.support, conv, reason)
    await live.publish(runtime, notices)


async def after_dont_know(runtime: Runtime, conversation_id: int) -> None:
    """The assistant said "I don't know" (no source): the second time in a conversation (setting
    escalate_after_no_source), a person takes over."""
    if not rule_on(runtime.settings.support, "no_source"):
        return
    threshold = runtime.settings.support.escalate_after_no_source
    since = select(func.max(Message.id)).where(
        Message.conversation_id == conversation_id, Message.message_type == MessageType.system
    )
    async with runtime.sessionmaker() as session:
        count = await session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.message_type == MessageType.assistant,
                Message.meta["guard"]["action"].astext == "dont_know",
                # Only since the conversation last changed hands (its last notice).
                Message.id > func.coalesce(since.scalar_subquery(), 0),
            )
            .order_by(Message.id.desc())
            .offset(threshold - 1)
            .limit(1)
        )
        status = await session.scalar(select(Conversation.handoff_status).where(Conversation.id == conversation_id))
    if count is not None and status is HandoffStatus.bot:
        await escalate_by_rule(runtime, conversation_id, "no_source")
