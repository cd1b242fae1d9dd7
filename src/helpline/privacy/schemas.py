from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, model_validator

from helpline.core.schemas import StrictModel


class Consents(BaseModel):
    data_processing: bool = Field(description="Processing of your messages to answer them; chat needs it")
    marketing: bool
    analytics: bool
    policy_version: str = Field(description="The privacy policy in force")
    accepted_policy_version: str | None = Field(
        description="The policy version of your latest data-processing consent (null: never given)"
    )
    needs_reconsent: bool = Field(
        description="True when the policy changed since you last gave data-processing consent, or it is withdrawn"
    )


class ConsentUpdate(StrictModel):
    """The consents to change; the others keep their value. Each change is recorded with the policy
    version in force, the time and where it came from."""

    data_processing: StrictBool | None = None
    marketing: StrictBool | None = None
    analytics: StrictBool | None = None
    source: Literal["web", "api"] = "api"

    @model_validator(mode="after")
    def _something(self) -> ConsentUpdate:
        if self.data_processing is None and self.marketing is None and self.analytics is None:
            raise ValueError("give at least one of data_processing, marketing, analytics")
        return self


class ExportRead(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    size_bytes: int | None
    download_url: str | None = Field(description="GET it with your access token while the export is done and unexpired")


class AccountErasure(StrictModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]


class RetentionRun(BaseModel):
    at: datetime = Field(description="When the run finished")
    counts: dict[str, int] = Field(description="Rows removed per rule (addresses cleared, for audit_ips)")


class RetentionStatus(BaseModel):
    """How long data is kept (HELPLINE_RETENTION_*; 0 days: for ever) and the latest run that
    removed something."""

    enabled: bool = Field(description="Whether the server runs the job by itself")
    interval_minutes: int
    conversation_days: int = Field(description="Conversations untouched for this long are deleted")
    refresh_token_days: int = Field(description="Refresh tokens this long past expiry or revocation")
    consent_days: int = Field(description="Consent records this long after a newer choice replaced them")
    audit_ip_days: int = Field(description="Audit entries keep their client address this long")
    audit_days: int = Field(description="Audit entries themselves")
    last_removal: RetentionRun | None = Field(description="Null: no run has removed anything yet")
