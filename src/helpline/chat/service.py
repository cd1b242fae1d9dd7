"""A chat turn: store the question, answer it (from the model, streamed), store the answer.

The user's message is committed before the model is called, and the answer is generated in a
task of its own, so neither a slow model nor a client that goes away loses anything. The
request session is not used here: a turn spans several short transactions by design."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from sqlalchemy import select, text

from helpline.ai.base import ChatMessage, LLMError, ModerationResult, StreamDone, StreamEvent, TextDelta, Usage
from helpline.auth import access
from helpline.chat import guard
from helpline.chat import repository as repo
from helpline.chat.grounding import Bar, Grounding, Source, ground, prefetch, record_declined
from helpline.chat.honest import DIRECT_MODEL, Fallback, fallback
from helpline.chat.smalltalk import small_talk
from helpline.core.db import single_statement
from helpline.core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from helpline.core.metrics import AI_REQUEST_COUNT, AI_RESPONSE_TIME, AI_TOKEN_USAGE, CHAT_ANSWERS
from helpline.core.ratelimit import Quota
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import Conversation, Message, MessageStatus, MessageType
from helpline.platform.hub import Generation
from helpline.push.service import queue_push
from helpline.support.relay import Relayed, after_dont_know, escalate_by_rule, relay
from helpline.support.rules import escalation_reason

log = structlog.get_logger(__name__)

HISTORY_TAIL = 50  # messages read for context; the builder keeps what fits the budget
TITLE_CHARS = 60
REFUSALS = {
    "en": "I'm sorry, but I can't help with that. If you have a question about our product or "
    "your account, I'm happy to help.",
    "es": "Lo siento, pero no puedo ayudar con eso. Si tienes una pregunta sobre nuestro producto "
    "o tu cuenta, con gusto te ayudo.",
    "fr": "Désolé, je ne peux pas vous aider avec cela. Si vous avez une question sur notre produit "
    "ou votre compte, je serai ravi de vous aider.",
    "de": "Das kann ich leider nicht beantworten. Wenn Sie eine Frage zu unserem Produkt oder "
    "Ihrem Konto haben, helfe ich gern.",
}


def refusal(language: str) -> str:
    return REFUSALS.get(language.split("-")[0], REFUSALS["en"])


def make_title(content: str) -> str:
    line = " ".join(content.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[:TITLE_CHARS].rsplit(" ", 1)[0] or line[:TITLE_CHARS]
    return cut.rstrip(",.;:!?") + "…"


def _moderation_meta(result: ModerationResult) -> dict[str, Any]:
    flagged = sorted(k for k, v in result.categories.items() if v)
    return {"flagged": result.flagged, "categories": flagged, "source": result.source}


@dataclass(frozen=True, slots=True)
class Turn:
    user_id: int
    conversation_id: int
    language: str
    user_message_id: int
    message_id: int
    created_at: datetime
    content: str
    history: list[tuple[MessageType, str]]
    flagged: bool = False
    search_version: int | None = None  # see repository.StartedTurn
    quota: Quota | None = None  # the user's message windows after this one (RateLimit headers)


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


def _public(source: Source, cited: dict[int, int]) -> dict[str, Any]:
    """A source as stored and sent, with the number the answer cites it by (``[n]``) when the
    model was given it as numbered article n."""
    out = source.public()
    if source.id in cited:
        out["n"] = cited[source.id]
    return out


def response_payload(
    turn: Turn,
    *,
    content: str,
    status: MessageStatus,
    tokens: int = 0,
    model: str | None = None,
    response_ms: int | None = None,
    timestamp: datetime | None = None,
    flagged: bool = False,
    error: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    stopped: bool = False,
    related: list[dict[str, Any]] | None = None,
    guarded: dict[str, Any] | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The final event's payload (the stored answer). ``usage``: the model's prompt and completion
    tokens when it was asked (the OpenAI-compatible API reports them; ChatResponse leaves them out)."""
    return {
        "message_id": turn.message_id,
        "conversation_id": turn.conversation_id,
        "user_message_id": turn.user_message_id,
        "content": content,
        "status": status.value,
        "tokens_used": tokens,
        "model_used": model,
        "response_time_ms": response_ms,
        "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
        "flagged": flagged,
        "sources": sources or [],
        "error": error,
        "stopped": stopped,
        "related": related or [],
        "guard": guarded,
        "usage": usage,
    }


