from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, CreatedAt, Timestamps, TruncatedInet
from helpline.models.enums import ConsentType, UserRole, UserStatus, consent_type, user_role, user_status


class User(Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored lowercased, so the spec's UNIQUE is case-insensitive.
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    username: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[UserRole] = mapped_column(user_role, server_default=UserRole.user.value, nullable=False)
    status: Mapped[UserStatus] = mapped_column(user_status, server_default=UserStatus.active.value, nullable=False)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(10), server_default="en", nullable=False)
    timezone: Mapped[str] = mapped_column(String(50), server_default="UTC", nullable=False)
    gdpr_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), nullable=False)
    data_processing_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), nullable=False)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), nullable=False)
    analytics_consent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), nullable=False)
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the owner opened the link mailed to the current address; a change of email clears it.
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A visitor of the embeddable widget who has not registered: no password, deleted when idle.
    is_guest: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), nullable=False)

    __table_args__ = (
        Index("idx_users_email", "email"),
        Index("idx_users_username", "username"),
        # Login by username is case-insensitive, so usernames must be unique regardless of case.
        Index("uq_users_username_lower", func.lower(username), unique=True),
        # The guest purge scans idle guests only; registered accounts stay out of the index.
        Index("ix_users_guest_created_at", "created_at", postgresql_where=text("is_guest")),
    )

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class RefreshToken(CreatedAt, Base):
    """One issued refresh token. Rotation links tokens of one login into a family."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # Indexed for the retention job (privacy.retention), which deletes tokens long expired.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ip_address: Mapped[str | None] = mapped_column(TruncatedInet)
    user_agent: Mapped[str | None] = mapped_column(String(500))


class RevokedAccessToken(Base):
    """Access tokens revoked before they expire (logout). Rows past expires_at can be purged."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)


class RevokedSession(Base):
    """Logins signed out before their last access token expires (logout, a reused refresh token):
    every access token whose ``sid`` is here is refused. Rows past expires_at can be purged."""

    __tablename__ = "revoked_sessions"

    # The login's refresh-token family id, which its access tokens carry as ``sid``.
    sid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)


class ConsentRecord(CreatedAt, Base):
    """Append-only history of what a user consented to, under which policy, when and from where."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    consent_type: Mapped[ConsentType] = mapped_column(consent_type, nullable=False)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    policy_version: Mapped[str] = mapped_column(String(50), nullable=False)
    ip_address: Mapped[str | None] = mapped_column(TruncatedInet)
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # How it was given: "registration", "web" (the account page), "api".
    source: Mapped[str | None] = mapped_column(String(20))


class AuditLog(CreatedAt, Base):
    """Append-only (a trigger refuses UPDATE and DELETE). Actor ids are plain values, not
    foreign keys, so erasing a user never deletes the trail: the erasure replaces the user's id
    with a keyed pseudonym (the trigger's one allowed UPDATE, privacy.erasure)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(100))
    ip_address: Mapped[str | None] = mapped_column(TruncatedInet)
    user_agent: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    # Set when the actor's account was erased: HMAC of their id, actor_user_id then NULL.
    actor_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)

    __table_args__ = (
        # The admin audit screen's filters (admin.service.read_audit): what happened to one thing,
        # and a time range (the retention job's rules go by age too).
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_created_at", "created_at"),
    )


class PrivacyExport(CreatedAt, Base):
    """A user's request for a copy of their data (GDPR art. 15/20) and, once built, the ZIP itself.
    The archive is kept in the row, not on disk: erasing the account (CASCADE) or purging expired
    exports then removes it with no file to forget, and any instance can serve the download."""

    __tablename__ = "privacy_exports"

    # Random: the id is in the download URL and must not be guessable.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(10), server_default="queued", nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)

    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),)
