"""Phrasings suggested by customers: a question whose answer cited a FAQ and was rated helpful is
another way to ask that FAQ's question. It waits as a pending suggestion until staff approve it
(optionally edited first: it becomes one of the FAQ's phrasings) or reject it.

Privacy: a suggestion is the user's own text. It goes with their account and with the
conversation it was asked in (foreign keys, CASCADE), and their data export lists it. An approved
phrasing that is still the user's words (the same folded form as the suggestion) keeps their id
as its source and is deleted with their account; one staff rewrote is staff's text and stays.
Nothing of the text goes into the audit trail, which outlives an erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.errors import Conflict, NotFound
from helpline.core.pii import mask_pii
from helpline.faqs.backends import FAQDeps
from helpline.faqs.phrasings import MAX_PHRASING_CHARS, MAX_PHRASINGS, clean, normalize, replace_phrasings, rows_of
from helpline.models import (
    FAQ,
    FAQPhrasing,
    FAQPhrasingSuggestion,
    Message,
    MessageStatus,
    MessageType,
    PhrasingSuggestionStatus,
)

# Answers whose sources may be suggested for: whole answers (not failed, partial or stopped).
_FINISHED = frozenset({MessageStatus.sent, MessageStatus.delivered, MessageStatus.read})
MIN_CHARS = 3


def cited_faq(meta: dict[str, Any] | None) -> int | None:
    """The FAQ an answer mainly rests on: the one it was taken from, else its best-scored source.
    None for an answer the guard replaced or rewrote, a refusal, a flagged, stopped or failed one,
    or one without sources: the user's verdict is then not about a FAQ."""
    meta = meta or {}
    if any(meta.get(k) for k in ("guard", "refusal", "flagged", "output_flagged", "stopped", "error")):
        return None
    direct = meta.get("answered_from_faq")
    if isinstance(direct, int):
        return direct
    sources = [s for s in meta.get("sources") or [] if isinstance(s, dict) and isinstance(s.get("id"), int)]
    if not sources:
        return None
    best = max(sources, key=lambda s: float(s.get("score") or 0.0))
    return int(best["id"])


def suggestion_text(content: str, meta: dict[str, Any] | None) -> str | None:
    """The question as a phrasing, or None when it cannot be one: too short or too long, no
    words, flagged by moderation, or holding personal data (an email, a phone, card or account
    number: core.pii), which a phrasing shown to staff and searched by all must not carry."""
    if (meta or {}).get("flagged"):
        return None
    text = clean(content)
    if not MIN_CHARS <= len(text) <= MAX_PHRASING_CHARS or not normalize(text):
        return None
    if mask_pii(text) != text:
        return None
    return text


