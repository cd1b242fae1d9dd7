"""The API of human handoff: what a user sees (status, expectation) and what agents work with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from helpline.auth.schemas import Email
from helpline.chat.schemas import MessageRead
from helpline.models import HandoffStatus
from helpline.support.state import Expectation, HandoffState

__all__ = ["Expectation", "HandoffState"]

Reason = Literal["user", "phrase", "not_helpful", "no_source", "flagged", "keyword"]


class HandoffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email | None = Field(
        default=None, description="Where to tell a guest (widget) of the reply; a signed-up user's own is used"
    )


class SeenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: Annotated[int, Field(ge=1, le=2_147_483_647, description="The last message id the user has seen")]


class InboxItem(BaseModel):
    conversation_id: int
    title: str | None
    language: str
    status: HandoffStatus
    reason: str | None
    escalated_at: datetime | None
    wait_seconds: int = Field(description="Since the hand-over (waiting), or until the first reply")
    agent_id: int | None
    agent_name: str | None
    user_name: str
    is_guest: bool
    message_count: int
    last_message: str | None
    last_message_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItem]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=5000)]


class NoteRead(BaseModel):
    id: int
    author_id: int | None
    author_name: str | None
    body: str
    created_at: datetime


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: Annotated[str, Field(min_length=1, max_length=8000)]


class AgentConversation(BaseModel):
    """A handed-over conversation as an agent sees it: every message (the assistant's with the
    sources it used, in `metadata.sources`), the internal notes, who has it."""

    conversation_id: int
    title: str | None
    language: str
    status: HandoffStatus
    reason: str | None
    escalated_at: datetime | None
    claimed_at: datetime | None
    agent_id: int | None
    agent_name: str | None
    user_id: int
    user_name: str
    user_email: str | None
    is_guest: bool
    messages: list[MessageRead]
    notes: list[NoteRead]


class CannedReply(BaseModel):
    faq_id: int
    question: str
    answer: str
    language: str


class CannedPage(BaseModel):
    items: list[CannedReply]
