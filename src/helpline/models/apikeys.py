from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, CreatedAt


class ApiKey(CreatedAt, Base):
    """A user's key for the OpenAI-compatible API (helpline.openai_api): ``hl_<prefix>_<secret>``.
    Only the prefix (to find the key and show it) is kept in clear; the whole key is kept as its
    SHA-256, as password-reset tokens are (a key is 256 random bits: a slow hash adds nothing).
    Revoked keys stay listed, with when they were last used, until their user is deleted."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(20)), nullable=False)
    # Written at most once a minute per key (apikeys.service.TOUCH_EVERY), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # By the user or an administrator (the audit trail says who).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
