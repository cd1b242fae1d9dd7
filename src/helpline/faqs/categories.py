"""FAQ categories: one level of nesting, stable unique slugs, an explicit sort order."""

from __future__ import annotations

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import BadRequest, Conflict, NotFound
from helpline.core.ids import MAX_ID
from helpline.faqs.repository import flush_with_unique_slug, taken_slugs
from helpline.faqs.schemas import CategoryCreate, CategoryUpdate
from helpline.faqs.slugs import next_free, slugify
from helpline.models import FAQCategory

SLUG_MAX = 120


async def list_categories(session: AsyncSession) -> list[FAQCategory]:
    stmt = select(FAQCategory).order_by(FAQCategory.sort_order, FAQCategory.name, FAQCategory.id)
    return list((await session.scalars(stmt)).all())


async def get_category(session: AsyncSession, category_id: int) -> FAQCategory:
    category = await session.get(FAQCategory, category_id)
    if category is None:
        raise NotFound("No such category")
    return category


async def children_of(session: AsyncSession, category_id: int) -> list[FAQCategory]:
    stmt = (
        select(FAQCategory)
        .where(FAQCategory.parent_id == category_id)
        .order_by(FAQCategory.sort_order, FAQCategory.name, FAQCategory.id)
    )
    return list((await session.scalars(stmt)).all())


async def category_filter(session: AsyncSession, ref: str | int) -> tuple[int, ...]:
    """The ids a filter on a category (id or slug) matches: it and its subcategories."""
    if isinstance(ref, int) or ref.isdigit():
        category_id = int(ref)
        if not 1 <= category_id <= MAX_ID:
            raise NotFound(f"No such category: {ref}")
        match = FAQCategory.id == category_id
    else:
        match = FAQCategory.slug == ref.strip().lower()
    root = await session.scalar(select(FAQCategory.id).where(match))
    if root is None:
        raise NotFound(f"No such category: {ref}")
    ids = await session.scalars(
        select(FAQCategory.id).where(or_(FAQCategory.id == root, FAQCategory.parent_id == root))
    )
    return tuple(sorted(ids))


async def category_exists(session: AsyncSession, category_id: int) -> None:
    if not await session.scalar(select(exists().where(FAQCategory.id == category_id))):
        raise BadRequest(f"category_id {category_id} does not exist")


async def _check_parent(session: AsyncSession, parent_id: int, moving: FAQCategory | None = None) -> None:
    if moving is not None and parent_id == moving.id:
        raise BadRequest("parent_id: a category cannot be its own parent")
    parent = await session.get(FAQCategory, parent_id)
    if parent is None:
        raise BadRequest(f"parent_id: category {parent_id} does not exist")
    if parent.parent_id is not None:
        raise BadRequest("parent_id: categories nest one level only; choose a top-level category as the parent")
    if moving is not None and await session.scalar(select(exists().where(FAQCategory.parent_id == moving.id))):
        raise BadRequest("parent_id: this category has subcategories, so it must stay top-level")


async def create_category(
    session: AsyncSession, data: CategoryCreate, *, actor_id: int | None, client: Client = audit.NO_CLIENT
) -> FAQCategory:
    if data.parent_id is not None:
        await _check_parent(session, data.parent_id)
    category = FAQCategory(
        name=data.name,
        description=data.description,
        parent_id=data.parent_id,
        sort_order=data.sort_order,
    )
    await _assign_slug(session, category, data.slug, data.name)
    audit.record(
        session, "faq_category.created", actor_user_id=actor_id, target_type="faq_category",
        target_id=category.id, client=client, details={"slug": category.slug},
    )  # fmt: skip
    return category


async def _assign_slug(session: AsyncSession, category: FAQCategory, explicit: str | None, name: str) -> None:
    """Set the slug and flush: an explicit slug that is taken is a 409; a generated one takes the
    next free ``-2``, ``-3``... (and tries again if a concurrent request took it first)."""

    async def generated() -> str:
        base = slugify(name, SLUG_MAX)
        return next_free(base, await taken_slugs(session, FAQCategory.slug, base), SLUG_MAX)

    await flush_with_unique_slug(session, category, slug=explicit, make=generated, constraint="uq_faq_categories_slug")


async def update_category(
    session: AsyncSession,
    category: FAQCategory,
    data: CategoryUpdate,
    *,
    actor_id: int | None,
    client: Client = audit.NO_CLIENT,
) -> FAQCategory:
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "slug", "sort_order"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null")
    changes = {k: v for k, v in changes.items() if getattr(category, k) != v}
    if not changes:
        return category
    if changes.get("parent_id") is not None:
        await _check_parent(session, changes["parent_id"], moving=category)
    slug = changes.pop("slug", None)
    for key, value in changes.items():
        setattr(category, key, value)
    if slug is not None:
        await _assign_slug(session, category, slug, category.name)
    else:
        await session.flush()
    await session.refresh(category)
    audit.record(
        session, "faq_category.updated", actor_user_id=actor_id, target_type="faq_category",
        target_id=category.id, client=client, details={"fields": sorted([*changes, *(["slug"] if slug else [])])},
    )  # fmt: skip
    return category


async def delete_category(
    session: AsyncSession, category: FAQCategory, *, actor_id: int | None, client: Client = audit.NO_CLIENT
) -> None:
    """Delete a category without subcategories; its FAQs become uncategorised."""
    if await session.scalar(select(exists().where(FAQCategory.parent_id == category.id))):
        raise Conflict("This category has subcategories: move or delete them first")
    await session.execute(delete(FAQCategory).where(FAQCategory.id == category.id))
    audit.record(
        session, "faq_category.deleted", actor_user_id=actor_id, target_type="faq_category",
        target_id=category.id, client=client, details={"slug": category.slug},
    )  # fmt: skip
