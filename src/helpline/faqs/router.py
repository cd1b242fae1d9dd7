"""Knowledge-base endpoints: /api/v1/faq-categories and /api/v1/faqs (including search, votes,
import/export and the unanswered questions)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.dependencies import ClientDep, StaffUser
from helpline.core.cursors import BAD_CURSOR
from helpline.core.deps import ReadSessionDep, SessionDep
from helpline.core.errors import AppError
from helpline.core.ids import PathId
from helpline.core.schemas import Language
from helpline.faqs import categories, formats, importer, search, service, spelling, unanswered
from helpline.faqs.backends import FAQDeps
from helpline.faqs.dependencies import (
    FAQDepsDep,
    FAQReadDepsDep,
    OptionalReader,
    OptionalUser,
    StaffFAQ,
    VisibleFAQ,
    VisibleFAQBySlug,
)
from helpline.faqs.schemas import (
    MAX_QUERY_CHARS,
    CategoryCreate,
    CategoryList,
    CategoryRead,
    CategoryTree,
    CategoryUpdate,
    DraftFromUnanswered,
    FAQCreate,
    FAQPage,
    FAQRead,
    FAQUpdate,
    ImportReport,
    PopularFAQ,
    PopularFAQs,
    SearchHit,
    SearchRequest,
    SearchResponse,
    UnansweredExample,
    UnansweredGroup,
    UnansweredGroups,
    VoteRead,
    VoteRequest,
    check_query,
)
from helpline.faqs.suggestions_router import router as suggestions_router
from helpline.faqs.synonyms_router import router as synonyms_router
from helpline.models import FAQ, FAQStatus

router = APIRouter(prefix="/api/v1")
NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "No such FAQ (or not visible to you)"}}
NO_CATEGORY: dict[int | str, dict[str, str]] = {404: {"description": "No such category"}}
CATEGORY_RULES: dict[int | str, dict[str, str]] = {
    400: {"description": "parent_id names no category, the category itself, or a subcategory (one level only)"},
    409: {"description": "The slug is already used"},
}
FAQ_RULES: dict[int | str, dict[str, str]] = {
    400: {"description": "category_id names no category, or a FAQ without an answer is to be published"},
    409: {"description": "The slug is already used"},
}
CategoryRef = Annotated[str | None, Query(max_length=120, description="Category id or slug (with subcategories)")]


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


def _read(faq: FAQ) -> FAQRead:
    return FAQRead(
        id=faq.id,
        category_id=faq.category_id,
        question=faq.question,
        answer=faq.answer,
        keywords=faq.keywords or [],
        phrasings=faq.phrasings or [],
        status=faq.status,
        priority=faq.priority,
        language=faq.language,
        slug=faq.slug,
        meta_title=faq.meta_title,
        meta_description=faq.meta_description,
        view_count=faq.view_count,
        helpful_count=faq.helpful_count,
        not_helpful_count=faq.not_helpful_count,
        created_at=faq.created_at,
        updated_at=faq.updated_at,
        published_at=faq.published_at,
        embedded=service.is_embedded(faq),
    )


# Categories


@router.get("/faq-categories", response_model=CategoryList, tags=["faq-categories"])
async def list_categories(session: SessionDep) -> CategoryList:
    rows = await categories.list_categories(session)
    tops = [CategoryTree.model_validate(c) for c in rows if c.parent_id is None]
    by_id = {t.id: t for t in tops}
    for c in rows:
        if c.parent_id is not None and c.parent_id in by_id:
            by_id[c.parent_id].children.append(CategoryRead.model_validate(c))
    return CategoryList(items=tops)


@router.post(
    "/faq-categories",
    response_model=CategoryRead,
    status_code=status.HTTP_201_CREATED,
    tags=["faq-categories"],
    responses=CATEGORY_RULES,
)
async def create_category(
    body: CategoryCreate, actor: StaffUser, session: SessionDep, client: ClientDep
) -> CategoryRead:
    category = await categories.create_category(session, body, actor_id=actor.id, client=client)
    return CategoryRead.model_validate(category)


@router.get("/faq-categories/{category_id}", response_model=CategoryTree, tags=["faq-categories"])
async def get_category(category_id: PathId, session: SessionDep) -> CategoryTree:
    category = await categories.get_category(session, category_id)
    children = await categories.children_of(session, category_id)
    return CategoryTree(
        **CategoryRead.model_validate(category).model_dump(),
        children=[CategoryRead.model_validate(c) for c in children],
    )


@router.put(
    "/faq-categories/{category_id}",
    response_model=CategoryRead,
    tags=["faq-categories"],
    responses={**CATEGORY_RULES, 400: {"description": "A field sent as null, or parent_id not allowed (see POST)"}},
)
async def update_category(
    category_id: PathId, body: CategoryUpdate, actor: StaffUser, session: SessionDep, client: ClientDep
) -> CategoryRead:
    category = await categories.get_category(session, category_id)
    category = await categories.update_category(session, category, body, actor_id=actor.id, client=client)
    return CategoryRead.model_validate(category)


@router.delete(
    "/faq-categories/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["faq-categories"],
    responses={409: {"description": "The category has subcategories"}},
)
async def delete_category(category_id: PathId, actor: StaffUser, session: SessionDep, client: ClientDep) -> Response:
    category = await categories.get_category(session, category_id)
    await categories.delete_category(session, category, actor_id=actor.id, client=client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# FAQs: fixed paths first, so "search" or "export" is never read as an id.


@router.get("/faqs", response_model=FAQPage, tags=["faqs"], responses=BAD_CURSOR | NO_CATEGORY)
async def list_faqs(
    viewer: OptionalUser,
    session: SessionDep,
    category: CategoryRef = None,
    language: Annotated[Language | None, Query()] = None,
    status_filter: Annotated[FAQStatus | None, Query(alias="status", description="Staff only")] = None,
    tag: Annotated[str | None, Query(max_length=50, description="A keyword")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> FAQPage:
    category_ids = await categories.category_filter(session, category) if category else None
    rows, next_cursor = await service.list_faqs(
        session, viewer, category_ids=category_ids, language=language, status=status_filter,
        tag=tag, cursor=cursor, limit=limit,
    )  # fmt: skip
    return FAQPage(items=[_read(f) for f in rows], next_cursor=next_cursor)


@router.post("/faqs", response_model=FAQRead, status_code=status.HTTP_201_CREATED, tags=["faqs"], responses=FAQ_RULES)
async def create_faq(
    body: FAQCreate, actor: StaffUser, session: SessionDep, deps: FAQDepsDep, client: ClientDep
) -> FAQRead:
    return _read(await service.create_faq(session, deps, body, actor_id=actor.id, client=client))


async def _search(
    session: AsyncSession, deps: FAQDeps, viewer: service.Viewer, body: SearchRequest, response: Response
) -> SearchResponse:
    statuses = service.visible_statuses(viewer, body.status)
    category_ids = await categories.category_filter(session, body.category) if body.category is not None else None
    found = await search.search(
        session,
        deps,
        search.SearchQuery(
            q=body.q,
            language=body.language,
            category_ids=category_ids,
            statuses=statuses,
            limit=body.limit,
            rerank_min_similarity=search.RERANK_MIN_SIMILARITY,
        ),
    )
    response.headers["X-Cache"] = "hit" if found.cached else "miss"
    suggestion = await spelling.suggest(session, deps, body.q, body.language) if body.suggest else None
    return SearchResponse(query=body.q, items=[SearchHit(**asdict(h)) for h in found.hits], suggestion=suggestion)


SEARCH_DOC = (
    "Hybrid search: vector similarity on questions, their alternative phrasings and answers plus "
    "full-text search in each FAQ's language, fused by a weighted score; the best candidates are "
    "then reranked (HELPLINE_SEARCH_RERANK), whose term is added to the score, so a score is a "
    "ranking value, not a similarity in 0-1. Each hit says which signals found it. Greetings and "
    "politeness around the question are ignored. Words typed without their accents also find the "
    'accented words FAQs use ("contrasena" finds "contraseña").'
)


SEARCH_LIMITED: dict[int | str, dict[str, str]] = {
    429: {"description": "Too many searches from this client (HELPLINE_LIMITS_RULES, group search)"},
    **NO_CATEGORY,
}


@router.get(
    "/faqs/search",
    response_model=SearchResponse,
    tags=["faqs"],
    description=SEARCH_DOC,
    responses=SEARCH_LIMITED,
)
async def search_get(
    viewer: OptionalReader,
    session: ReadSessionDep,
    deps: FAQReadDepsDep,
    response: Response,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS * 4), AfterValidator(check_query)],
    language: Annotated[Language | None, Query()] = None,
    category: CategoryRef = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    status_filter: Annotated[FAQStatus | None, Query(alias="status", description="Staff only")] = None,
    suggest: Annotated[bool, Query(description='Also a "did you mean" spelling of the query')] = False,
) -> SearchResponse:
    body = SearchRequest(q=q, language=language, category=category, limit=limit, status=status_filter, suggest=suggest)
    return await _search(session, deps, viewer, body, response)


@router.post(
    "/faqs/search",
    response_model=SearchResponse,
    tags=["faqs"],
    description=SEARCH_DOC,
    responses=SEARCH_LIMITED,
)
async def search_post(
    body: SearchRequest, viewer: OptionalReader, session: ReadSessionDep, deps: FAQReadDepsDep, response: Response
) -> SearchResponse:
    return await _search(session, deps, viewer, body, response)


@router.get(
    "/faqs/export",
    tags=["faqs"],
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in formats.MEDIA_TYPES.values()}, "description": "The file"},
        **NO_CATEGORY,
    },
)
async def export_faqs(
    _: StaffUser,
    session: SessionDep,
    fmt: Annotated[formats.Format, Query(alias="format")] = "json",
    status_filter: Annotated[FAQStatus | None, Query(alias="status")] = None,
    language: Annotated[Language | None, Query()] = None,
    category: CategoryRef = None,
) -> Response:
    category_ids = await categories.category_filter(session, category) if category else None
    data = await importer.export_faqs(
        session, fmt, statuses=(status_filter,) if status_filter else tuple(FAQStatus),
        language=language, category_ids=category_ids,
    )  # fmt: skip
    return Response(
        data,
        media_type=formats.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="faqs.{fmt}"'},
    )


IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "description": "The file as the body (JSON, CSV or Markdown), or multipart/form-data with a 'file' field",
        "content": {
            # A list of FAQs, or an object with a "faqs" list (and "categories").
            "application/json": {"schema": {"type": ["array", "object"]}},
            # Text, read as the format says: any body is text on the wire (a wrong one is a 400).
            "text/csv": {"schema": {}},
            "text/markdown": {"schema": {}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
        "required": True,
    }
}


@router.post(
    "/faqs/import",
    response_model=ImportReport,
    tags=["faqs"],
    openapi_extra=IMPORT_BODY,
    responses={
        400: {"description": "The file cannot be read in its format, or has too many FAQs"},
        415: {"description": "Not JSON, CSV or Markdown (say ?format=), or a form without a 'file' field"},
    },
)
async def import_faqs(
    request: Request,
    actor: StaffUser,
    session: SessionDep,
    deps: FAQDepsDep,
    client: ClientDep,
    fmt: Annotated[formats.Format | None, Query(alias="format", description="Default: from the content type")] = None,
    default_status: Annotated[
        FAQStatus, Query(alias="status", description="Status of new FAQs whose row names none")
    ] = FAQStatus.draft,
    dry_run: Annotated[bool, Query(description="Check and count, write nothing")] = False,
) -> ImportReport:
    content_type: str | None = request.headers.get("content-type", "")
    data, filename = await request.body(), None
    if content_type and content_type.lower().startswith("multipart/form-data"):
        try:
            data, filename, content_type = formats.file_from_multipart(data, content_type)
        except formats.FileError as exc:
            raise UnsupportedMediaType(str(exc)) from None
    fmt = fmt or formats.guess_format(filename, content_type)
    if fmt is None:
        raise UnsupportedMediaType(
            "Send the file as application/json, text/csv or text/markdown (or say ?format=json|csv|md)"
        )
    return await importer.import_faqs(
        session, deps, data, fmt, actor_id=actor.id, default_status=default_status, dry_run=dry_run, client=client
    )


@router.get("/faqs/popular", response_model=PopularFAQs, tags=["faqs"])
async def popular_faqs(
    session: ReadSessionDep,
    language: Annotated[Language | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 4,
) -> PopularFAQs:
    """The most read published FAQs (for anyone): the questions an empty chat suggests."""
    rows = await service.popular_faqs(session, language=language, limit=limit)
    return PopularFAQs(items=[PopularFAQ(id=f.id, question=f.question, slug=f.slug) for f in rows])


@router.get("/faqs/unanswered", response_model=UnansweredGroups, tags=["faqs"])
async def list_unanswered(
    _: StaffUser,
    session: SessionDep,
    deps: FAQDepsDep,
    language: Annotated[Language | None, Query()] = None,
    window: Annotated[int, Query(ge=1, le=2000, description="How many recent open questions to group")] = 500,
    threshold: Annotated[float, Query(ge=0.3, le=0.99, description="Cosine similarity to join a group")] = 0.75,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UnansweredGroups:
    groups, considered = await unanswered.group_unanswered(
        session, deps, language=language, window=window, threshold=threshold, limit=limit
    )
    return UnansweredGroups(
        items=[
            UnansweredGroup(
                ids=[q.id for q in g.members],
                count=len(g.members),
                representative=g.representative.text,
                language=g.language,
                examples=[UnansweredExample(**asdict(q)) for q in g.members[:5]],
                first_seen=g.members[-1].created_at,
                last_seen=g.members[0].created_at,
            )
            for g in groups
        ],
        considered=considered,
    )


@router.post(
    "/faqs/unanswered/draft",
    response_model=FAQRead,
    status_code=status.HTTP_201_CREATED,
    tags=["faqs"],
    responses={
        **FAQ_RULES,
        404: {"description": "No such unanswered question"},
        409: {"description": "A question was already turned into a FAQ, or the slug is already used"},
    },
)
async def draft_from_unanswered(
    body: DraftFromUnanswered, actor: StaffUser, session: SessionDep, deps: FAQDepsDep, client: ClientDep
) -> FAQRead:
    return _read(await unanswered.draft_from_unanswered(session, deps, body, actor_id=actor.id, client=client))


@router.get("/faqs/by-slug/{slug}", response_model=FAQRead, tags=["faqs"], responses=NOT_FOUND)
async def get_faq_by_slug(faq: VisibleFAQBySlug, viewer: OptionalUser, deps: FAQDepsDep) -> FAQRead:
    await service.count_view(deps, viewer, faq)
    return _read(faq)


@router.get("/faqs/{faq_id}", response_model=FAQRead, tags=["faqs"], responses=NOT_FOUND)
async def get_faq(faq: VisibleFAQ, viewer: OptionalUser, deps: FAQDepsDep) -> FAQRead:
    await service.count_view(deps, viewer, faq)
    return _read(faq)


@router.put(
    "/faqs/{faq_id}",
    response_model=FAQRead,
    tags=["faqs"],
    responses={**NOT_FOUND, **FAQ_RULES, 400: {"description": "A field sent as null, or a rule of POST /faqs"}},
)
async def update_faq(
    faq: StaffFAQ, body: FAQUpdate, actor: StaffUser, session: SessionDep, deps: FAQDepsDep, client: ClientDep
) -> FAQRead:
    return _read(await service.update_faq(session, deps, faq, body, actor_id=actor.id, client=client))


@router.delete("/faqs/{faq_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["faqs"], responses=NOT_FOUND)
async def delete_faq(
    faq: StaffFAQ,
    actor: StaffUser,
    session: SessionDep,
    client: ClientDep,
    hard: Annotated[bool, Query(description="Admins: delete for good instead of archiving")] = False,
) -> Response:
    await service.delete_faq(session, faq, hard=hard, actor=actor, client=client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/faqs/{faq_id}/vote",
    response_model=VoteRead,
    tags=["faqs"],
    responses={
        **NOT_FOUND,
        400: {"description": "Neither signed in nor a device_id"},
        429: {"description": "Too many votes from this client (HELPLINE_LIMITS_RULES, group vote)"},
    },
)
async def vote(faq: VisibleFAQ, body: VoteRequest, viewer: OptionalUser, session: SessionDep) -> VoteRead:
    """Was this FAQ helpful? One vote per account, or without an account one per device (the
    `device_id` the browser keeps); voting again changes the vote. Anonymous votes are limited
    per client address (group vote)."""
    helpful, not_helpful = await service.vote(session, faq, viewer, body.helpful, device_id=body.device_id)
    return VoteRead(faq_id=faq.id, helpful=body.helpful, helpful_count=helpful, not_helpful_count=not_helpful)


# The staff queue of suggested phrasings (faqs/suggestions_router.py).
router.include_router(suggestions_router)
router.include_router(synonyms_router)
