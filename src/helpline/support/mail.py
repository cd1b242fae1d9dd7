"""A person's reply the user has not seen: emailed to them (the notifications package's mail, kind
``human_reply``, which the user may turn off in their notification settings). A guest from the
widget gets it at the address they gave. Queued by the reply, delayed by
HELPLINE_SUPPORT_EMAIL_AFTER_SECONDS, one job per conversation at a time (its key): every reply
still unseen and not mailed yet goes in one mail, then counts as delivered."""

from __future__ import annotations

from sqlalchemy import func, select, update

from helpline.core.runtime import Runtime
from helpline.models import Conversation, Message, MessageType, User, UserStatus
from helpline.notifications.mail import MailUndeliverable, compose, deliver
from helpline.notifications.settings import wants
from helpline.support.service import AGENT_MODEL


async def reply_mail(runtime: Runtime, conversation_id: int) -> str:
    """Mail the unseen replies; "skipped" when there are none (seen live, or mailed already) or
    the user turned these mails off, "gone" without an address or an active account."""
    async with runtime.sessionmaker() as session, session.begin():
        conv = await session.get(Conversation, conversation_id)
        user = await session.get(User, conv.user_id) if conv is not None else None
        if conv is None or user is None or user.status != UserStatus.active:
            return "gone"
        to = conv.contact_email or (None if user.is_guest else user.email)
        if not to:
            return "gone"
        if not user.is_guest and not await wants(session, user.id, "email", "human_reply"):
            return "skipped"
        replies = list(
            await session.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conv.id,
                    Message.message_type == MessageType.assistant,
                    Message.model_used == AGENT_MODEL,
                    Message.read_at.is_(None),
                    Message.delivered_at.is_(None),
                )
                .order_by(Message.id)
            )
        )
        if not replies:
            return "skipped"
        agent = (replies[-1].meta or {}).get("agent", {}).get("name") or "Support"
        name = None if user.is_guest else (user.first_name or user.username)
        link = f"{runtime.settings.base_url}/chat/{conv.id}" if not user.is_guest else None
        message = compose(
            "human_reply",
            conv.language or user.language,
            to,
            runtime.settings.mail.sender,
            name=name,
            agent=agent,
            replies=[m.content for m in replies],
            link=link,
            title=conv.title or "",
        )
        try:
            where = await deliver(runtime.settings.mail, runtime.settings.outbox_dir, message)
        except MailUndeliverable:
            return "undeliverable"
        await session.execute(
            update(Message).where(Message.id.in_([m.id for m in replies])).values(delivered_at=func.now())
        )
    return where
