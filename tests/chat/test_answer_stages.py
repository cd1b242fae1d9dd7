"""The chat turn's stages (chat.answer: _draft -> _guard -> _moderate -> _store -> _publish), each
on its own, and the final event's shape."""

from __future__ import annotations

from datetime import UTC, datetime

from helpline.ai.base import ChatMessage, StreamDone, Usage
from helpline.chat import answer as service
from helpline.chat.answer import Draft, Grounded, Turn
from helpline.core.runtime import Runtime
from helpline.models import MessageStatus, MessageType
from tests.chat.fakes import KeywordModerator

TURN = Turn(
    user_id=1,
    conversation_id=2,
    language="en",
    user_message_id=3,
    message_id=4,
    created_at=datetime(2026, 12, 7, tzinfo=UTC),
    content="How long does shipping take?",
    history=[(MessageType.user, "How long does shipping take?")],
)


def _draft(content: str, *, prompt: list[ChatMessage] | None = None, stopped: bool = False) -> Draft:
    return Draft(
        grounded=Grounded("en"),
        content=content,
        done=None if stopped else StreamDone("scripted-1", Usage(10, 5)),
        prompt=prompt or [],
        sources=[],
        cited={},
        honest=None,
        guarded=None,
        error=None,
        stopped=stopped,
        cancelled=False,
    )


def test_the_final_event_has_the_fields_given_and_the_event_logs_timestamp() -> None:
    when = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    event = service.response_payload(
        TURN,
        content="I don't know.",
        status=MessageStatus.sent,
        model="guard",
        timestamp=when,
        sources=[{"id": 7, "question": "Q?", "slug": "q", "score": 0.5, "n": 1}],
        related=[{"id": 8, "question": "R?", "slug": None, "score": 0.25}],
        guarded={"action": "dont_know", "reason": "no_source"},
        usage={"prompt_tokens": 3, "completion_tokens": 2},
    ).event()
    assert event == {
        "message_id": 4,
        "conversation_id": 2,
        "user_message_id": 3,
        "content": "I don't know.",
        "status": "sent",
        "tokens_used": 0,
        "model_used": "guard",
        "response_time_ms": None,
        "timestamp": "2026-12-07T12:00:00+00:00",
        "flagged": False,
        "sources": [{"id": 7, "question": "Q?", "slug": "q", "score": 0.5, "n": 1}],
        "error": None,
        "stopped": False,
        "related": [{"id": 8, "question": "R?", "slug": None, "score": 0.25}],
        "guard": {"action": "dont_know", "reason": "no_source"},  # no defaults added
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }


async def test_the_guard_replaces_a_fact_the_model_was_not_given(runtime: Runtime) -> None:
    prompt = [ChatMessage("system", "You are a support assistant."), ChatMessage("user", TURN.content)]
    gen = runtime.hub.open(TURN.message_id, TURN.conversation_id, TURN.user_id)
    checked = await service._guard(runtime, TURN, gen, _draft("Shipping takes 17 days and costs $83.", prompt=prompt))
    assert checked.honest is not None
    assert checked.honest.action == "dont_know"
    assert checked.content == checked.honest.content
    assert checked.guarded is not None
    assert checked.guarded["action"] == "dont_know"
    assert checked.error is None
    # What the model was given passes as it is.
    kept = await service._guard(runtime, TURN, gen, _draft("Sorry, could you tell me more?", prompt=prompt))
    assert (kept.content, kept.honest) == ("Sorry, could you tell me more?", None)


async def test_a_stopped_answer_without_words_cites_nothing_and_is_not_checked(runtime: Runtime) -> None:
    gen = runtime.hub.open(TURN.message_id, TURN.conversation_id, TURN.user_id)
    draft = _draft("", prompt=[ChatMessage("user", TURN.content)], stopped=True)
    checked = await service._guard(runtime, TURN, gen, draft)
    assert (checked.content, checked.sources, checked.stopped, checked.honest) == ("", [], True, None)


async def test_moderation_turns_a_flagged_answer_into_the_refusal(runtime: Runtime) -> None:
    runtime.moderator = KeywordModerator()
    gen = runtime.hub.open(TURN.message_id, TURN.conversation_id, TURN.user_id)
    checked = await service._guard(runtime, TURN, gen, _draft("Let us talk about forbidden-topic."))
    moderated = await service._moderate(runtime, TURN, checked)
    assert moderated.flagged
    assert moderated.content == service.refusal("en")
    clean = await service._moderate(runtime, TURN, await service._guard(runtime, TURN, gen, _draft("Hello!")))
    assert (clean.flagged, clean.content) == (False, "Hello!")
