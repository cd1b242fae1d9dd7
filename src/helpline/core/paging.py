"""The page a list route is asked for (``cursor``, ``limit``): one dependency for the staff lists
(admin users and audit, moderation queue, analytics drill-down).

No ``from __future__ import annotations`` here: ``paging()``'s bounds go into the annotations of
the function it makes, which FastAPI must read as objects, not as strings naming local variables.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query


@dataclass(frozen=True, slots=True)
class Paging:
    cursor: str | None  # the previous page's next_cursor; None for the first page
    limit: int


def paging(*, default: int = 50, maximum: int = 100) -> Callable[..., Paging]:
    """A dependency reading ``cursor`` (opaque, from the previous page) and ``limit`` (1 to
    ``maximum``, ``default`` when left out)."""

    def dependency(
        cursor: Annotated[str | None, Query(max_length=100, description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=maximum)] = default,
    ) -> Paging:
        return Paging(cursor, limit)

    return dependency
