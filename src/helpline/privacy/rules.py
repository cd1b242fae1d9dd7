"""What a data export contains, table by table. Every table holding a user's rows (a foreign key
to users.id, directly or through conversations or messages) has an explicit rule here, and
tests/privacy/test_export.py fails when a new one has none: a new table of personal data must be
added to the export, or excluded with a reason, knowingly."""

from __future__ import annotations

EXCLUDED = "excluded: "

# table -> the export's section holding its rows, or "excluded: <why>".
EXPORT_RULES: dict[str, str] = {
    "users": "profile",
    "conversations": "conversations",
    "messages": "conversations",
    "message_feedback": "feedback",
    "faq_votes": "faq_votes",
    "unanswered_questions": EXCLUDED + "copies of the user's own questions, already exported as their messages",
    "refresh_tokens": "sessions",
    "revoked_access_tokens": EXCLUDED + "ids of signed-out access tokens: security bookkeeping, no personal content",
    "revoked_sessions": EXCLUDED + "ids of signed-out logins: security bookkeeping, no personal content",
    "consent_records": "consents",
    "audit_log": "audit_log",
    # Decisions on the user's flagged messages (without who took them: another person's data), and
    # the reviews they wrote as a member of staff.
    "moderation_reviews": "moderation_reviews",
    # Questions of theirs suggested as FAQ phrasings, and the approved phrasings still in their words.
    "faq_phrasing_suggestions": "phrasing_suggestions",
    "faq_phrasings": "phrasing_suggestions",
    "notification_settings": "notification_settings",
    # Endpoints and dates; the browser's keys are left out (encryption material, not about the person).
    "push_subscriptions": "push_subscriptions",
    "analytics_user_slots": EXCLUDED
    + "counts derived from the user's messages (how many per quarter hour), already exported as the messages",
    # Listed without their hashes: names, scopes, prefixes, when made, last used and revoked.
    "api_keys": "api_keys",
    # Human handoff (helpline.support): the notices in the conversation (exported messages) say
    # when it went to a person and back; the rows are the service's timings of that.
    "conversation_handoffs": EXCLUDED + "timings of hand-overs to a person, told by the exported notice messages",
    # Staff's internal notes on a user's handed-over conversation: never shown in the product, but
    # personal data about the user, so a data-access request (the export) includes them, without
    # who wrote them (another person's data). Notes a member of staff wrote on others'
    # conversations are about those others, not exported to the staff member.
    "conversation_notes": "staff_notes",
    # Search synonym sets a member of staff made: shop vocabulary, not about them (only who made it).
    "search_synonyms": EXCLUDED + "search vocabulary staff maintain; only the author's id, unset on erasure",
    "privacy_exports": EXCLUDED + "the exports themselves (an archive does not contain earlier archives)",
}
