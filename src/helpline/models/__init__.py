"""All tables; importing this package registers every model on Base.metadata."""

from helpline.models.analytics import AnalyticsCount, AnalyticsState, AnalyticsUserSlot
from helpline.models.apikeys import ApiKey
from helpline.models.base import Base
from helpline.models.chat import Conversation, ConversationNote, Handoff, Message, MessageFeedback
from helpline.models.enums import (
    ConsentType,
    FAQStatus,
    HandoffStatus,
    MessageStatus,
    MessageType,
    ModerationDecision,
    PhrasingSuggestionStatus,
    UserRole,
    UserStatus,
)
from helpline.models.faqs import (
    FAQ,
    FAQAccentedTerm,
    FAQCategory,
    FAQPhrasing,
    FAQPhrasingSuggestion,
    FAQSearchVersion,
    FAQVote,
    UnansweredQuestion,
)
from helpline.models.moderation import ModerationReview
from helpline.models.notifications import NotificationSetting, PushSubscription
from helpline.models.synonyms import SearchSynonym
from helpline.models.users import (
    AuditLog,
    ConsentRecord,
    PrivacyExport,
    RefreshToken,
    RevokedAccessToken,
    RevokedSession,
    User,
)

__all__ = [
    "FAQ",
    "AnalyticsCount",
    "AnalyticsState",
    "AnalyticsUserSlot",
    "ApiKey",
    "AuditLog",
    "Base",
    "ConsentRecord",
    "ConsentType",
    "Conversation",
    "ConversationNote",
    "FAQAccentedTerm",
    "FAQCategory",
    "FAQPhrasing",
    "FAQPhrasingSuggestion",
    "FAQSearchVersion",
    "FAQStatus",
    "FAQVote",
    "Handoff",
    "HandoffStatus",
    "Message",
    "MessageFeedback",
    "MessageStatus",
    "MessageType",
    "ModerationDecision",
    "ModerationReview",
    "NotificationSetting",
    "PhrasingSuggestionStatus",
    "PrivacyExport",
    "PushSubscription",
    "RefreshToken",
    "RevokedAccessToken",
    "RevokedSession",
    "SearchSynonym",
    "UnansweredQuestion",
    "User",
    "UserRole",
    "UserStatus",
]
