from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from helpline.core.schemas import StrictModel
from helpline.models import ModerationDecision, UserRole, UserStatus

QueueStatus = Literal["pending", "reviewed", "all"]

# A moderation category: OpenAI's names ("harassment/threatening", "self-harm") and the local
# classifier's ("profanity") fit; lowercased on the way in.
Category = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9/_-]*$"
    ),
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class Author(BaseModel):
    id: int
    email: str
    username: str
    role: UserRole
    status: UserStatus
    is_guest: bool


class ReviewRead(BaseModel):
    id: int
    decision: ModerationDecision
    note: str | None
    reviewer_id: int | None = Field(description="Null once the reviewer's account was erased")
    reviewer_username: str | None
    created_at: datetime


class QueueItem(BaseModel):
    message_id: int
    conversation_id: int
    author: Author | None = Field(description="The message's author (null only for a message with no author)")
    text: str = Field(description="The message as the user wrote it: plain text, never render it as HTML")
    categories: list[str]
    source: str = Field(description="Who flagged it: the moderator that checked it (local, openai) or staff")
    flag_note: str | None = Field(description="The note of a member of staff who flagged it by hand")
    created_at: datetime
    review: ReviewRead | None = Field(description="The latest review; null while the message is pending")


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None = Field(description="Pass as cursor for the next (older) page; null on the last page")


class ModerationCategory(BaseModel):
    category: str
    pending: int = Field(description="Flagged messages in this category waiting for a review")
    total: int = Field(description="Flagged messages in this category, reviewed or not")


class ModerationCategories(BaseModel):
    items: list[ModerationCategory]
    pending: int = Field(description="Flagged messages waiting for a review, in all (one may have several categories)")


class ReviewCreate(StrictModel):
    decision: ModerationDecision = Field(
        description="dismiss: the flag was wrong; confirm: abusive, no action; suspend_user: abusive, and the "
        "author's account is suspended (their sessions end and open chat sockets close)"
    )
    note: Note | None = None


class FlagCreate(StrictModel):
    category: Category
    note: Note | None = None
