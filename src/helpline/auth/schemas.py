from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StrictBool, model_validator

from helpline.core.schemas import Language, StrictModel
from helpline.models import UserRole, UserStatus

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,49}$")
_TIMEZONES = frozenset(available_timezones())
# The handful of passwords every credential-stuffing list starts with.
_COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "12345678", "123456789", "1234567890",
        "qwerty123", "qwertyuiop", "iloveyou", "letmein123", "admin123", "welcome1",
        "abc12345", "11111111", "00000000", "passw0rd", "changeme", "trustno1",
    }
)  # fmt: skip


def _check_username(v: str) -> str:
    # fullmatch: "$" alone would also let a trailing newline through.
    if not USERNAME_RE.fullmatch(v):
        raise ValueError("must be 3-50 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
    return v


def _check_timezone(v: str) -> str:
    if v not in _TIMEZONES:
        raise ValueError("must be an IANA time zone such as 'UTC' or 'Europe/Paris'")
    return v


def _check_password(v: str) -> str:
    if len(v) < 8:
        raise ValueError("must be at least 8 characters long")
    # bcrypt only reads the first 72 bytes; refuse rather than silently ignore the rest.
    if len(v.encode()) > 72:
        raise ValueError("must be at most 72 bytes (about 72 characters)")
    if v.lower() in _COMMON_PASSWORDS or len(set(v)) < 4:
        raise ValueError("is too easy to guess; choose a longer or less common password")
    return v


def _clean_name(v: str | None) -> str | None:
    if v is None:
        return None
    v = unicodedata.normalize("NFC", v).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in v):
        raise ValueError("must not contain control characters")
    return v or None


# The rules the validators enforce, also in the OpenAPI document (as documentation only: the
# validators keep their messages a person can act on).
Username = Annotated[str, AfterValidator(_check_username), Field(json_schema_extra={"pattern": USERNAME_RE.pattern})]
Password = Annotated[str, AfterValidator(_check_password), Field(json_schema_extra={"minLength": 8})]
Timezone = Annotated[str, AfterValidator(_check_timezone)]
Name = Annotated[str | None, Field(max_length=100), AfterValidator(_clean_name)]
Email = Annotated[EmailStr, Field(max_length=255)]


class RegisterRequest(StrictModel):
    email: Email
    username: Username | None = None
    password: Password
    first_name: Name = None
    last_name: Name = None
    language: Language = "en"
    timezone: Timezone = "UTC"
    gdpr_consent: StrictBool = False
    data_processing_consent: StrictBool
    marketing_consent: StrictBool = False

    @model_validator(mode="after")
    def _consent_and_password(self) -> RegisterRequest:
        if not self.data_processing_consent:
            raise ValueError("data_processing_consent: consent to data processing is required to register")
        pw = self.password.lower()
        local = str(self.email).split("@", 1)[0].lower()
        if (len(local) >= 4 and local in pw) or (self.username and self.username.lower() in pw):
            raise ValueError("password: must not contain your email name or username")
        return self


class LoginRequest(StrictModel):
    """Log in with an email or a username (``login`` accepts either)."""

    login: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    email: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    username: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    password: Annotated[str, Field(min_length=1, max_length=1024)]

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        if not (self.login or self.email or self.username):
            raise ValueError("give 'email' or 'username' (or 'login') with the password")
        return self

    @property
    def identifier(self) -> str:
        return (self.login or self.email or self.username or "").strip()


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class LogoutRequest(StrictModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None


class GuestRequest(StrictModel):
    """Start a guest session from the embeddable widget."""

    site_key: Annotated[str, Field(max_length=200)] | None = None
    language: Language = "en"


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    username: str
    first_name: str | None
    last_name: str | None
    role: UserRole
    status: UserStatus
    avatar_url: str | None
    language: str
    timezone: str
    gdpr_consent: bool
    data_processing_consent: bool
    marketing_consent: bool
    created_at: datetime
    updated_at: datetime | None
    last_login: datetime | None
    is_guest: bool = Field(description="A widget visitor who has not registered (no password, deleted when idle)")
    email_verified: bool = Field(
        default=False, description="The owner opened the link mailed to this email (POST /api/v1/auth/verify-email)"
    )


REGISTER_ACCEPTED = "If this email was not registered, your account is ready: sign in with your password."


class RegisterAccepted(BaseModel):
    """The one answer to a registration, whether it created the account or the email already had
    one: registration does not tell who has an account here. Sign in to find out."""

    status: Literal["accepted"] = "accepted"
    detail: str = REGISTER_ACCEPTED


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")
    user: UserRead


class GuestHandoff(BaseModel):
    """A one-time code that hands this guest's session to the sign-up page."""

    code: str = Field(description="Single use; redeem with POST /api/v1/auth/guest/handoff/redeem")
    expires_in: int = Field(description="Seconds until the code expires")


class HandoffRedeemRequest(StrictModel):
    code: Annotated[str, Field(min_length=1, max_length=200)]


class HandoffAccess(BaseModel):
    """The guest's access token: send it as the bearer of POST /api/v1/auth/register to turn
    that guest (and its conversations) into the new account."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")


class PasswordResetRequest(StrictModel):
    """Ask for a password-reset link by email. ``language`` is the mail's (en, es, fr, de; by
    default the account's)."""

    email: EmailStr
    language: Language | None = None


class PasswordResetAccepted(BaseModel):
    detail: str


class PasswordResetConfirm(StrictModel):
    """Set a new password with the token of a reset link."""

    token: Annotated[str, Field(min_length=16, max_length=200)]
    new_password: Password


class VerifyEmailConfirm(StrictModel):
    """Confirm an email address with the token of the link mailed to it."""

    token: Annotated[str, Field(min_length=16, max_length=200)]


class VerifyEmailResend(StrictModel):
    """Mail the confirmation link again (same answer whether or not it was sent)."""

    email: EmailStr


class EmailVerified(BaseModel):
    email: str
    email_verified: Literal[True] = True
