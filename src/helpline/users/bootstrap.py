"""The first administrator, created on first start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.service import create_user
from helpline.core import audit
from helpline.core.errors import Conflict
from helpline.core.runtime import Runtime
from helpline.models import User, UserRole

DEFAULT_ADMIN_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class AdminBootstrap:
    email: str
    created: bool
    generated_password: str | None = None


async def ensure_admin(
    session: AsyncSession, runtime: Runtime, email: str | None, password: str | None
) -> AdminBootstrap:
    """Create an admin if there is none. A generated password is returned once, to be shown once."""
    existing = await session.scalar(select(User).where(User.role == UserRole.admin).limit(1))
    if existing is not None:
        return AdminBootstrap(existing.email, created=False)
    email = (email or DEFAULT_ADMIN_EMAIL).strip().lower()
    if await session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(
            f"HELPLINE_ADMIN_EMAIL {email} belongs to an existing non-admin account; "
            "choose another email or promote it with `helpline create-admin`"
        )
    generated = None if password else secrets.token_urlsafe(12)
    user = await create_user(
        session,
        runtime,
        email=email,
        password=password or generated or "",
        username="admin",
        role=UserRole.admin,
        gdpr_consent=True,
        data_processing_consent=True,
    )
    audit.record(session, "admin.bootstrapped", actor_user_id=None, target_type="user", target_id=user.id)
    return AdminBootstrap(email, created=True, generated_password=generated)
