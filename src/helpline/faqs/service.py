"""FAQs: visibility, keyset lists, create/update/archive/delete, votes and views.

Anonymous callers and users see published FAQs only; staff (moderators, admins) see and manage
every status. Slugs are made once from the question and never follow later edits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.cursors import decode_cursor, encode_cursor, int4
from helpline.core.errors import BadRequest, Forbidden, NotFound
from helpline.core.identity import Caller
from helpline.faqs.backends import FAQDeps
from helpline.faqs.categories import category_exists
from helpline.faqs.embeddings import answer_current, question_current, refresh_embeddings
from helpline.faqs.phrasings import replace_phrasings
from helpline.faqs.repository import flush_with_unique_slug, taken_slugs
from helpline.faqs.schemas import FAQCreate, FAQUpdate
from helpline.faqs.search import primary_language
from helpline.faqs.slugs import next_free, slugify
from helpline.models import FAQ, FAQStatus, FAQVote, User, UserRole

# Who reads the knowledge base: a signed-in caller (only the id and role are used) or nobody.
Viewer = User | Caller | None

SLUG_MAX = 255
_STAFF = frozenset({UserRole.moderator, UserRole.admin})
_REQUIRED = ("question", "answer", "status", "priority", "language", "slug")


def is_staff(user: Viewer) -> bool:
    return user is not None and user.role in _STAFF


def visible_statuses(user: Viewer, wanted: FAQStatus | None = None) -> tuple[FAQStatus, ...]:
    """The statuses ``user`` may see, or just ``wanted`` if they may see it (else 403)."""
    if wanted is None:
        return tuple(FAQStatus) if is_staff(user) else (FAQStatus.published,)
    if wanted is not FAQStatus.published and not is_staff(user):
        raise Forbidden("Only staff can see draft or archived FAQs")
    return (wanted,)


def is_embedded(faq: FAQ) -> bool:
    """Vectors exist for the FAQ's current question and answer (an empty draft answer has none)."""
    return question_current(faq) and answer_current(faq)


# Reading


async def list_faqs(
    session: AsyncSession,
    viewer: Viewer,
    *,
    category_ids: tuple[int, ...] | None = None,
    language: str | None = None,
    status: FAQStatus | None = None,
    tag: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[FAQ], str | None]:
    """Highest priority first, then newest; keyset on (priority, id) so deep pages stay cheap."""
    statuses = visible_statuses(viewer, status)
    stmt = select(FAQ).where(FAQ.status.in_(statuses)).order_by(FAQ.priority.desc(), FAQ.id.desc()).limit(limit + 1)
    if category_ids is not None:
        stmt = stmt.where(FAQ.category_id.in_(category_ids))
    lang = primary_language(language)
    if lang is not None:
        stmt = stmt.where(func.split_part(func.lower(FAQ.language), "-", 1) == lang)
    if tag:
        stmt = stmt.where(FAQ.keywords.contains([" ".join(tag.split()).lower()]))
    if cursor:
        stmt = stmt.where(tuple_(FAQ.priority, FAQ.id) < tuple_(*decode_cursor(cursor, int4, int4)))
    rows = list((await session.scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].priority, rows[-1].id) if more and rows else None)


async def popular_faqs(session: AsyncSession, *, language: str | None, limit: int) -> list[FAQ]:
    """Published FAQs, most viewed first, then highest priority and newest (a small table: no index)."""
    stmt = (
        select(FAQ)
        .where(FAQ.status == FAQStatus.published)
        .order_by(FAQ.view_count.desc(), FAQ.priority.desc(), FAQ.id.desc())
        .limit(limit)
    )
    lang = primary_language(language)
    if lang is not None:
        stmt = stmt.where(func.split_part(func.lower(FAQ.language), "-", 1) == lang)
    return list((await session.scalars(stmt)).all())


async def get_visible(
    session: AsyncSession, viewer: Viewer, *, faq_id: int | None = None, slug: str | None = None
) -> FAQ:
    """The FAQ by id or slug if the viewer may see it; otherwise 404 (whether or not it exists)."""
    stmt = select(FAQ).where(FAQ.status.in_(visible_statuses(viewer)))
    stmt = stmt.where(FAQ.id == faq_id) if faq_id is not None else stmt.where(FAQ.slug == slug)
    faq = await session.scalar(stmt)
    if faq is None:
        raise NotFound("No such FAQ")
    return faq


async def count_view(deps: FAQDeps, viewer: Viewer, faq: FAQ) -> None:
    """A reader's view of a published FAQ (staff reviewing it do not count)."""
    if faq.status is FAQStatus.published and not is_staff(viewer) and deps.views.add(faq.id):
        await deps.views.flush(deps.sessionmaker)


# Writing


async def _allocate_slug(session: AsyncSession, faq: FAQ, explicit: str | None) -> None:
    async def generated() -> str:
        base = slugify(faq.question, 80)
        return next_free(base, await taken_slugs(session, FAQ.slug, base), SLUG_MAX)

    await flush_with_unique_slug(session, faq, slug=explicit, make=generated, constraint="uq_faqs_slug")


def _check_publishable(faq: FAQ) -> None:
    if faq.status is FAQStatus.published:
        if not faq.answer.strip():
            raise BadRequest("answer: write an answer before publishing this FAQ")
        if faq.published_at is None:
            faq.published_at = datetime.now(UTC)


