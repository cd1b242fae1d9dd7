"""The administration API's shapes: accounts as staff see them, their usage, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from helpline.models import UserRole, UserStatus


class AdminUserRead(BaseModel):
    id: int
    email: str
    username: str
    role: UserRole
    status: UserStatus
    is_guest: bool
    created_at: datetime
    last_login_at: datetime | None = Field(description="The last successful sign-in")


class AdminUserPage(BaseModel):
    items: list[AdminUserRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null at the end")


class UserUsage(BaseModel):
    conversations: int
    messages: int = Field(description="Messages in the user's conversations (theirs and the assistant's)")
    feedback_given: int = Field(description="Answers the user rated")
    faq_votes: int
    total_tokens: int
    last_activity_at: datetime | None = Field(description="The later of the last message and the last sign-in")


class AdminUserDetail(AdminUserRead):
    first_name: str | None
    last_name: str | None
    language: str
    timezone: str
    updated_at: datetime | None
    password_changed_at: datetime | None
    gdpr_consent: bool
    data_processing_consent: bool
    marketing_consent: bool
    analytics_consent: bool
    usage: UserUsage


class AuditEntry(BaseModel):
    id: int
    created_at: datetime
    actor_user_id: int | None
    actor_pseudonym: str | None = Field(description="Set instead of actor_user_id once the actor's account was erased")
    action: str
    target_type: str | None
    target_id: str | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any] | None
    note: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get older entries; null at the end")
