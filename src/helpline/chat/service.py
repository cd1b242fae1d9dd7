"""A chat turn: store the question, answer it (from the model, streamed: chat.answer), store the
answer.

The user's message is committed before the model is called, and the answer is generated in a
task of its own, so neither a slow model nor a client that goes away loses anything. The
request session is not used here: a turn spans several short transactions by design."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import select, text

from helpline.ai.base import ModerationResult
from helpline.auth import access
from helpline.chat import repository as repo
from helpline.chat.answer import REFUSALS, STORE_RETRY_SECONDS, generate, refusal, response_payload
from helpline.chat.answer import Turn as Turn  # a turn is begun here (callers name it service.Turn)
from helpline.chat.grounding import prefetch
from helpline.core.db import single_statement
from helpline.core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from helpline.core.metrics import CHAT_ANSWERS
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import Conversation, Message, MessageStatus, MessageType
from helpline.platform.hub import Generation
from helpline.support.relay import Relayed, escalate_by_rule, relay
from helpline.support.rules import escalation_reason

log = structlog.get_logger(__name__)

HISTORY_TAIL = 50  # messages read for context; the builder keeps what fits the budget
TITLE_CHARS = 60
# Before the model is called (retrieval) and after (the guard, moderation), on top of the model's
# own bound: a 'streaming' answer older than all of it has nobody generating it any more.
GENERATION_MARGIN_SECONDS = 30.0


def make_title(content: str) -> str:
    line = " ".join(content.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[:TITLE_CHARS].rsplit(" ", 1)[0] or line[:TITLE_CHARS]
    return cut.rstrip(",.;:!?") + "…"


def _moderation_meta(result: ModerationResult) -> dict[str, Any]:
    flagged = sorted(k for k, v in result.categories.items() if v)
    return {"flagged": result.flagged, "categories": flagged, "source": result.source}


def check_length(runtime: Runtime, content: str) -> str:
    content = content.strip()
    if not content:
        raise Unprocessable("message: must not be empty")
    limit = runtime.settings.limits.message_max_chars
    if len(content) > limit:
        raise Unprocessable(f"message: must be at most {limit} characters (this one has {len(content)})")
    return content


async def _missing_or_full(runtime: Runtime, user_id: int, conversation_id: int) -> Exception:
    async with runtime.sessionmaker() as session:
        count = await session.scalar(
            select(Conversation.message_count).where(
                Conversation.id == conversation_id, Conversation.user_id == user_id
            )
        )
    if count is None:
        return NotFound("No such conversation")
    return Conflict(
        f"This conversation has reached its limit of {runtime.settings.limits.conversation_max_messages} "
        "messages; start a new conversation."
    )


async def begin(
    runtime: Runtime,
    *,
    claims: TokenClaims,
    content: str,
    conversation_id: int | None,
    language: str | None,
    client_id: str | None = None,
) -> Turn | Relayed:
    """Validate, rate-limit and moderate the message, then store it (and a placeholder answer).
    ``client_id``: the client's own id for the message (chat.once answers a repeat).
    While a person has the conversation, or when the message asks for one, only the message is
    stored, for the person (``Relayed``: helpline.support.relay); the assistant does not answer.
    The token's account is checked as every request's is (auth.access) by the
    statement that stores the message, which stores nothing for an account that may not be
    served: a turn costs no statement of its own for it. So the length, rate limit and moderation
    come first, as for any signed token."""
    content = check_length(runtime, content)
    user_id = claims.user_id
    quota = await runtime.chat_limiter.hit(user_id)
    # "Talk to a human" (or a configured keyword): the message goes to a person, not the model.
    wants_person = escalation_reason(runtime.settings.support, content)
    if not wants_person:
        prefetch(runtime, content)  # the question's embedding for retrieval, while the rest runs
    verdict = await runtime.moderator.check(content)
    flagged_meta: dict[str, Any] = {}
    if verdict.flagged:
        flagged_meta = {"flagged": True, "moderation": _moderation_meta(verdict)}

    async def for_person(reason: str | None) -> Relayed | None:
        """The message stored for a person (helpline.support.relay), with this turn's quota."""
        relayed = await relay(
            runtime,
            claims=claims,
            content=content,
            conversation_id=conversation_id,
            language=language,
            title=make_title(content),
            reason=reason,
            user_meta=flagged_meta or None,
            client_id=client_id,
        )
        return None if relayed is None else replace(relayed, quota=quota)

    if wants_person and not verdict.flagged:
        relayed = await for_person(wants_person)
        assert relayed is not None  # with a reason, always stored (or an error raised)
        return relayed
    async with single_statement(runtime.engine) as conn:
        account, started = await repo.start_turn(
            conn,
            claims=claims,
            conversation_id=conversation_id,
            content=content,
            language=language,
            title=make_title(content),
            max_messages=runtime.settings.limits.conversation_max_messages,
            user_meta=flagged_meta or None,
            # A flagged message is answered with a polite refusal (in the conversation's language,
            # as launch() publishes it), without calling the model.
            answer_status=MessageStatus.sent if verdict.flagged else MessageStatus.streaming,
            answers=REFUSALS if verdict.flagged else None,
            answer_meta={"refusal": True, "flagged": True} if verdict.flagged else None,
            answer_model="moderation" if verdict.flagged else None,
            history=0 if verdict.flagged else HISTORY_TAIL,
            client_id=client_id,
        )
    if account is None:
        raise Unauthorized(access.ACCOUNT_GONE)
    if not account.allowed:
        read = access.Account(account.status, account.password_changed_at, account.revoked, account.consent)
        access.check_access(claims, read, needs_consent=True)
        log.error("chat.access_rules_disagree", user_id=user_id)  # see repository._CALLER
        raise Unauthorized("This token may not be used; log in again")
    if started is None:
        # A person has the conversation: the message is theirs to read, the assistant is quiet.
        relayed = await for_person(None)
        if relayed is not None:
            return relayed
        raise await _missing_or_full(runtime, user_id, conversation_id or 0)
    if verdict.flagged:
        await escalate_by_rule(runtime, started.conversation_id, "flagged")
    return Turn(
        user_id=user_id,
        conversation_id=started.conversation_id,
        language=started.language,
        user_message_id=started.user_message_id,
        message_id=started.assistant_message_id,
        created_at=started.created_at,
        content=content,
        history=started.history,
        flagged=verdict.flagged,
        search_version=started.search_version,
        quota=quota,
    )


