"""SQL shared by the FAQ services: slug allocation, constraint names of integrity errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from helpline.core.errors import Conflict
from helpline.faqs.slugs import like_prefix


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an INSERT/UPDATE broke (asyncpg reports it)."""
    cause = getattr(exc.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None


async def taken_slugs(session: AsyncSession, column: InstrumentedAttribute[Any], base: str) -> list[str]:
    """Slugs in use among ``base`` and its numbered variants ``base-2``, ``base-3``..."""
    stmt = select(column).where(or_(column == base, column.like(like_prefix(base), escape="\\")))
    return [str(s) for s in (await session.scalars(stmt)).all()]


async def flush_with_unique_slug(
    session: AsyncSession,
    obj: Any,
    *,
    slug: str | None,
    make: Callable[[], Awaitable[str]],
    constraint: str,
    attempts: int = 5,
) -> None:
    """Give ``obj`` its slug and flush it. A chosen ``slug`` that is taken is a 409; a generated
    one (``make()``) is chosen again if a concurrent request took it between check and insert."""
    for _ in range(attempts):
        obj.slug = slug if slug is not None else await make()
        try:
            async with session.begin_nested():
                session.add(obj)
                await session.flush()
            return
        except IntegrityError as exc:
            if violated_constraint(exc) != constraint:
                raise
            if slug is not None:
                raise Conflict(f"The slug '{slug}' is already used; choose another") from None
    raise Conflict("Could not find a free slug; try again")