async def _question_of(session: AsyncSession, answer: Message) -> Message | None:
    """The user's message an answer replied to: the last one before it in its conversation."""
    stmt = (
        select(Message)
        .where(
            Message.conversation_id == answer.conversation_id,
            Message.id < answer.id,
            Message.message_type == MessageType.user,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def on_feedback(session: AsyncSession, *, user_id: int, answer_id: int, helpful: bool) -> None:
    """After a user's verdict on an answer of theirs: "helpful" on an answer citing FAQs makes
    their question a pending suggestion for the FAQ it mainly cites (once per FAQ and folded
    text, whoever asks; not when it already is the question or a phrasing). Changing the verdict
    to "not helpful" withdraws their suggestion while it is still pending."""
    answer = await session.get(Message, answer_id)
    if answer is None or answer.message_type is not MessageType.assistant:
        return
    question = await _question_of(session, answer)
    if question is None:
        return
    if not helpful:
        await session.execute(
            delete(FAQPhrasingSuggestion).where(
                FAQPhrasingSuggestion.message_id == question.id,
                FAQPhrasingSuggestion.user_id == user_id,
                FAQPhrasingSuggestion.status == PhrasingSuggestionStatus.pending,
            )
        )
        return
    faq_id = cited_faq(answer.meta) if answer.status in _FINISHED else None
    text = suggestion_text(question.content, question.meta) if faq_id is not None else None
    if faq_id is None or text is None:
        return
    norm = normalize(text)
    faq_question = await session.scalar(select(FAQ.question).where(FAQ.id == faq_id))
    if faq_question is None or normalize(faq_question) == norm:
        return
    known = exists().where(FAQPhrasing.faq_id == faq_id, FAQPhrasing.norm == norm)
    if await session.scalar(select(known)):
        return
    stmt = (
        insert(FAQPhrasingSuggestion)
        .values(faq_id=faq_id, text=text, norm=norm, user_id=user_id, message_id=question.id)
        .on_conflict_do_nothing(constraint="uq_faq_phrasing_suggestions_faq_norm")
    )
    try:
        async with session.begin_nested():
            await session.execute(stmt)
    except IntegrityError:
        # The FAQ was deleted meanwhile: the user's verdict is recorded all the same.
        return


# Staff


SuggestionRow = tuple[FAQPhrasingSuggestion, FAQ]


async def list_suggestions(
    session: AsyncSession,
    *,
    status: PhrasingSuggestionStatus | None = PhrasingSuggestionStatus.pending,
    faq_id: int | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[SuggestionRow], str | None]:
    """Suggestions newest first (``status`` None: all), with their FAQ; keyset pages on id."""
    stmt = (
        select(FAQPhrasingSuggestion, FAQ)
        .join(FAQ, FAQ.id == FAQPhrasingSuggestion.faq_id)
        .order_by(FAQPhrasingSuggestion.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        stmt = stmt.where(FAQPhrasingSuggestion.status == status)
    if faq_id is not None:
        stmt = stmt.where(FAQPhrasingSuggestion.faq_id == faq_id)
    if cursor:
        (last,) = decode_cursor(cursor, int4)
        stmt = stmt.where(FAQPhrasingSuggestion.id < last)
    rows: list[SuggestionRow] = [(s, f) for s, f in (await session.execute(stmt)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1][0].id) if more and rows else None)


async def _pending(session: AsyncSession, suggestion_id: int) -> tuple[FAQPhrasingSuggestion, FAQ]:
    suggestion = await session.get(FAQPhrasingSuggestion, suggestion_id, with_for_update=True)
    if suggestion is None:
        raise NotFound("No such suggestion")
    if suggestion.status is not PhrasingSuggestionStatus.pending:
        raise Conflict(f"This suggestion was already {suggestion.status.value}")
    # The FAQ's row locked too: two approvals for one FAQ add their phrasings one after the other.
    faq = await session.get(FAQ, suggestion.faq_id, with_for_update=True)
    if faq is None:  # pragma: no cover - the suggestion goes with its FAQ (CASCADE)
        raise NotFound("No such suggestion")
    return suggestion, faq


async def approve(
    session: AsyncSession,
    deps: FAQDeps,
    suggestion_id: int,
    *,
    text: str | None,
    actor_id: int,
    client: Client = audit.NO_CLIENT,
) -> SuggestionRow:
    """Add the suggestion (or ``text``, staff's edit of it) to its FAQ's phrasings. A text the
    FAQ already has (as its question or a phrasing) adds nothing; the suggestion is approved all
    the same. 409 when the FAQ has MAX_PHRASINGS phrasings already."""
    suggestion, faq = await _pending(session, suggestion_id)
    final = clean(text) if text is not None else suggestion.text
    norm = normalize(final)
    rows = await rows_of(session, faq.id)
    present = norm == normalize(faq.question) or any(r.norm == norm for r in rows)
    if not present:
        if len(rows) >= MAX_PHRASINGS:
            raise Conflict(f"This FAQ has {MAX_PHRASINGS} phrasings, the most it may have: remove one first")
        # Still the user's words: their erasure takes the phrasing with it.
        sources = {norm: suggestion.user_id} if norm == suggestion.norm else {}
        await replace_phrasings(session, deps, faq, [*(r.text for r in rows), final], sources=sources)
    suggestion.status = PhrasingSuggestionStatus.approved
    suggestion.reviewed_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(faq)
    audit.record(
        session, "faq.phrasing_approved", actor_user_id=actor_id, target_type="faq", target_id=faq.id,
        client=client,
        details={"suggestion_id": suggestion.id, "edited": norm != suggestion.norm, "added": not present},
    )  # fmt: skip
    return suggestion, faq


async def reject(
    session: AsyncSession, suggestion_id: int, *, actor_id: int, client: Client = audit.NO_CLIENT
) -> SuggestionRow:
    """Reject the suggestion: it stays (so the same text is not suggested again) until its user
    or conversation goes."""
    suggestion, faq = await _pending(session, suggestion_id)
    suggestion.status = PhrasingSuggestionStatus.rejected
    suggestion.reviewed_at = datetime.now(UTC)
    await session.flush()
    audit.record(
        session, "faq.phrasing_rejected", actor_user_id=actor_id, target_type="faq", target_id=faq.id,
        client=client, details={"suggestion_id": suggestion.id},
    )  # fmt: skip
    return suggestion, faq


# The user's data export


async def export_section(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """The user's suggestions (any status) and the phrasings that are still their words."""
    suggestions = await session.execute(
        select(FAQPhrasingSuggestion, FAQ.question)
        .join(FAQ, FAQ.id == FAQPhrasingSuggestion.faq_id)
        .where(FAQPhrasingSuggestion.user_id == user_id)
        .order_by(FAQPhrasingSuggestion.id)
    )
    out: list[dict[str, Any]] = [
        {
            "kind": "suggestion",
            "text": s.text,
            "status": s.status.value,
            "faq_id": s.faq_id,
            "faq_question": question,
            "created_at": s.created_at.isoformat(),
            "reviewed_at": s.reviewed_at.isoformat() if s.reviewed_at else None,
        }
        for s, question in suggestions.all()
    ]
    phrasings = await session.execute(
        select(FAQPhrasing.text, FAQPhrasing.faq_id, FAQPhrasing.created_at, FAQ.question)
        .join(FAQ, FAQ.id == FAQPhrasing.faq_id)
        .where(FAQPhrasing.source_user_id == user_id)
        .order_by(FAQPhrasing.id)
    )
    out += [
        {
            "kind": "phrasing",
            "text": p.text,
            "status": "in use",
            "faq_id": p.faq_id,
            "faq_question": p.question,
            "created_at": p.created_at.isoformat(),
            "reviewed_at": None,
        }
        for p in phrasings.all()
    ]
    return out
