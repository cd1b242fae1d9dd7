"""Append-only audit trail of security- and privacy-relevant actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgi_correlation_id import correlation_id
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.models import AuditLog


@dataclass(frozen=True)
class Client:
    """Where a request came from, as recorded in the audit trail and consent records."""

    ip: str | None
    user_agent: str | None


NO_CLIENT = Client(None, None)


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_user_id: int | None,
    target_type: str | None = "user",
    target_id: object | None = None,
    client: Client = NO_CLIENT,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction (it lands only if the request commits).
    The target defaults to the actor's own account."""
    if target_id is None and target_type == "user":
        target_id = actor_user_id
    session.add(
        AuditLog(
            actor_user_id=actor_user_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            ip_address=client.ip,
            user_agent=client.user_agent,
            request_id=correlation_id.get(),
            details=details,
        )
    )
