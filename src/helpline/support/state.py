"""What a user is shown of a hand-over: who has the conversation and what to expect (also part
of the chat's responses, so this module imports nothing of chat)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from helpline.models import HandoffStatus


class Expectation(BaseModel):
    """What the user is honestly told while waiting for a person."""

    kind: Literal["reply_within", "closed"] = Field(
        description="`reply_within`: people are at work, one usually replies within `minutes`; `closed`: outside "
        "`opening_hours`, a person replies when they open"
    )
    minutes: int | None = Field(default=None, description="A person usually replies within this many minutes")
    opening_hours: str | None = Field(default=None, description="Such as `mon-fri 09:00-17:00`, in `timezone`")
    timezone: str | None = None
    email: bool = Field(description="The reply will be emailed if the user is not here to see it")


class HandoffState(BaseModel):
    status: HandoffStatus
    expectation: Expectation | None = Field(
        default=None, description="Set while waiting for (or talking with) a person"
    )
    agent_name: str | None = Field(default=None, description="The person handling the conversation")
    escalated_at: datetime | None = None
