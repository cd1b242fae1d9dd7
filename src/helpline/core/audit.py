"""Append-only audit trail of security- and privacy-relevant actions."""

from __future__ import annotations

from typing import Any

from asgi_correlation_id import correlation_id
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.models import AuditLog


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_user_id: int | None,
    target_type: str | None = None,
    target_id: object | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction (it lands only if the request commits)."""
    session.add(
        AuditLog(
            actor_user_id=actor_user_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            ip_address=ip_address,
            user_agent=user_agent,
            request_id=correlation_id.get(),
            details=details,
        )
    )
