from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class OutboxMail(BaseModel):
    id: str
    to: str
    subject: str
    kind: str = Field(description="password_reset, ...")
    created_at: datetime


class OutboxMailDetail(OutboxMail):
    text: str
    html: str


class OutboxPage(BaseModel):
    items: list[OutboxMail]
    next_before: str | None = Field(description="Pass as ?before= for the next (older) page")
    smtp_configured: bool = Field(description="Mails go to the mail server; the outbox keeps only older ones")
