"""Reading the outbox in tests: mails are made and written by jobs just after the response."""

from __future__ import annotations

from pathlib import Path

from helpline.notifications.mail import StoredMail, list_outbox
from tests.privacy.conftest import eventually


async def mailed(outbox: Path, *, to: str, kind: str, count: int = 1) -> list[StoredMail]:
    """The mails of ``kind`` to ``to``, newest first, once ``count`` of them are there."""
    found: list[StoredMail] = []

    async def there() -> bool:
        found[:] = [m for m in list_outbox(outbox, limit=100) if m.to == to and m.kind == kind]
        return len(found) >= count

    await eventually(there)
    return found