def unanswered_payload(conversation_id: int, user_message_id: int, created_at: datetime) -> dict[str, Any]:
    """A user's message the assistant does not answer, as the turn's final event (``content``
    empty, ``message_id`` the user's own message)."""
    return {
        "message_id": user_message_id,
        "conversation_id": conversation_id,
        "user_message_id": user_message_id,
        "content": "",
        "status": MessageStatus.sent.value,
        "tokens_used": 0,
        "model_used": None,
        "response_time_ms": None,
        "timestamp": created_at.isoformat(),
    }


def relayed_payload(relayed: Relayed) -> dict[str, Any]:
    """A relayed message as the turn's final event: the assistant did not answer; ``handoff``
    says who will."""
    payload = unanswered_payload(relayed.conversation_id, relayed.user_message_id, relayed.created_at)
    return {**payload, "handoff": relayed.handoff.model_dump(mode="json")}


def launch(runtime: Runtime, turn: Turn) -> Generation:
    """Open the answer's event log and start generating it (unless moderation already answered)."""
    gen = runtime.hub.open(turn.message_id, turn.conversation_id, turn.user_id)
    if turn.flagged:
        answer = response_payload(
            turn, content=refusal(turn.language), status=MessageStatus.sent, model="moderation", flagged=True
        )
        runtime.hub.run(runtime.hub.publish(gen, "response", answer.event(), final=True))
        CHAT_ANSWERS.labels("moderation").inc()
    else:
        runtime.hub.run(generate(runtime, turn, gen), gen)
    return gen


def abandoned_after_seconds(runtime: Runtime) -> float:
    """How old an answer still 'streaming' must be for no instance to be generating it any more:
    the model's bound (twice its timeout), the store's retries and a margin for the rest."""
    return runtime.settings.llm.timeout_seconds * 2 + STORE_RETRY_SECONDS + GENERATION_MARGIN_SECONDS


