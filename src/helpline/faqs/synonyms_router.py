"""/api/v1/admin/search-synonyms: the synonym sets search expands queries with (faqs/synonyms.py),
managed by staff (moderators and admins, who edit the knowledge base). Every change is in the
audit log and bumps the search version (cached results are dropped)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from helpline.auth.dependencies import ClientDep, StaffUser
from helpline.core.deps import SessionDep
from helpline.core.ids import PathId
from helpline.faqs import synonyms
from helpline.faqs.schemas import SynonymSetList, SynonymSetRead, SynonymSetWrite

# Included by faqs/router.py, under its /api/v1.
router = APIRouter(prefix="/admin/search-synonyms", tags=["search-synonyms"])

_STAFF: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not staff (an administrator or a moderator)"},
    422: {"description": "Fewer than 2 or more than 20 terms, a term repeated, empty or over 60 characters"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such synonym set"}}


@router.get("", response_model=SynonymSetList, responses=_STAFF)
async def list_synonyms(_: StaffUser, session: SessionDep) -> SynonymSetList:
    """Every synonym set."""
    rows = await synonyms.list_sets(session)
    return SynonymSetList(items=[SynonymSetRead.model_validate(r) for r in rows])


@router.post("", response_model=SynonymSetRead, status_code=status.HTTP_201_CREATED, responses=_STAFF)
async def create_synonyms(
    body: SynonymSetWrite, actor: StaffUser, session: SessionDep, client: ClientDep
) -> SynonymSetRead:
    """A new synonym set: a query using one of its terms also finds FAQs using another."""
    row = await synonyms.create_set(session, body.language, body.terms, actor_id=actor.id, client=client)
    return SynonymSetRead.model_validate(row)


@router.put("/{synonym_id}", response_model=SynonymSetRead, responses=_STAFF | _NOT_FOUND)
async def update_synonyms(
    synonym_id: PathId, body: SynonymSetWrite, actor: StaffUser, session: SessionDep, client: ClientDep
) -> SynonymSetRead:
    """Replace a synonym set's language and terms."""
    row = await synonyms.get_set(session, synonym_id)
    row = await synonyms.update_set(session, row, body.language, body.terms, actor_id=actor.id, client=client)
    return SynonymSetRead.model_validate(row)


@router.delete(
    "/{synonym_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=_STAFF | _NOT_FOUND
)
async def delete_synonyms(synonym_id: PathId, actor: StaffUser, session: SessionDep, client: ClientDep) -> Response:
    row = await synonyms.get_set(session, synonym_id)
    await synonyms.delete_set(session, row, actor_id=actor.id, client=client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
