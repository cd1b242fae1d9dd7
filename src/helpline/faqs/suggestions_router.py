"""/api/v1/faq-phrasing-suggestions: the staff queue of phrasings suggested by helpful answers
(faqs/suggestions.py). Staff are who may edit FAQs (moderators and admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from helpline.auth.dependencies import ClientDep, StaffUser
from helpline.core.cursors import BAD_CURSOR
from helpline.core.deps import SessionDep
from helpline.core.ids import Id, PathId
from helpline.faqs import suggestions
from helpline.faqs.dependencies import FAQDepsDep
from helpline.faqs.schemas import ApproveSuggestion, PhrasingSuggestionPage, PhrasingSuggestionRead
from helpline.models import PhrasingSuggestionStatus

# Included by faqs/router.py, under its /api/v1.
router = APIRouter(prefix="/faq-phrasing-suggestions", tags=["faq-phrasing-suggestions"])

REVIEW: dict[int | str, dict[str, str]] = {
    404: {"description": "No such suggestion"},
    409: {"description": "The suggestion was already approved or rejected"},
}


def _read(row: suggestions.SuggestionRow) -> PhrasingSuggestionRead:
    s, faq = row
    return PhrasingSuggestionRead(
        id=s.id,
        faq_id=s.faq_id,
        faq_question=faq.question,
        faq_slug=faq.slug,
        faq_language=faq.language,
        text=s.text,
        status=s.status,
        created_at=s.created_at,
        reviewed_at=s.reviewed_at,
    )


@router.get("", response_model=PhrasingSuggestionPage, responses=BAD_CURSOR)
async def list_suggestions(
    _: StaffUser,
    session: SessionDep,
    status_filter: Annotated[
        PhrasingSuggestionStatus | Literal["all"], Query(alias="status", description="Default: pending")
    ] = PhrasingSuggestionStatus.pending,
    faq_id: Annotated[Id | None, Query(description="Only this FAQ's")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PhrasingSuggestionPage:
    """Questions whose answer, citing a FAQ, was rated helpful: phrasings of that FAQ to approve
    or reject. Newest first."""
    rows, next_cursor = await suggestions.list_suggestions(
        session,
        status=None if status_filter == "all" else PhrasingSuggestionStatus(status_filter),
        faq_id=faq_id,
        cursor=cursor,
        limit=limit,
    )
    return PhrasingSuggestionPage(items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{suggestion_id}/approve",
    response_model=PhrasingSuggestionRead,
    responses={
        **REVIEW,
        409: {"description": "Already approved or rejected, or the FAQ has as many phrasings as it may"},
    },
)
async def approve_suggestion(
    suggestion_id: PathId,
    actor: StaffUser,
    session: SessionDep,
    deps: FAQDepsDep,
    client: ClientDep,
    body: ApproveSuggestion | None = None,
) -> PhrasingSuggestionRead:
    """Add the suggestion (or `text`, your edit of it) to its FAQ's phrasings; audited."""
    row = await suggestions.approve(
        session, deps, suggestion_id, text=body.text if body else None, actor_id=actor.id, client=client
    )
    return _read(row)


@router.post("/{suggestion_id}/reject", response_model=PhrasingSuggestionRead, responses=REVIEW)
async def reject_suggestion(
    suggestion_id: PathId, actor: StaffUser, session: SessionDep, client: ClientDep
) -> PhrasingSuggestionRead:
    """Reject the suggestion (the same text is not suggested again); audited."""
    return _read(await suggestions.reject(session, suggestion_id, actor_id=actor.id, client=client))
