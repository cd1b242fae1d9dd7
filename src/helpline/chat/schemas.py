from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from helpline.chat.facts import FactKind
from helpline.chat.guard import Problem
from helpline.core.ids import Id
from helpline.core.schemas import Language, StrictModel
from helpline.models import Message, MessageStatus, MessageType
from helpline.support.state import HandoffState

ClientId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The client's own id for this message (such as a UUID made before the first try). Sent again "
        "with the same client_id, the message is not stored twice: the answer is the first send's.",
        examples=["6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c10"],
    ),
]


class SendRequest(StrictModel):
    model_config = ConfigDict(extra="forbid", str_max_length=100_000)

    message: Annotated[str, Field(min_length=1, description="The user's message")]
    conversation_id: Id | None = None
    language: Language | None = None
    client_id: ClientId | None = None


class Source(BaseModel):
    id: int
    question: str
    slug: str | None = None
    score: float
    n: int | None = Field(
        default=None,
        description="The number the answer cites it by (`[n]` in `content`), when the model was given it",
        exclude_if=lambda v: v is None,  # left out when the source was not given to the model numbered
    )


class UnsupportedFact(BaseModel):
    kind: FactKind
    text: str


class GuardAction(BaseModel):
    """Why the reply is not the model's own answer (see the grounded-answer guard in the README)."""

    action: Literal["article", "dont_know", "greeting"] = Field(
        description="`article`: the best FAQ's own answer is the reply; `dont_know`: an honest "
        '"I don\'t know", with the closest articles in `related`; `greeting`: small talk ("Hi!") that the model '
        "answered with facts it was not given gets a short greeting saying what the assistant is for"
    )
    reason: Literal[Problem, "language_unsupported", "no_source"] = Field(
        description="`no_source`: no article applies to a question that is not small talk, so the model was not "
        "asked; `language_unsupported`: the model does not write the language, so it was not asked; `repetition`: "
        "the answer looped (`stopped_early`: the model was stopped mid-loop); the others: the model's answer was "
        "replaced"
    )
    stopped_early: bool = Field(default=False, description="The model was stopped as soon as its answer looped")
    unsupported: list[UnsupportedFact] = Field(
        default_factory=list,
        description="The model's facts found in none of the articles, the conversation or the system prompt",
    )


class ChatResponse(BaseModel):
    """The assistant's stored answer (the spec's send response, plus status and sources)."""

    message_id: int
    conversation_id: int
    user_message_id: int
    content: str
    status: MessageStatus
    tokens_used: int
    model_used: str | None
    response_time_ms: int | None
    timestamp: datetime
    flagged: bool = False
    sources: list[Source] = Field(default_factory=list)
    error: str | None = None
    stopped: bool = Field(default=False, description="The user stopped it: `content` is what was written until then")
    related: list[Source] = Field(
        default_factory=list, description='The closest FAQs, offered when the answer is "I don\'t know"'
    )
    guard: GuardAction | None = Field(
        default=None, description="Set when the guard replaced the model's answer (or answered without the model)"
    )
    handoff: HandoffState | None = Field(
        default=None,
        description="Set when a person has the conversation (or this message asked for one): the assistant did not "
        "answer, `content` is empty and `message_id` is the user's stored message; the person's replies arrive as "
        "`agent` events (WebSocket `agent_message` frames, GET /conversations/{id}/events)",
    )


class MessageRead(BaseModel):
    id: int
    conversation_id: int
    message_type: MessageType
    content: str
    status: MessageStatus
    tokens_used: int
    model_used: str | None
    response_time_ms: int | None
    metadata: dict[str, Any] | None = None
    created_at: datetime
    # The caller's own verdict on this answer (POST /messages/{id}/feedback): None when not given.
    feedback: bool | None = None

    @classmethod
    def of(cls, m: Message, feedback: bool | None = None) -> MessageRead:
        """A stored message as the API shows it."""
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            message_type=m.message_type,
            content=m.content,
            status=m.status,
            tokens_used=m.tokens_used,
            model_used=m.model_used,
            response_time_ms=m.response_time_ms,
            metadata=m.meta,
            created_at=m.created_at,
            feedback=feedback,
        )


class FeedbackRequest(StrictModel):
    helpful: StrictBool
    comment: Annotated[str, Field(max_length=2000)] | None = None


class FeedbackRead(BaseModel):
    message_id: int
    helpful: bool
    comment: str | None
    created_at: datetime
    offer_handoff: bool = Field(
        default=False, description='After "Not helpful": offer to talk to a person (POST /conversations/{id}/handoff)'
    )


class WsIncoming(StrictModel):
    """A frame from the client. ``message`` is the spec's format; ``auth``, ``ping`` and ``stop``
    (with ``message_id``: the answer to stop) are ours."""

    model_config = ConfigDict(extra="forbid", str_max_length=100_000)

    type: Literal["message", "ping", "auth", "stop"]
    content: str | None = None
    message_id: Id | None = None
    conversation_id: Id | None = None
    language: Language | None = None
    client_id: ClientId | None = None
    token: str | None = None
