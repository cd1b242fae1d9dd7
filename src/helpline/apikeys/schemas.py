from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from helpline.core.schemas import StrictModel


class Scope(StrEnum):
    """What a key may do: ``chat`` the OpenAI-compatible chat (/v1/chat/completions, /v1/models),
    ``search`` the knowledge base's search (/api/v1/faqs/search) as its user, ``admin_read`` (staff
    only) GET on the staff routes its user's role may read (auth.dependencies.staff_caller)."""

    chat = "chat"
    search = "search"
    admin_read = "admin_read"


KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ApiKeyCreate(StrictModel):
    name: KeyName = Field(description="What the key is for, such as 'Open WebUI' or 'build script'")
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.chat], min_length=1, description="`admin_read` only for staff"
    )


class ApiKeyRead(BaseModel):
    """A key as listed: never its secret."""

    id: int
    name: str
    prefix: str = Field(description="The start of the key (`hl_<prefix>_…`), to tell keys apart")
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Within a minute")
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The whole key: shown this once, only its hash is kept")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]


class AdminApiKeyRead(ApiKeyRead):
    user_id: int
    user_email: str


class AdminApiKeyPage(BaseModel):
    items: list[AdminApiKeyRead]
    next_cursor: str | None = None
