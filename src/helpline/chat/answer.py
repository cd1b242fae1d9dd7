"""A chat turn's answer, in stages with typed values between them (STYLE.md, "Pipelines in
named stages"): ``generate`` runs

- ``_draft`` (grounding, then the FAQ's, the guard's or the model's words, streamed; whatever
  interrupts it, the answer as far as it got) -> ``Draft``,
- ``_guard`` (what the model wrote may only state what it was given: kept, trimmed to the
  sources it used, or replaced) and ``_moderate`` (the answer's own moderation) -> ``Checked``,
- ``_store`` (one statement) -> ``Stored``,
- ``_publish`` (metrics, the final event, a push, the follow-ups of "I don't know").

chat.service stores the question and launches this; the final event is an ``AnswerEvent``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import structlog

from helpline.ai.base import ChatMessage, LLMError, StreamDone, StreamEvent, TextDelta, Usage
from helpline.chat import guard
from helpline.chat import repository as repo
from helpline.chat.grounding import Bar, Grounding, Source, ground, record_declined
from helpline.chat.honest import DIRECT_MODEL, Fallback, fallback
from helpline.chat.schemas import AnswerEvent, GuardAction
from helpline.chat.schemas import Source as SourceRead
from helpline.chat.smalltalk import small_talk
from helpline.core.db import single_statement
from helpline.core.metrics import AI_REQUEST_COUNT, AI_RESPONSE_TIME, AI_TOKEN_USAGE, CHAT_ANSWERS
from helpline.core.ratelimit import Quota
from helpline.core.runtime import Runtime
from helpline.models import MessageStatus, MessageType
from helpline.platform.hub import Generation
from helpline.push.service import queue_push
from helpline.support.relay import after_dont_know

log = structlog.get_logger(__name__)

# A finished answer whose store fails (the database restarting, a failover) is stored again for
# this long, backing off, before it is given up as failed: a restart loses no answer.
STORE_RETRY_SECONDS = 30.0
STORE_RETRY_MAX_DELAY = 2.0
# Questions up to this long have their language detected on the event loop (_ground).
INLINE_LANGUAGE_CHARS = 1000

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
) -> AnswerEvent:
    """The final event of a turn (the stored answer). ``usage``: the model's prompt and completion
    tokens when it was asked (the OpenAI-compatible API reports them; ChatResponse leaves them out)."""
    return AnswerEvent(
        message_id=turn.message_id,
        conversation_id=turn.conversation_id,
        user_message_id=turn.user_message_id,
        content=content,
        status=status,
        tokens_used=tokens,
        model_used=model,
        response_time_ms=response_ms,
        timestamp=timestamp or datetime.now(UTC),
        flagged=flagged,
        sources=[SourceRead.model_validate(s) for s in sources or []],
        error=error,
        stopped=stopped,
        related=[SourceRead.model_validate(s) for s in related or []],
        guard=None if guarded is None else GuardAction.model_validate(guarded),
        usage=usage,
    )


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


@dataclass(frozen=True, slots=True)
class Grounded:
    """What the knowledge base has for the question, in the language searched, and why the guard
    answers without the model (None: the model is asked)."""

    language: str  # the conversation's, or the question's own when plainly another
    grounding: Grounding = field(default_factory=Grounding)
    skip: str | None = None


@dataclass(slots=True)
class _Writing:
    """The answer while it is written: kept as far as it got whatever interrupts it (an error, a
    timeout, the user's Stop), so _draft can store what was written until then."""

    parts: list[str] = field(default_factory=list)
    done: StreamDone | None = None
    prompt: list[ChatMessage] = field(default_factory=list)  # empty: the model was not asked
    sources: list[Source] = field(default_factory=list)
    cited: dict[int, int] = field(default_factory=dict)  # a source's id -> its number in the prompt ([n])
    honest: Fallback | None = None  # what the guard answered instead of the model
    guarded: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """The answer as written (the FAQ's, the guard's or the model's), before the guard reads it."""

    grounded: Grounded
    content: str
    done: StreamDone | None  # None: it did not finish (error, or stopped before the model began)
    prompt: list[ChatMessage]
    sources: list[Source]
    cited: dict[int, int]
    honest: Fallback | None
    guarded: dict[str, Any] | None
    error: str | None
    stopped: bool  # the user's Stop: the answer is what was written until then
    cancelled: bool  # the server stopped while answering (the task is cancelled again at the end)


@dataclass(frozen=True, slots=True)
class Checked:
    """The answer as it will be stored: the guard's reading of it, then its moderation."""

    draft: Draft
    content: str
    done: StreamDone | None
    sources: list[Source]
    cited: dict[int, int]
    honest: Fallback | None
    guarded: dict[str, Any] | None
    error: str | None
    stopped: bool
    flagged: bool = False  # the answer's own moderation replaced it with a refusal


@dataclass(frozen=True, slots=True)
class Stored:
    """The answer as stored (``error`` also when storing it failed)."""

    checked: Checked
    status: MessageStatus
    tokens: int
    model: str
    elapsed_ms: int
    meta: dict[str, Any]
    related: list[dict[str, Any]]
    timestamp: datetime | None  # None: it could not be stored
    error: str | None


async def generate(runtime: Runtime, turn: Turn, gen: Generation) -> None:
    """Stream the model's answer into the event log, then store it, whatever happens."""
    started = time.perf_counter()
    await runtime.hub.publish(gen, "typing", {"user_message_id": turn.user_message_id, "message_id": turn.message_id})
    draft = await _draft(runtime, turn, gen)
    checked = await _moderate(runtime, turn, await _guard(runtime, turn, gen, draft))
    stored = await _store(runtime, turn, checked, int((time.perf_counter() - started) * 1000))
    await _publish(runtime, turn, gen, stored)
    if draft.cancelled:
        raise asyncio.CancelledError


async def _ground(runtime: Runtime, turn: Turn) -> Grounded:
    """The question's FAQs, and whether the guard answers without the model."""
    guarding = runtime.settings.guard.enabled
    language = turn.language
    if guarding:
        # Searched in the question's own language too: a Spanish question in an English
        # conversation finds the Spanish article first, when there is one.
        # py3langid reads a usual question in about 0.1 ms, less than a thread hop costs (and the
        # hop's wait for the GIL); a long one, which may take milliseconds, goes to a thread.
        if len(turn.content) <= INLINE_LANGUAGE_CHARS:
            language = guard.question_language(turn.content, turn.language)
        else:
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
    return Grounded(language, grounding, skip)


async def _write(runtime: Runtime, turn: Turn, gen: Generation, grounded: Grounded, writing: _Writing) -> None:
    """The answer's words, published as they come into ``writing``: a confident match's own
    answer, the guard's reply without the model, or the model's answer streamed."""
    hub, llm, cfg = runtime.hub, runtime.llm, runtime.settings.llm
    grounding = grounded.grounding
    if grounding.direct is not None:
        # A confident match: the FAQ's own answer, without calling the model.
        writing.sources = [grounding.direct]
        writing.parts.append(grounding.direct.answer)
        await hub.publish(gen, "token", {"content": grounding.direct.answer})
        writing.done = StreamDone(model=DIRECT_MODEL, usage=Usage(0, 0))
        return
    if grounded.skip is not None:
        # The best article speaks for the model, or "I don't know".
        honest = _without_model(runtime, grounded.language, grounding, turn.content)
        writing.honest, writing.guarded, writing.sources = honest, honest.meta(grounded.skip), honest.sources
        writing.parts.append(honest.content)
        await hub.publish(gen, "token", {"content": honest.content})
        writing.done = StreamDone(model=honest.model, usage=Usage(0, 0))
        return
    writing.prompt, writing.sources = build_messages(runtime, turn, grounding.sources)
    writing.cited = {s.id: n for n, s in enumerate(writing.sources, start=1)}
    max_tokens = min(cfg.answer_tokens, llm.context_window // 2)
    watch = guard.LoopWatch() if runtime.settings.guard.enabled else None
    async with (
        asyncio.timeout(cfg.timeout_seconds * 2),
        _closing(llm.stream(writing.prompt, max_tokens=max_tokens, temperature=cfg.temperature)) as stream,
    ):
        async for event in stream:
            if isinstance(event, TextDelta):
                writing.parts.append(event.text)
                await hub.publish(gen, "token", {"content": event.text})
                if watch is not None and watch.feed(event.text):
                    break  # a loop: leaving the block closes the stream, the model stops
            elif isinstance(event, StreamDone):
                writing.done = event
    if watch is not None and watch.looped:
        usage = Usage(llm.tokens.count_messages(writing.prompt), llm.tokens.count("".join(writing.parts)))
        writing.done = StreamDone(model=llm.model, usage=usage, finish_reason="repetition")


async def _draft(runtime: Runtime, turn: Turn, gen: Generation) -> Draft:
    """Ground the question and write the answer; whatever interrupts it (the model failing or
    too slow, the user's Stop, a shutdown, a bug), the answer as far as it got."""
    llm = runtime.llm
    grounded = Grounded(turn.language)
    writing = _Writing()
    error: str | None = None
    cancelled = stopped = False
    # From here until the model is done, the user's Stop cancels this task (Generation.request_stop).
    gen.stoppable = True
    try:
        if gen.stop_requested:
            raise asyncio.CancelledError  # stopped before it started: handled as any stop
        grounded = await _ground(runtime, turn)
        await _write(runtime, turn, gen, grounded, writing)
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
    done = writing.done
    if done is not None:
        stopped = False  # the model had finished: the answer is whole
    content = "".join(writing.parts)
    prompt = writing.prompt
    if stopped:
        # A stopped answer is kept as given so far, and counted as a finished one: the provider
        # sends no usage when cut off, so it is counted with the model's own tokenizer.
        done = StreamDone(
            model=DIRECT_MODEL if grounded.grounding.direct else llm.model,
            usage=Usage(llm.tokens.count_messages(prompt) if prompt else 0, llm.tokens.count(content)),
            finish_reason="stopped",
        )
    return Draft(
        grounded=grounded,
        content=content,
        done=done,
        prompt=prompt,
        sources=writing.sources,
        cited=writing.cited,
        honest=writing.honest,
        guarded=writing.guarded,
        error=error,
        stopped=stopped,
        cancelled=cancelled,
    )


async def _guard(runtime: Runtime, turn: Turn, gen: Generation, draft: Draft) -> Checked:
    """The guard: what the model wrote (whole, stopped or broken off) may only state what it was
    given. Kept (citing only the sources it used), or replaced by the best article or an honest
    "I don't know" (a ``replace`` event tells the client)."""
    checked = Checked(
        draft=draft,
        content=draft.content,
        done=draft.done,
        sources=draft.sources,
        cited=draft.cited,
        honest=draft.honest,
        guarded=draft.guarded,
        error=draft.error,
        stopped=draft.stopped,
    )
    content, done, prompt = draft.content, draft.done, draft.prompt
    if draft.stopped and not content.strip():
        return replace(checked, sources=[])  # stopped before the first word: nothing drawn from them
    answered = content.strip() or (done is not None and draft.error is None)
    if not (runtime.settings.guard.enabled and prompt and not draft.cancelled and answered):
        return checked
    llm, language = runtime.llm, draft.grounded.language
    finish = done.finish_reason if done else None
    material = [m.content for m in prompt]
    verdict = await asyncio.to_thread(
        lambda: guard.check(content, support=guard.Support(material), language=language, finish_reason=finish)
    )
    if verdict.ok:
        texts = [f"{s.question}\n{s.answer}" for s in draft.sources]
        return replace(
            checked, sources=[draft.sources[i] for i in guard.used_sources(content, len(draft.sources), texts)]
        )
    honest = _without_model(runtime, language, draft.grounded.grounding, turn.content)
    details = verdict.public()
    if finish == "repetition":
        details["stopped_early"] = True  # the model was stopped mid-loop, not run to max_tokens
    log.info("guard.replaced", message_id=turn.message_id, problem=verdict.problem, action=honest.action)
    usage = done.usage if done else Usage(llm.tokens.count_messages(prompt), llm.tokens.count(content))
    await runtime.hub.publish(gen, "replace", {"content": honest.content, "reason": verdict.problem})
    return replace(
        checked,
        content=honest.content,
        done=StreamDone(model=honest.model, usage=usage),
        sources=honest.sources,
        cited={},
        honest=honest,
        guarded=honest.meta(verdict.problem or "unsupported_fact", details),
        error=None,
        stopped=False,
    )


async def _moderate(runtime: Runtime, turn: Turn, checked: Checked) -> Checked:
    """The model's finished answer is moderated too: a flagged one becomes the polite refusal."""
    if checked.done is None or checked.error is not None or not checked.content or checked.honest is not None:
        return checked
    if not (await runtime.moderator.check(checked.content)).flagged:
        return checked
    return replace(checked, flagged=True, content=refusal(turn.language))


async def _store(runtime: Runtime, turn: Turn, checked: Checked, elapsed_ms: int) -> Stored:
    """The answer stored in its placeholder row (one statement), with how it came about in its
    metadata; a failure to store it becomes the answer's error."""
    llm, draft, done, error = runtime.llm, checked.draft, checked.done, checked.error
    unfinished = MessageStatus.partial if checked.content else MessageStatus.failed
    status = MessageStatus.sent if error is None else unfinished
    direct = draft.grounded.grounding.direct
    honest = checked.honest
    provider = DIRECT_MODEL if direct else (honest.model if honest and not draft.prompt else llm.name)
    meta: dict[str, Any] = {"provider": provider}
    if checked.sources:
        meta["sources"] = [_public(s, checked.cited) for s in checked.sources]
    if direct is not None:
        meta["answered_from_faq"] = direct.id
    related = [s.public() for s in honest.related] if honest else []
    if related:
        meta["related"] = related
    if checked.guarded:
        meta["guard"] = checked.guarded
    if done:
        meta["usage"] = {"prompt_tokens": done.usage.prompt_tokens, "completion_tokens": done.usage.completion_tokens}
    if error:
        meta["error"] = error
    if checked.flagged:
        meta["output_flagged"] = True
    if checked.stopped:
        meta["stopped"] = True
    tokens = done.usage.total_tokens if done else 0
    model = done.model if done else llm.model
    timestamp = None
    try:
        timestamp = await _store_answer(
            runtime,
            message_id=turn.message_id,
            content=checked.content,
            status=status,
            tokens=tokens,
            model=model,
            response_ms=elapsed_ms,
            meta=meta,
        )
    except Exception as exc:
        log.exception("generation.store_failed", message_id=turn.message_id)
        error = error or f"The answer could not be stored: {type(exc).__name__}"
        # Its followers are told what is stored: nothing, so the answer failed (the sweep marks the
        # row so once nobody could be generating it any more; then it can be retried).
        status = MessageStatus.failed
    return Stored(checked, status, tokens, model, elapsed_ms, meta, related, timestamp, error)


async def _store_answer(runtime: Runtime, *, message_id: int, **values: Any) -> datetime | None:
    """repo.finish_turn, tried again while the database is unreachable (for up to
    STORE_RETRY_SECONDS); the last error is raised."""
    give_up = time.monotonic() + STORE_RETRY_SECONDS
    delay = 0.1
    while True:
        try:
            async with single_statement(runtime.engine) as conn:
                return await repo.finish_turn(conn, message_id=message_id, **values)
        except Exception as exc:
            if time.monotonic() + delay > give_up:
                raise
            log.warning("generation.store_retry", message_id=message_id, error=type(exc).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX_DELAY)


async def _publish(runtime: Runtime, turn: Turn, gen: Generation, stored: Stored) -> None:
    """Count the answer, send its final event, and what follows it: a push when it took long, a
    person after too many "I don't know", the question among the unanswered ones."""
    llm, checked = runtime.llm, stored.checked
    draft, honest, error, done = checked.draft, checked.honest, stored.error, checked.done
    cancelled, grounding = draft.cancelled, draft.grounded.grounding
    if grounding.direct is not None:
        origin = "faq"
    elif honest is not None:
        origin = {"article": "guard_faq", "dont_know": "guard_dont_know", "greeting": "guard_greeting"}[honest.action]
    else:
        origin = "failed" if error else ("moderation" if checked.flagged else "model")
    CHAT_ANSWERS.labels(origin).inc()
    if draft.prompt:  # the model was called
        outcome = "cancelled" if cancelled else "stopped" if checked.stopped else "error" if error else "ok"
        AI_REQUEST_COUNT.labels(llm.name, outcome).inc()
        AI_RESPONSE_TIME.labels(llm.name).observe(stored.elapsed_ms / 1000)
        if done is not None:
            AI_TOKEN_USAGE.labels(llm.name, llm.model, "prompt").inc(done.usage.prompt_tokens)
            AI_TOKEN_USAGE.labels(llm.name, llm.model, "completion").inc(done.usage.completion_tokens)
    answer = response_payload(
        turn,
        content=checked.content,
        status=stored.status,
        tokens=stored.tokens,
        model=stored.model,
        response_ms=stored.elapsed_ms,
        timestamp=stored.timestamp,
        flagged=checked.flagged,
        error=error,
        sources=[_public(s, checked.cited) for s in checked.sources],
        stopped=checked.stopped,
        related=stored.related,
        guarded=checked.guarded,
        usage=stored.meta.get("usage"),
    )
    await runtime.hub.publish(gen, "error" if error else "response", answer.event(), final=True)
    slow = stored.elapsed_ms >= runtime.settings.push.answer_after_seconds * 1000
    if stored.status is MessageStatus.sent and not cancelled and slow:
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
            language=draft.grounded.language,
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
        )
