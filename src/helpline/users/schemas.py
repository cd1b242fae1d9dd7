from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, HttpUrl, StrictBool, model_validator

from helpline.auth.schemas import Email, Name, Password, Timezone, Username, UserRead
from helpline.core.schemas import NOT_NULL, Language, StrictModel
from helpline.models import UserRole, UserStatus


class UserUpdate(StrictModel):
    """Fields a user may change on their own account. Changing the email needs the current password."""

    first_name: Name = None
    last_name: Name = None
    # NOT_NULL: leave out to keep; null is refused (400), so the document does not offer it.
    username: Annotated[Username | None, NOT_NULL] = None
    email: Annotated[Email | None, NOT_NULL] = None
    avatar_url: Annotated[HttpUrl, Field(max_length=500)] | None = None
    language: Annotated[Language | None, NOT_NULL] = None
    timezone: Annotated[Timezone | None, NOT_NULL] = None
    marketing_consent: Annotated[StrictBool | None, NOT_NULL] = None
    current_password: Annotated[str, Field(max_length=1024)] | None = None

    @model_validator(mode="after")
    def _email_needs_password(self) -> UserUpdate:
        if self.email is not None and not self.current_password:
            raise ValueError("current_password: required to change the email address")
        return self


class PasswordChange(StrictModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class AdminUserUpdate(StrictModel):
    role: UserRole | None = None
    status: UserStatus | None = None


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null at the end")
