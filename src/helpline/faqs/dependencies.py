"""Who is asking (maybe nobody), the FAQ a route is about (visible to them, or 404 once), and what
FAQ operations need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials

from helpline.apikeys.schemas import Scope
from helpline.apikeys.service import authenticate, prefix_of
from helpline.auth.access import load_caller
from helpline.auth.dependencies import CurrentUser, StaffUser, access_claims, bearer
from helpline.core.deps import ReadSessionDep, RuntimeDep, SessionDep
from helpline.core.identity import Caller
from helpline.core.ids import PathId
from helpline.core.openapi import documents
from helpline.faqs import service
from helpline.faqs.backends import FAQDeps, resolve_deps
from helpline.models import FAQ

# An anonymous caller is served; a token sent is checked as CurrentUser checks it.
OPTIONAL_TOKEN = {
    401: "The token sent is invalid or expired: refresh it, or send none to be anonymous",
    403: "The account is suspended or inactive (or, for search, an API key without the search scope)",
}


@documents(OPTIONAL_TOKEN)
async def optional_user(
    runtime: RuntimeDep,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller | None:
    """The signed-in caller, or None for an anonymous one. A token that is sent but invalid is
    still a 401: a client with an expired token should refresh it, not silently see less. Only
    the id and role are needed (search is hot): no ORM user is loaded."""
    if creds is None:
        return None
    return await load_caller(session, access_claims(runtime, creds))


@documents(OPTIONAL_TOKEN)
async def optional_reader(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller | None:
    """``optional_user`` through the request's read-only session (search). A Helpline API key
    with the ``search`` scope (apikeys) searches as its user."""
    if creds is not None and prefix_of(creds.credentials) is not None:
        key = await authenticate(runtime, creds.credentials, Scope.search)
        return Caller(id=key.user_id, language=key.language, role=key.role)
    return await optional_user(runtime, session, creds)


OptionalUser = Annotated[Caller | None, Depends(optional_user)]
OptionalReader = Annotated[Caller | None, Depends(optional_reader)]


async def faq_deps(runtime: RuntimeDep, session: SessionDep) -> FAQDeps:
    return await resolve_deps(runtime, session)


async def faq_read_deps(runtime: RuntimeDep, session: ReadSessionDep) -> FAQDeps:
    return await resolve_deps(runtime, session)


FAQDepsDep = Annotated[FAQDeps, Depends(faq_deps)]
FAQReadDepsDep = Annotated[FAQDeps, Depends(faq_read_deps)]


# The FAQ of the path's faq_id (or slug) if the caller may see it: drafts and archived ones only
# to staff (faqs.service.visible_statuses); otherwise 404, whether or not it exists.
NO_SUCH_FAQ = {404: "No such FAQ (or not visible to you)"}


@documents(NO_SUCH_FAQ)
async def visible_faq(faq_id: PathId, viewer: OptionalUser, session: SessionDep) -> FAQ:
    return await service.get_visible(session, viewer, faq_id=faq_id)


@documents(NO_SUCH_FAQ)
async def visible_faq_by_slug(slug: str, viewer: OptionalUser, session: SessionDep) -> FAQ:
    return await service.get_visible(session, viewer, slug=slug)


@documents(NO_SUCH_FAQ)
async def staff_faq(faq_id: PathId, actor: StaffUser, session: SessionDep) -> FAQ:
    return await service.get_visible(session, actor, faq_id=faq_id)


@documents(NO_SUCH_FAQ)
async def member_faq(faq_id: PathId, user: CurrentUser, session: SessionDep) -> FAQ:
    return await service.get_visible(session, user, faq_id=faq_id)


VisibleFAQ = Annotated[FAQ, Depends(visible_faq)]  # to anyone, signed in or not
VisibleFAQBySlug = Annotated[FAQ, Depends(visible_faq_by_slug)]
StaffFAQ = Annotated[FAQ, Depends(staff_faq)]  # to a moderator or an administrator, who may change it
MemberFAQ = Annotated[FAQ, Depends(member_faq)]  # to a signed-in user (a vote)
