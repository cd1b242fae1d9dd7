"""Bulk import and export of FAQs (and their categories), idempotent by slug.

A row with a slug updates the FAQ with that slug or creates it; a row without one is matched
by the slug its question makes, so importing the same file twice changes nothing. A bad row is
rejected with its reason; the others go in. Vectors for new or changed texts are made in one
batch before anything is written."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import BadRequest
from helpline.core.schemas import Language
from helpline.faqs import formats
from helpline.faqs.backends import FAQDeps
from helpline.faqs.embeddings import refresh_embeddings
from helpline.faqs.phrasings import replace_phrasings
from helpline.faqs.schemas import (
    Answer,
    CategorySlug,
    ImportReport,
    Keywords,
    MetaDescription,
    MetaTitle,
    Phrasings,
    Priority,
    Question,
    RejectedRow,
    Slug,
    SortOrder,
)
from helpline.faqs.service import apply_changes
from helpline.faqs.slugs import SLUG_RE, slugify
from helpline.models import FAQ, FAQCategory, FAQStatus

MAX_ROWS = 5000
# What an export writes that an import has no use for.
_READ_ONLY = frozenset(
    {"id", "view_count", "helpful_count", "not_helpful_count", "created_at", "updated_at", "embedded",
     "category_id", "category_name"}
)  # fmt: skip


class ImportRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=20_000)

    slug: Slug | None = None
    question: Question
    answer: Answer
    category: Annotated[str, Field(max_length=120)] | None = None
    language: Language = "en"
    status: FAQStatus | None = None
    priority: Priority = 0
    keywords: Keywords | None = None
    meta_title: MetaTitle | None = None
    meta_description: MetaDescription | None = None
    published_at: datetime | None = None
    phrasings: Phrasings | None = None

    @field_validator("keywords", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return formats.split_keywords(v) if isinstance(v, str) else v

    @field_validator("phrasings", mode="before")
    @classmethod
    def _split_phrasings(cls, v: Any) -> Any:
        return formats.split_phrasings(v) if isinstance(v, str) else v

    @field_validator("language", "priority", mode="before")
    @classmethod
    def _empty_is_default(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return "en" if info.field_name == "language" else 0
        return v


class CategoryRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=2000)

    slug: CategorySlug
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    parent: CategorySlug | None = None
    sort_order: SortOrder = 0


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _category_slug(ref: str) -> str:
    ref = ref.strip()
    return ref if re.fullmatch(SLUG_RE, ref) else slugify(ref, 120)


@dataclass
class _Plan:
    default_status: FAQStatus
    rows: list[tuple[int, ImportRow, str]] = field(default_factory=list)  # (row number, row, slug)
    rejected: list[RejectedRow] = field(default_factory=list)


def _validate(raw_rows: Sequence[dict[str, Any]], default_status: FAQStatus) -> _Plan:
    plan = _Plan(default_status)
    seen: dict[str, int] = {}
    for n, raw in enumerate(raw_rows, start=1):
        if "_invalid" in raw:
            plan.rejected.append(RejectedRow(row=n, reason="not an object with FAQ fields"))
            continue
        if "_extra_cells" in raw:
            plan.rejected.append(RejectedRow(row=n, reason="more cells than the header has columns"))
            continue
        if "_invalid_front_matter" in raw:
            bad = raw["_invalid_front_matter"]
            plan.rejected.append(RejectedRow(row=n, reason=f"front matter line is not 'key: value': {bad}"))
            continue
        data = {k: v for k, v in raw.items() if k not in _READ_ONLY}
        try:
            row = ImportRow.model_validate(data)
        except ValidationError as exc:
            plan.rejected.append(RejectedRow(row=n, reason=_reason(exc)))
            continue
        slug = row.slug or slugify(row.question, 80)
        if slug in seen:
            plan.rejected.append(RejectedRow(row=n, reason=f"same slug '{slug}' as row {seen[slug]} of this file"))
            continue
        seen[slug] = n
        plan.rows.append((n, row, slug))
    return plan


async def import_faqs(
    session: AsyncSession,
    deps: FAQDeps,
    data: bytes,
    fmt: formats.Format,
    *,
    actor_id: int | None,
    default_status: FAQStatus = FAQStatus.draft,
    dry_run: bool = False,
    client: Client = audit.NO_CLIENT,
) -> ImportReport:
    """Create or update FAQs from a file; see the module docstring. ``dry_run`` checks and counts
    without writing. Flushes, never commits."""
    try:
        parsed = formats.parse(data, fmt)
    except formats.FileError as exc:
        raise BadRequest(f"Cannot read the {fmt.upper()} file: {exc}") from None
    if len(parsed.faqs) > MAX_ROWS:
        raise BadRequest(f"The file has {len(parsed.faqs)} FAQs; import at most {MAX_ROWS} at a time")
    plan = _validate(parsed.faqs, default_status)
    savepoint = await session.begin_nested() if dry_run else None
    try:
        return await _apply(session, deps, parsed, plan, actor_id, dry_run, client)
    finally:
        if savepoint is not None:
            await savepoint.rollback()


async def _apply(
    session: AsyncSession,
    deps: FAQDeps,
    parsed: formats.Parsed,
    plan: _Plan,
    actor_id: int | None,
    dry_run: bool,
    client: Client,
) -> ImportReport:
    refs = {_category_slug(row.category) for _, row, _ in plan.rows if row.category}
    categories, cats_created = await _categories(session, parsed.categories, refs, plan)
    slugs = [slug for _, _, slug in plan.rows]
    existing = {f.slug: f for f in (await session.scalars(select(FAQ).where(FAQ.slug.in_(slugs)))).all()}
    new: list[FAQ] = []
    # Phrasings are rows of their own (faqs/phrasings.py), written once the FAQs have ids.
    phrasings: list[tuple[FAQ, list[str]]] = []
    for _, row, slug in plan.rows:
        faq = existing.get(slug)
        is_new = faq is None
        if faq is None:
            faq = FAQ(slug=slug)
            values = row.model_dump(exclude={"slug", "category", "published_at", "phrasings"})
            values["status"] = row.status or plan.default_status
            new.append(faq)
        else:
            values = row.model_dump(exclude={"slug", "category", "published_at", "phrasings"}, exclude_unset=True)
            if row.status is None:
                values.pop("status", None)
        if "phrasings" in row.model_fields_set:
            phrasings.append((faq, row.phrasings or []))
        if "category" in row.model_fields_set or is_new:
            values["category_id"] = categories[_category_slug(row.category)] if row.category else None
        if row.published_at is not None and faq.published_at is None:
            faq.published_at = row.published_at
        apply_changes(faq, values)
    updated = [f for f in existing.values() if session.is_modified(f)]
    if not dry_run:
        # Vectors before the FAQs are written, in one batch.
        await refresh_embeddings(deps, [*new, *updated])
    session.add_all(new)
    await session.flush()
    for faq, texts in phrasings:
        changed = await replace_phrasings(session, deps, faq, texts, embed=not dry_run)
        if changed and faq.slug in existing and faq not in updated:
            updated.append(faq)
    if phrasings:
        await session.flush()
    report = ImportReport(
        created=len(new),
        updated=len(updated),
        unchanged=len(existing) - len(updated),
        categories_created=cats_created,
        rejected=sorted(plan.rejected, key=lambda r: (r.kind, r.row)),
        dry_run=dry_run,
    )
    if not dry_run:
        audit.record(
            session, "faq.imported", actor_user_id=actor_id, target_type="faq", target_id=None, client=client,
            details={"created": report.created, "updated": report.updated, "rejected": len(plan.rejected)},
        )  # fmt: skip
    return report


async def _categories(
    session: AsyncSession, entries: list[dict[str, Any]], refs: set[str], plan: _Plan
) -> tuple[dict[str, int], int]:
    """Create or update the file's categories and create those its FAQs name that exist nowhere.
    Returns {slug: id} for every category the FAQs can use, and how many were created."""
    defined: list[CategoryRow] = []
    for n, raw in enumerate(entries, start=1):
        try:
            defined.append(CategoryRow.model_validate(raw))
        except ValidationError as exc:
            plan.rejected.append(RejectedRow(row=n, reason=_reason(exc), kind="category"))
    wanted = {c.slug for c in defined} | {c.parent for c in defined if c.parent} | refs
    found = await session.scalars(select(FAQCategory).where(FAQCategory.slug.in_(wanted)))
    by_slug = {c.slug: c for c in found.all()}
    created = 0
    for entry in sorted(defined, key=lambda c: c.parent is not None):  # parents first
        category = by_slug.get(entry.slug)
        if category is None:
            category = by_slug[entry.slug] = FAQCategory(slug=entry.slug)
            session.add(category)
            created += 1
        category.name, category.description, category.sort_order = entry.name, entry.description, entry.sort_order
        parent = by_slug.get(entry.parent) if entry.parent else None
        if parent is not None and parent.parent_id is None and parent is not category:
            if parent.id is None:
                await session.flush()
            category.parent_id = parent.id
        elif entry.parent is None:
            category.parent_id = None
    for slug in sorted(refs - by_slug.keys()):
        by_slug[slug] = FAQCategory(slug=slug, name=slug.replace("-", " ").capitalize())
        session.add(by_slug[slug])
        created += 1
    await session.flush()
    return {slug: c.id for slug, c in by_slug.items()}, created


async def export_faqs(
    session: AsyncSession,
    fmt: formats.Format,
    *,
    statuses: Sequence[FAQStatus] = tuple(FAQStatus),
    language: str | None = None,
    category_ids: Sequence[int] | None = None,
) -> bytes:
    """Every matching FAQ (and, in JSON, every category) in a file ``import_faqs`` reads back."""
    categories = list(
        (await session.scalars(select(FAQCategory).order_by(FAQCategory.sort_order, FAQCategory.id))).all()
    )
    slug_of = {c.id: c.slug for c in categories}
    stmt = select(FAQ).where(FAQ.status.in_(statuses)).order_by(FAQ.id)
    if language is not None:
        stmt = stmt.where(FAQ.language == language)
    if category_ids is not None:
        stmt = stmt.where(FAQ.category_id.in_(category_ids))
    faqs = [
        {
            "slug": f.slug,
            "question": f.question,
            "answer": f.answer,
            "category": slug_of.get(f.category_id) if f.category_id else None,
            "language": f.language,
            "status": f.status.value,
            "priority": f.priority,
            "keywords": f.keywords or [],
            "meta_title": f.meta_title,
            "meta_description": f.meta_description,
            "published_at": f.published_at.isoformat() if f.published_at else None,
            "phrasings": f.phrasings or [],
        }
        for f in (await session.scalars(stmt)).all()
    ]
    if fmt == "csv":
        return formats.write_csv(faqs)
    if fmt == "md":
        return formats.write_markdown(faqs)
    cats = [
        {
            "slug": c.slug,
            "name": c.name,
            "description": c.description,
            "parent": slug_of.get(c.parent_id) if c.parent_id else None,
            "sort_order": c.sort_order,
        }
        for c in categories
    ]
    return formats.write_json(cats, faqs, datetime.now(UTC).isoformat())
