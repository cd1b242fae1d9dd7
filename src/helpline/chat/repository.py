"""The SQL of a chat turn, written so one turn costs few statements: one to store the user's
message and a placeholder answer (updating the conversation's counters) and read the history
tail, one to store the finished answer. Data-modifying CTEs keep each step a single round trip."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from helpline.auth.access import CALLER_SQL
from helpline.core.security import TokenClaims
from helpline.models import MessageStatus, MessageType, UserStatus

# Rows are inserted in this order, so the answer's id is always after the question's.
_INSERT_PAIR = """
    msgs AS (
        INSERT INTO messages (conversation_id, user_id, content, message_type, status, metadata, model_used,
                              client_id)
        SELECT conv.id, :user_id,
               CASE WHEN v.ord = 2
                    THEN COALESCE(CAST(:answers AS jsonb) ->> split_part(conv.language, '-', 1), v.content)
                    ELSE v.content END,
               v.mtype::message_type, v.mstatus::message_status, CAST(v.meta AS jsonb), v.model,
               CASE WHEN v.ord = 1 THEN CAST(:client_id AS varchar) END
        FROM conv CROSS JOIN (VALUES
            (1, CAST(:content AS text), 'user', 'sent', CAST(:user_meta AS text), CAST(NULL AS text)),
            (2, CAST(:answer AS text), 'assistant', CAST(:answer_status AS text),
                CAST(:answer_meta AS text), CAST(:answer_model AS text))
        ) AS v(ord, content, mtype, mstatus, meta, model)
        ORDER BY v.ord
        RETURNING id, message_type, created_at
    )
    SELECT caller.status, caller.password_changed_at, caller.revoked, caller.consent,
           EXISTS (SELECT 1 FROM allowed) AS allowed,
           (SELECT version FROM faq_search_version WHERE id = 1) AS search_version, t.*
    FROM caller LEFT JOIN (
        SELECT conv.id AS conversation_id, conv.language, conv.message_count,
               msgs.id, msgs.message_type, msgs.created_at, {history_columns}
        FROM conv, msgs{history_from}
    ) t ON true
    ORDER BY t.id
