from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from helpline.chat.schemas import MessageRead
from helpline.core.schemas import NOT_NULL, StrictModel
from helpline.models.enums import MessageType

Tag = Annotated[str, Field(min_length=1, max_length=50)]


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str | None
    language: str
    tags: list[str] | None
    message_count: int
    total_tokens: int
    duration_seconds: int
    is_active: bool
    is_archived: bool
    created_at: datetime
    updated_at: datetime | None
    last_message_at: datetime | None


class SearchMatch(BaseModel):
    """Where a search (`?q=`) matched in a conversation's messages: the newest matching message, as a
    snippet around the match, whitespace collapsed, "…" where it was cut (`before` + `match` +
    `after`; `match` is the text as written, empty when it could not be placed)."""

    message_id: int
    message_type: MessageType
    before: str
    match: str
    after: str


class ConversationHit(ConversationRead):
    match: SearchMatch | None = Field(
        default=None,
        description="With `?q=`: the message text that matched (null when only the title did, or without `q`)",
    )


class ConversationPage(BaseModel):
    items: list[ConversationHit]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end")


class ConversationDetail(ConversationRead):
    context: dict[str, Any] | None = None
    messages: list[MessageRead]
    messages_next_cursor: int | None = Field(
        description="Pass as ?before= to get older messages; null when there are none"
    )


class ConversationUpdate(StrictModel):
    # NOT_NULL: leave out to keep; null is refused (400), so the document does not offer it.
    title: Annotated[Annotated[str, Field(min_length=1, max_length=255)] | None, NOT_NULL] = None
    # Strict: 0 or "yes" is not a boolean (the document says boolean).
    is_archived: Annotated[StrictBool | None, NOT_NULL] = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
