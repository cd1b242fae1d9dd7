"""Who is calling, as the domains see it once the caller is checked (auth.access.load_caller)."""

from __future__ import annotations

from dataclasses import dataclass

from helpline.models import UserRole


@dataclass(frozen=True, slots=True)
class Caller:
    """A checked caller: what chat and knowledge-base reads use of the user, without an ORM entity."""

    id: int
    language: str
    role: UserRole
    # Consent to the processing of their messages (privacy): chat refuses a caller without it.
    processing_consent: bool = True