def relayed_payload(relayed: Relayed) -> dict[str, Any]:
    """A relayed message as the turn's final event: the assistant did not answer (``content``
    empty, ``message_id`` the user's own message); ``handoff`` says who will."""
    return {
        "message_id": relayed.user_message_id,
        "conversation_id": relayed.conversation_id,
        "user_message_id": relayed.user_message_id,
        "content": "",
        "status": MessageStatus.sent.value,
        "tokens_used": 0,
        "model_used": None,
        "response_time_ms": None,
        "timestamp": relayed.created_at.isoformat(),
        "handoff": relayed.handoff.model_dump(mode="json"),
    }


def launch(runtime: Runtime, turn: Turn) -> Generation:
    """Open the answer's event log and start generating it (unless moderation already answered)."""
    gen = runtime.hub.open(turn.message_id, turn.conversation_id, turn.user_id)
    if turn.flagged:
        payload = response_payload(
            turn, content=refusal(turn.language), status=MessageStatus.sent, model="moderation", flagged=True
        )
        runtime.hub.run(runtime.hub.publish(gen, "response", payload, final=True))
        CHAT_ANSWERS.labels("moderation").inc()
    else:
        runtime.hub.run(generate(runtime, turn, gen), gen)
    return gen


def build_messages(
    runtime: Runtime, turn: Turn, sources: Sequence[Source] = ()
) -> tuple[list[ChatMessage], list[Source]]:
    """The prompt, and the knowledge-base sources that made it in (citation [n] = sources[n-1])."""
    from helpline.ai.context import build_context
    from helpline.ai.prompts import system_prompt

    llm = runtime.llm
    max_answer = min(runtime.settings.llm.answer_tokens, llm.context_window // 2)
    history = [ChatMessage("user" if kind is MessageType.user else "assistant", body) for kind, body in turn.history]
    built = build_context(
        system_prompt=system_prompt(turn.language),
        history=history,
        current=turn.content,
        counter=llm.tokens,
        context_window=llm.context_window,
        max_answer_tokens=max_answer,
        knowledge=[s.article() for s in sources],
        knowledge_budget=int((llm.context_window - max_answer) * runtime.settings.retrieval.knowledge_share),
        language=turn.language,
    )
    by_ref = {str(s.id): s for s in sources}
    used = [by_ref[a.ref] for a in built.articles_used if a.ref in by_ref]
    return list(built.messages), used


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[StreamEvent]) -> AsyncIterator[AsyncIterator[StreamEvent]]:
    """Close the model's stream on the way out: a stop (or a timeout) between two chunks then
    still stops a local model generating, or disconnects from an HTTP upstream."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)  # the providers' streams are async generators
        if aclose is not None:
            await aclose()


def _without_model(runtime: Runtime, language: str, grounding: Grounding, question: str) -> Fallback:
    return fallback(language, grounding.ranked, bar=Bar.of(runtime.settings.guard), small_talk=small_talk(question))


def _skip_model(runtime: Runtime, language: str, question: str, grounding: Grounding) -> str | None:
    """Why the guard answers without the model (its reason), or None to ask the model: a language
    it writes badly, or a question no article applies to that is not small talk ("who won the
    1998 world cup?" on a support desk: the model would answer from memory, no fact to check)."""
    if not runtime.settings.llm.answers_in(language):
        return "language_unsupported"
    cfg = runtime.settings.guard
    off_topic = grounding.has_articles and not grounding.clears(Bar.of(cfg))
    if cfg.refuse_off_topic and off_topic and not small_talk(question):
        return "no_source"
    return None


async def generate(runtime: Runtime, turn: Turn, gen: Generation) -> None:
    """Stream the model's answer into the event log, then store it, whatever happens."""
    hub, llm, cfg = runtime.hub, runtime.llm, runtime.settings.llm
    guarding = runtime.settings.guard.enabled
    started = time.perf_counter()
    await hub.publish(gen, "typing", {"user_message_id": turn.user_message_id, "message_id": turn.message_id})
    parts: list[str] = []
    done: StreamDone | None = None
    error: str | None = None
    cancelled = stopped = False
    sources: list[Source] = []
    cited: dict[int, int] = {}  # a source's id -> the number the model was told to cite it by ([n])
    grounding = Grounding()
    prompt: list[ChatMessage] = []
    honest: Fallback | None = None  # what the guard answered instead of the model
    language = turn.language  # the conversation's, or the question's own when plainly another
    guarded: dict[str, Any] | None = None
    # From here until the model is done, the user's Stop cancels this task (Generation.request_stop).
    gen.stoppable = True
    try:
        if gen.stop_requested:
            raise asyncio.CancelledError  # stopped before it started: handled as any stop
        if guarding:
            # Searched in the question's own language too: a Spanish question in an English
            # conversation finds the Spanish article first, when there is one.
            language = await asyncio.to_thread(guard.question_language, turn.content, turn.language)
        grounding = await ground(
            runtime,
            question=turn.content,
            language=language,
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
            search_version=turn.search_version,
            previous=[body for kind, body in turn.history if kind is MessageType.user],
        )
        skip = _skip_model(runtime, language, turn.content, grounding) if guarding else None
        if grounding.direct is not None:
            # A confident match: the FAQ's own answer, without calling the model.
            sources = [grounding.direct]
            parts.append(grounding.direct.answer)
            await hub.publish(gen, "token", {"content": grounding.direct.answer})
            done = StreamDone(model=DIRECT_MODEL, usage=Usage(0, 0))
        elif skip is not None:
            # The best article speaks for the model, or "I don't know".
            honest = _without_model(runtime, language, grounding, turn.content)
            guarded = honest.meta(skip)
            sources = honest.sources
            parts.append(honest.content)
            await hub.publish(gen, "token", {"content": honest.content})
            done = StreamDone(model=honest.model, usage=Usage(0, 0))
        else:
            prompt, sources = build_messages(runtime, turn, grounding.sources)
            cited = {s.id: n for n, s in enumerate(sources, start=1)}
            max_tokens = min(cfg.answer_tokens, llm.context_window // 2)
            watch = guard.LoopWatch() if guarding else None
            async with (
                asyncio.timeout(cfg.timeout_seconds * 2),
                _closing(llm.stream(prompt, max_tokens=max_tokens, temperature=cfg.temperature)) as stream,
            ):
                async for event in stream:
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
                        await hub.publish(gen, "token", {"content": event.text})
                        if watch is not None and watch.feed(event.text):
                            break  # a loop: leaving the block closes the stream, the model stops
                    elif isinstance(event, StreamDone):
                        done = event
            if watch is not None and watch.looped:
                text_so_far = "".join(parts)
                usage = Usage(llm.tokens.count_messages(prompt), llm.tokens.count(text_so_far))
                done = StreamDone(model=llm.model, usage=usage, finish_reason="repetition")
    except LLMError as exc:
        error = f"The assistant is unavailable right now: {exc}"
    except TimeoutError:
        error = "The assistant took too long to answer."
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if gen.stop_requested and task is not None and task.uncancel() == 0:
            stopped = True  # the user's stop, and nothing else (a shutdown) cancelled the task
        else:
            cancelled = True
            error = "The server stopped while answering."
    except Exception as exc:  # the answer must be stored whatever went wrong
        if not gen.stop_requested:
            log.exception("generation.failed", message_id=turn.message_id)
        error = f"The answer failed: {type(exc).__name__}"
    gen.stoppable = False
    if gen.stop_requested and not cancelled and error is not None:
        stopped, error = True, None  # a provider that turned the cancellation into an error of its own
    if done is not None:
        stopped = False  # the model had finished: the answer is whole
    content = "".join(parts)
    if stopped:
        # A stopped answer is kept as given so far, and counted as a finished one: the provider
        # sends no usage when cut off, so it is counted with the model's own tokenizer.
        done = StreamDone(
            model=DIRECT_MODEL if grounding.direct else llm.model,
            usage=Usage(llm.tokens.count_messages(prompt) if prompt else 0, llm.tokens.count(content)),
            finish_reason="stopped",
        )
    if stopped and not content.strip():
        sources = []  # stopped before the first word: no answer, so nothing was drawn from them
    elif guarding and prompt and not cancelled and (content.strip() or (done is not None and error is None)):
        # What the model wrote (whole, stopped or broken off) may only state what it was given.
        finish = done.finish_reason if done else None
        material = [m.content for m in prompt]
        verdict = await asyncio.to_thread(
            lambda: guard.check(content, support=guard.Support(material), language=language, finish_reason=finish)
        )
        if verdict.ok:
            texts = [f"{s.question}\n{s.answer}" for s in sources]
            sources = [sources[i] for i in guard.used_sources(content, len(sources), texts)]
        else:
            honest = _without_model(runtime, language, grounding, turn.content)
            details = verdict.public()
            if finish == "repetition":
                details["stopped_early"] = True  # the model was stopped mid-loop, not run to max_tokens
            guarded = honest.meta(verdict.problem or "unsupported_fact", details)
            log.info("guard.replaced", message_id=turn.message_id, problem=verdict.problem, action=honest.action)
            usage = done.usage if done else Usage(llm.tokens.count_messages(prompt), llm.tokens.count(content))
            content, sources, error, stopped = honest.content, honest.sources, None, False
            cited = {}
            done = StreamDone(model=honest.model, usage=usage)
            await hub.publish(gen, "replace", {"content": content, "reason": verdict.problem})
    flagged = False
    if done is not None and error is None and content and honest is None:
        moderated = await runtime.moderator.check(content)
        if moderated.flagged:
            flagged, content = True, refusal(turn.language)
    status = MessageStatus.sent if error is None else (MessageStatus.partial if content else MessageStatus.failed)
    tokens = done.usage.total_tokens if done else 0
    model = done.model if done else llm.model
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    provider = DIRECT_MODEL if grounding.direct else (honest.model if honest and not prompt else llm.name)
    meta: dict[str, Any] = {"provider": provider}
    if sources:
        meta["sources"] = [_public(s, cited) for s in sources]
    if grounding.direct is not None:
        meta["answered_from_faq"] = grounding.direct.id
    related = [s.public() for s in honest.related] if honest else []
    if related:
        meta["related"] = related
    if guarded:
        meta["guard"] = guarded
    if done:
        meta["usage"] = {"prompt_tokens": done.usage.prompt_tokens, "completion_tokens": done.usage.completion_tokens}
    if error:
        meta["error"] = error
    if flagged:
        meta["output_flagged"] = True
    if stopped:
        meta["stopped"] = True
    timestamp = None
    try:
        async with single_statement(runtime.engine) as conn:
            timestamp = await repo.finish_turn(
                conn,
                message_id=turn.message_id,
                content=content,
                status=status,
                tokens=tokens,
                model=model,
                response_ms=elapsed_ms,
                meta=meta,
            )
    except Exception as exc:
        log.exception("generation.store_failed", message_id=turn.message_id)
        error = error or f"The answer could not be stored: {type(exc).__name__}"
    if grounding.direct is not None:
        origin = "faq"
    elif honest is not None:
        origin = {"article": "guard_faq", "dont_know": "guard_dont_know", "greeting": "guard_greeting"}[honest.action]
    else:
        origin = "failed" if error else ("moderation" if flagged else "model")
    CHAT_ANSWERS.labels(origin).inc()
    if prompt:  # the model was called
        outcome = "cancelled" if cancelled else "stopped" if stopped else "error" if error else "ok"
        AI_REQUEST_COUNT.labels(llm.name, outcome).inc()
        AI_RESPONSE_TIME.labels(llm.name).observe(elapsed_ms / 1000)
        if done is not None:
            AI_TOKEN_USAGE.labels(llm.name, llm.model, "prompt").inc(done.usage.prompt_tokens)
            AI_TOKEN_USAGE.labels(llm.name, llm.model, "completion").inc(done.usage.completion_tokens)
    payload = response_payload(
        turn,
        content=content,
        status=status,
        tokens=tokens,
        model=model,
        response_ms=elapsed_ms,
        timestamp=timestamp,
        flagged=flagged,
        error=error,
        sources=[_public(s, cited) for s in sources],
        stopped=stopped,
        related=related,
        guarded=guarded,
        usage=meta.get("usage"),
    )
    await hub.publish(gen, "error" if error else "response", payload, final=True)
    slow = elapsed_ms >= runtime.settings.push.answer_after_seconds * 1000
    if status is MessageStatus.sent and not cancelled and slow:
        # The user may have left the app meanwhile: their browsers get a push (if they want it),
        # which the service worker shows only when no window of the app is in view.
        await queue_push(runtime, turn.user_id, "answer_ready", {"conversation_id": turn.conversation_id})
    if honest is not None and honest.action == "dont_know" and not cancelled:
        # "I don't know" once too often in this conversation: a person takes over (a rule).
        await after_dont_know(runtime, turn.conversation_id)
    if honest is not None and honest.action == "dont_know" and grounding.sources and not cancelled:
        # Articles matched, yet none could stand in: staff see it among the unanswered questions
        # (recorded once the reply is out; ground() recorded it already when nothing matched).
        await record_declined(
            runtime,
            question=turn.content,
            language=language,
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
        )
    if cancelled:
        raise asyncio.CancelledError


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
    return ("error" if failed else "response"), payload


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