async def sweep_abandoned_answers(runtime: Runtime) -> int:
    """Mark the answers nobody is generating any more failed (or partial), so their users see them
    as retryable: their instance died (killed, crashed) and no client resumed them, or it could
    not store them while the database was away. Old enough ones always; younger ones when the hub
    knows their instance stopped beating (several instances on Redis), so a killed instance's
    answers are settled within a minute, not the generation bound. Run at each start and every
    minute (a job)."""
    async with runtime.sessionmaker() as session, session.begin():
        swept = await repo.sweep_abandoned(session, older_than_seconds=abandoned_after_seconds(runtime))
        # Younger than the heartbeat's lifetime, an answer may have been begun by an instance
        # whose first beat the hub has not written yet.
        young_before = datetime.now(UTC) - timedelta(seconds=2 * runtime.settings.redis.instance_ttl_seconds)
        young = list(
            (
                await session.scalars(
                    select(Message.id)
                    .where(
                        Message.status == MessageStatus.streaming,
                        Message.message_type == MessageType.assistant,
                        Message.created_at < young_before,
                    )
                    .order_by(Message.id)
                    .limit(1000)
                )
            ).all()
        )
    orphans = await runtime.hub.orphaned(young) if young else []
    if orphans:
        async with runtime.sessionmaker() as session, session.begin():
            for message_id in orphans:
                swept += await repo.abandon(session, message_id, {})
    if swept:
        log.warning("chat.abandoned_answers_marked_failed", count=swept, orphaned=len(orphans))
    return swept


async def retry(runtime: Runtime, *, user_id: int, message_id: int) -> Turn:
    """Regenerate a failed, partial or stopped answer in place."""
    quota = await runtime.chat_limiter.hit(user_id)
    async with runtime.sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                text(
                    """
                    UPDATE messages m SET status = 'streaming', content = '', metadata = NULL
                    FROM conversations c
                    WHERE m.id = :id AND m.conversation_id = c.id AND c.user_id = :uid
                      AND m.message_type = 'assistant'
                      AND (m.status IN ('failed', 'partial') OR COALESCE((m.metadata->>'stopped')::boolean, false))
                    RETURNING m.conversation_id, c.language, m.created_at
                    """
                ),
                {"id": message_id, "uid": user_id},
            )
        ).first()
        if row is None:
            owned = await session.scalar(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == message_id, Conversation.user_id == user_id)
            )
            if owned is None:
                raise NotFound("No such message")
            raise Conflict("Only a failed, partial or stopped answer can be retried")
        tail = await repo.history_tail(session, row.conversation_id, message_id, HISTORY_TAIL + 1)
        question_id = await session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == row.conversation_id,
                Message.id < message_id,
                Message.message_type == MessageType.user,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    if not tail or tail[-1][0] is not MessageType.user or question_id is None:
        raise Conflict("This answer has no question to answer")
    return Turn(
        user_id=user_id,
        conversation_id=row.conversation_id,
        language=row.language,
        user_message_id=question_id,
        message_id=message_id,
        created_at=row.created_at,
        content=tail[-1][1],
        history=tail[:-1],
        quota=quota,
    )


def stored_payload(msg: Message, question_id: int) -> tuple[Literal["response", "error"], dict[str, Any]]:
    """A stored answer as the final event of its stream (for a follower the live log cannot serve):
    ``error`` for an answer that failed or is not finished, else ``response``."""
    meta = msg.meta or {}
    turn = Turn(msg.user_id or 0, msg.conversation_id, "en", question_id, msg.id, msg.created_at, "", [])
    failed = msg.status in (MessageStatus.failed, MessageStatus.partial, MessageStatus.streaming)
    payload = response_payload(
        turn,
        content=msg.content,
        status=msg.status,
        tokens=msg.tokens_used,
        model=msg.model_used,
        response_ms=msg.response_time_ms,
        timestamp=msg.created_at,
        error=meta.get("error", "The answer is not finished") if failed else None,
        sources=meta.get("sources"),
        stopped=bool(meta.get("stopped")),
        related=meta.get("related"),
        guarded=meta.get("guard"),
    )
    return ("error" if failed else "response"), payload.event()


async def stored_answer(runtime: Runtime, user_id: int, message_id: int) -> tuple[Message, int]:
    """An assistant message of this user (and its question's id), or 404."""
    async with runtime.sessionmaker() as session:
        msg = await session.scalar(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.id == message_id,
                Conversation.user_id == user_id,
                Message.message_type == MessageType.assistant,
            )
        )
        if msg is None:
            raise NotFound("No such answer")
        question = await session.scalar(
            select(Message.id)
            .where(Message.conversation_id == msg.conversation_id, Message.id < message_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
    return msg, question or 0
