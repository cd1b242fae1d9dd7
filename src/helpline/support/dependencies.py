"""The ``agent`` capability: who may work the handoff inbox. Moderators and admins (staff), no
role of its own: the roles are the spec's enum (user, moderator, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from helpline.auth.dependencies import require_role
from helpline.models import User, UserRole

AGENT_ROLES = (UserRole.moderator, UserRole.admin)


def is_agent(user: User) -> bool:
    return user.role in AGENT_ROLES


AgentUser = Annotated[User, Depends(require_role(*AGENT_ROLES))]