async def create_faq(
    session: AsyncSession,
    deps: FAQDeps,
    data: FAQCreate,
    *,
    actor_id: int | None,
    client: Client = audit.NO_CLIENT,
) -> FAQ:
    """Create a FAQ with its vectors (made before anything is written, so no lock waits on the
    embedder), a slug from its question unless one is given, and its alternative phrasings."""
    if data.category_id is not None:
        await category_exists(session, data.category_id)
    faq = FAQ(
        question=data.question,
        answer=data.answer,
        category_id=data.category_id,
        keywords=data.keywords or None,
        status=data.status,
        priority=data.priority,
        language=data.language,
        meta_title=data.meta_title,
        meta_description=data.meta_description,
    )
    _check_publishable(faq)
    await refresh_embeddings(deps, [faq])
    await _allocate_slug(session, faq, data.slug)
    if data.phrasings:
        await replace_phrasings(session, deps, faq, data.phrasings)
        await session.flush()
    await session.refresh(faq)
    audit.record(
        session, "faq.created", actor_user_id=actor_id, target_type="faq", target_id=faq.id,
        client=client, details={"slug": faq.slug, "status": faq.status.value},
    )  # fmt: skip
    return faq


def apply_changes(faq: FAQ, changes: dict[str, Any]) -> dict[str, Any]:
    """Set the fields that differ; returns them. Status rules: published needs an answer, and
    published_at is the first publication's time."""
    for key in _REQUIRED:
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null")
    if "keywords" in changes:
        changes["keywords"] = changes["keywords"] or None
    changed = {k: v for k, v in changes.items() if getattr(faq, k) != v}
    for key, value in changed.items():
        setattr(faq, key, value)
    _check_publishable(faq)
    return changed


async def update_faq(
    session: AsyncSession,
    deps: FAQDeps,
    faq: FAQ,
    data: FAQUpdate,
    *,
    actor_id: int | None,
    client: Client = audit.NO_CLIENT,
) -> FAQ:
    changes = data.model_dump(exclude_unset=True)
    # Rows of their own, not a column: see replace_phrasings. null clears them, as [] does.
    phrasings: list[str] | None = None
    if "phrasings" in changes:
        phrasings = changes.pop("phrasings") or []
    if changes.get("category_id") is not None:
        await category_exists(session, changes["category_id"])
    if "slug" in changes and changes["slug"] is None:
        raise BadRequest("slug cannot be null; it never changes unless you choose another")
    slug = changes.pop("slug", None)
    changed = apply_changes(faq, changes)
    if slug is not None and slug != faq.slug:
        changed["slug"] = slug
    if phrasings is not None and await replace_phrasings(session, deps, faq, phrasings):
        changed["phrasings"] = True
    if not changed:
        return faq
    if "question" in changed or "answer" in changed:
        await refresh_embeddings(deps, [faq])
    if "slug" in changed:
        await flush_with_unique_slug(session, faq, slug=slug, make=_never, constraint="uq_faqs_slug")
    else:
        await session.flush()
    await session.refresh(faq)
    audit.record(
        session, "faq.updated", actor_user_id=actor_id, target_type="faq", target_id=faq.id,
        client=client, details={"fields": sorted(changed)},
    )  # fmt: skip
    return faq


async def _never() -> str:
    raise AssertionError("an explicit slug is never generated")


async def delete_faq(
    session: AsyncSession, faq: FAQ, *, hard: bool, actor: User, client: Client = audit.NO_CLIENT
) -> None:
    """Archive the FAQ (it leaves search and public lists, keeps its votes); ``hard`` deletes it
    for good and is for admins only."""
    if hard:
        if actor.role is not UserRole.admin:
            raise Forbidden("Only admins can delete a FAQ for good; without hard=true it is archived")
        await session.execute(delete(FAQ).where(FAQ.id == faq.id))
        action = "faq.deleted"
    elif faq.status is not FAQStatus.archived:
        faq.status = FAQStatus.archived
        await session.flush()
        action = "faq.archived"
    else:
        return
    audit.record(
        session, action, actor_user_id=actor.id, target_type="faq", target_id=faq.id,
        client=client, details={"slug": faq.slug},
    )  # fmt: skip


async def vote(
    session: AsyncSession, faq: FAQ, user: User | Caller | None, helpful: bool, *, device_id: str | None = None
) -> tuple[int, int]:
    """Record or change the vote of ``user``, or of a visitor's device (``device_id``, without an
    account); returns (helpful_count, not_helpful_count). One vote per FAQ and voter. The counts
    are kept by a trigger on faq_votes, exact under concurrent votes."""
    if user is not None:
        stmt = insert(FAQVote).values(faq_id=faq.id, user_id=user.id, helpful=helpful)
        constraint = "uq_faq_votes_faq_user"
    elif device_id:
        stmt = insert(FAQVote).values(faq_id=faq.id, device_id=device_id, helpful=helpful)
        constraint = "uq_faq_votes_faq_device"
    else:
        raise BadRequest("device_id: needed to vote without signing in")
    stmt = stmt.on_conflict_do_update(
        constraint=constraint,
        set_={"helpful": stmt.excluded.helpful, "updated_at": func.now()},
        where=FAQVote.helpful.is_distinct_from(stmt.excluded.helpful),
    )
    await session.execute(stmt)
    row = (await session.execute(select(FAQ.helpful_count, FAQ.not_helpful_count).where(FAQ.id == faq.id))).one()
    return int(row.helpful_count), int(row.not_helpful_count)
