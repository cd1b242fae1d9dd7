from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool


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


class NotificationChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "push"]
    kind: Literal["export_ready", "human_reply", "answer_ready", "admin_alerts"]
    enabled: StrictBool


class NotificationSettings(BaseModel):
    settings: list[NotificationChoice] = Field(description="Every kind this account can get, on every channel")
    always_sent: list[str] = Field(description="Security mails, which no setting turns off")


class NotificationSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: list[NotificationChoice] = Field(min_length=1, max_length=20)
