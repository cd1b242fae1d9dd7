from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


class UserRole(StrEnum):
    user = "user"
    moderator = "moderator"
    admin = "admin"


class UserStatus(StrEnum):
    active = "active"
    inactive = "inactive"
    suspended = "suspended"


class MessageType(StrEnum):
    user = "user"
    assistant = "assistant"
    system = "system"


class MessageStatus(StrEnum):
    pending = "pending"
    streaming = "streaming"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    partial = "partial"
    failed = "failed"


class HandoffStatus(StrEnum):
    """Who answers a conversation: the assistant, a person (waited for, or answering), or nobody
    any more (resolved by a person; the assistant answers again if the user writes)."""

    bot = "bot"
    waiting_for_agent = "waiting_for_agent"
    with_agent = "with_agent"
    resolved = "resolved"


class FAQStatus(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


class ModerationDecision(StrEnum):
    """A moderator's verdict on a flagged message."""

    dismiss = "dismiss"  # not abusive: the flag was wrong
    confirm = "confirm"  # abusive, no action on the account
    suspend_user = "suspend_user"  # abusive: the author's account is suspended


class PhrasingSuggestionStatus(StrEnum):
    """A phrasing suggested from a question whose answer was rated helpful, as staff decided."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class ConsentType(StrEnum):
    gdpr = "gdpr"
    data_processing = "data_processing"
    marketing = "marketing"
    analytics = "analytics"


def pg_enum(enum: type[StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type storing the members' values (the spec's lowercase names)."""
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)


user_role = pg_enum(UserRole, "user_role")
user_status = pg_enum(UserStatus, "user_status")
message_type = pg_enum(MessageType, "message_type")
message_status = pg_enum(MessageStatus, "message_status")
faq_status = pg_enum(FAQStatus, "faq_status")
consent_type = pg_enum(ConsentType, "consent_type")
moderation_decision = pg_enum(ModerationDecision, "moderation_decision")
phrasing_suggestion_status = pg_enum(PhrasingSuggestionStatus, "phrasing_suggestion_status")
handoff_status = pg_enum(HandoffStatus, "handoff_status")