"""

# The account behind the token and whether it may be served, read in the turn's own statement:
# auth.access.CALLER_SQL, generated from the rule every other request is checked with (consent to
# the processing of messages included: privacy.service.update_consents). Nothing is stored for an
# account that may not; the service then tells why with the same rule.
_CALLER = "\n    WITH" + CALLER_SQL
_NEW_CONVERSATION_HEAD = """
    conv AS (
        INSERT INTO conversations (user_id, title, language, message_count, last_message_at)
        SELECT :user_id, :title, COALESCE(:language, allowed.language), 2, now() FROM allowed
        RETURNING id, language, message_count
    ),"""
_EXISTING_CONVERSATION_HEAD = """
    conv AS (
        UPDATE conversations
        SET message_count = message_count + 2, last_message_at = now(), updated_at = now(),
            language = COALESCE(:language, language), is_active = true,
            handoff_status = CASE WHEN handoff_status = 'resolved' THEN CAST('bot' AS handoff_status)
                                  ELSE handoff_status END
        WHERE id = :conversation_id AND user_id = :user_id AND message_count + 2 <= :max_messages
          AND EXISTS (SELECT 1 FROM allowed)
          -- A person has it (helpline.support): the assistant does not answer; chat.service relays.
          AND handoff_status NOT IN ('waiting_for_agent', 'with_agent')
        RETURNING id, language, message_count
    ),"""
# Messages a model is shown again as history: answered, not empty, not flagged by moderation, not
# a notice (system: the conversation changed hands). A person's replies are assistant messages.
_USABLE = """status IN ('sent', 'delivered', 'read', 'partial') AND content <> ''
      AND message_type <> 'system'
      AND NOT COALESCE((metadata->>'flagged')::boolean, false)"""
# The last :history usable messages of an existing conversation, oldest first, read in the
# statement that stores the new ones. Its snapshot is taken before the insert, so the new
# question is not among them (and a turn racing in the same conversation may miss the other's
# question, which has no answer yet either).
_HISTORY_CTE = f"""
    hist AS (
        SELECT array_agg(CAST(h.message_type AS text) ORDER BY h.id) AS kinds,
               array_agg(h.content ORDER BY h.id) AS bodies
        FROM (SELECT id, message_type, content FROM messages
              WHERE conversation_id = :conversation_id AND {_USABLE}
              ORDER BY id DESC LIMIT :history) h
    ),"""  # noqa: S608 (constant text)
# Constant SQL joined at import time; every value is a bound parameter.
_NO_HISTORY = "CAST(NULL AS text[]) AS kinds, CAST(NULL AS text[]) AS bodies"
_NEW_CONVERSATION = text(
    _CALLER + _NEW_CONVERSATION_HEAD + _INSERT_PAIR.format(history_columns=_NO_HISTORY, history_from="")
)
_EXISTING_CONVERSATION = text(
    _CALLER
    + _EXISTING_CONVERSATION_HEAD
    + _HISTORY_CTE
    + _INSERT_PAIR.format(history_columns="hist.kinds, hist.bodies", history_from=", hist")
)

_HISTORY = text(
    f"""
    SELECT message_type, content FROM messages
    WHERE conversation_id = :conversation_id AND id < :before_id AND {_USABLE}
    ORDER BY id DESC LIMIT :limit
    """  # noqa: S608 (constant text)
)

_FINISH = text(
    """
    WITH m AS (
        UPDATE messages
        SET content = :content, status = CAST(:status AS message_status), tokens_used = :tokens,
            model_used = :model, response_time_ms = :response_ms, metadata = CAST(:meta AS jsonb),
            delivered_at = now()
        WHERE id = :message_id
        RETURNING conversation_id, created_at
    )
    UPDATE conversations c
    SET total_tokens = c.total_tokens + :tokens, updated_at = now(), last_message_at = now(),
        duration_seconds = GREATEST(0, EXTRACT(EPOCH FROM now() - c.created_at))::int
    FROM m WHERE c.id = m.conversation_id
    RETURNING m.created_at
    """
)


@dataclass(frozen=True, slots=True)
class Account:
    """The caller's account as the turn's statement read it (for auth.access.check_access)."""

    status: UserStatus
    password_changed_at: datetime | None
    revoked: bool
    consent: bool  # to the processing of their messages (privacy): without it, nothing is stored
    allowed: bool  # the statement's own check (auth.access.ALLOWED_SQL): False, and nothing was stored


@dataclass(frozen=True, slots=True)
class StartedTurn:
    conversation_id: int
    language: str
    message_count: int
    user_message_id: int
    assistant_message_id: int
    created_at: datetime
    # The knowledge base's search version as of this turn (faqs.search.search_state), read in the
    # same statement: the turn's retrieval then needs no transaction of its own when cached.
    search_version: int | None = None
    # The conversation's last usable messages before this turn, oldest first (start_turn's ``history``).
    history: list[tuple[MessageType, str]] = field(default_factory=list)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


async def start_turn(
    db: AsyncSession | AsyncConnection,
    *,
    claims: TokenClaims,
    conversation_id: int | None,
    content: str,
    language: str | None,
    title: str,
    max_messages: int,
    user_meta: dict[str, Any] | None = None,
    answer_status: MessageStatus = MessageStatus.streaming,
    answers: dict[str, str] | None = None,
    answer_meta: dict[str, Any] | None = None,
    answer_model: str | None = None,
    history: int = 0,
    client_id: str | None = None,
) -> tuple[Account | None, StartedTurn | None]:
    """If the token's account may be served (see _CALLER), store the user's message and a
    placeholder answer, and read up to ``history`` earlier messages of an existing conversation:
    one statement, atomic on its own (the caller need not open a transaction). The placeholder is
    empty, or ``answers``' text for the conversation's primary language ("en" when it has none).
    A new conversation's language is ``language``, else the user's.

    Returns (None, None): no such user; (account, None): nothing stored, because the account may
    not be served (``account.allowed`` is False) or there is no such conversation of this user or
    it is full (the caller tells which). A ``client_id`` this user already sent a message with
    raises IntegrityError (uq_messages_user_client_id), and nothing is stored: see chat.once."""
    params: dict[str, Any] = {
        "client_id": client_id,
        "user_id": claims.user_id,
        "jti": claims.jti,
        "sid": claims.sid,
        "issued_at": claims.iat,
        "content": content,
        "user_meta": _json(user_meta),
        "answer": (answers or {}).get("en", ""),
        "answers": None if answers is None else json.dumps(answers),
        "answer_status": answer_status.value,
        "answer_meta": _json(answer_meta),
        "answer_model": answer_model,
        "language": language,
    }
    if conversation_id is None:
        stmt = _NEW_CONVERSATION
        params |= {"title": title}
    else:
        stmt = _EXISTING_CONVERSATION
        params |= {"conversation_id": conversation_id, "max_messages": max_messages, "history": history}
    rows = (await db.execute(stmt, params)).all()
    if not rows:
        return None, None
    first = rows[0]
    account = Account(
        status=UserStatus(first.status),
        password_changed_at=first.password_changed_at,
        revoked=first.revoked,
        consent=first.consent,
        allowed=first.allowed,
    )
    if first.id is None:
        return account, None
    ids = {MessageType(r.message_type): r.id for r in rows}
    return account, StartedTurn(
        conversation_id=first.conversation_id,
        language=first.language,
        message_count=first.message_count,
        user_message_id=ids[MessageType.user],
        assistant_message_id=ids[MessageType.assistant],
        created_at=first.created_at,
        search_version=first.search_version,
        history=[(MessageType(k), b) for k, b in zip(first.kinds or (), first.bodies or (), strict=True)],
    )


async def history_tail(
    session: AsyncSession, conversation_id: int, before_id: int, limit: int
) -> list[tuple[MessageType, str]]:
    """The last ``limit`` usable messages before ``before_id``, oldest first. Reads only that
    many rows through the (conversation_id, id) index, however long the conversation is."""
    rows = (
        await session.execute(_HISTORY, {"conversation_id": conversation_id, "before_id": before_id, "limit": limit})
    ).all()
    return [(MessageType(r.message_type), r.content) for r in reversed(rows)]


async def finish_turn(
    db: AsyncSession | AsyncConnection,
    *,
    message_id: int,
    content: str,
    status: MessageStatus,
    tokens: int,
    model: str | None,
    response_ms: int | None,
    meta: dict[str, Any] | None,
) -> datetime | None:
    row = (
        await db.execute(
            _FINISH,
            {
                "message_id": message_id,
                "content": content,
                "status": status.value,
                "tokens": tokens,
                "model": model,
                "response_ms": response_ms,
                "meta": _json(meta),
            },
        )
    ).first()
    return None if row is None else row.created_at


ABANDONED_ERROR = "The server stopped while answering."
# An answer nobody is generating any more: failed, or partial if some of it was stored.
_ABANDON = """
    UPDATE messages
    SET status = CASE WHEN content = '' THEN 'failed'::message_status ELSE 'partial'::message_status END,
        metadata = COALESCE(metadata, '{}'::jsonb) || CAST(:meta AS jsonb)
    WHERE status = 'streaming' AND """
_SWEEP = text(_ABANDON + "created_at < now() - make_interval(secs => :older_than)")
_ABANDON_ONE = text(_ABANDON + "id = :message_id RETURNING id")


async def sweep_abandoned(session: AsyncSession, older_than_seconds: float) -> int:
    """Answers left 'streaming' by a process that died: mark them failed (or partial) so the
    user sees them as retryable. Only old ones, since another instance may be generating."""
    meta = json.dumps({"error": ABANDONED_ERROR})
    result = await session.execute(_SWEEP, {"older_than": older_than_seconds, "meta": meta})
    return int(getattr(result, "rowcount", 0) or 0)


async def abandon(session: AsyncSession, message_id: int, meta: dict[str, Any]) -> bool:
    """Mark one answer abandoned (as the sweep does), adding ``meta``; False if it is no longer
    being generated."""
    params = {"message_id": message_id, "meta": json.dumps({"error": ABANDONED_ERROR} | meta)}
    return (await session.execute(_ABANDON_ONE, params)).first() is not None
