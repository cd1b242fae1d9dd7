"""Analytics API (the spec's Analytics Endpoints): the support dashboard, conversation analytics
and a user's own figures, each also as CSV (``format=csv``); the conversations behind a figure,
and reading a thumbs-down conversation (administrators, audited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from helpline.analytics import drill, service
from helpline.analytics.dependencies import PeriodDep
from helpline.analytics.export import CSV_RESPONSE, csv_response
from helpline.analytics.period import Period
from helpline.analytics.schemas import (
    ConversationsRead,
    DashboardRead,
    DrillPage,
    Figure,
    TranscriptRead,
    UserAnalyticsRead,
)
from helpline.auth.dependencies import AdminUser, ClientDep, CurrentUser, StaffUser
from helpline.core.cursors import BAD_CURSOR
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.ids import PathId
from helpline.core.paging import Paging, paging

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

Format = Annotated[Literal["json", "csv"], Query(description="csv: the report as a CSV download")]
_STAFF: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not staff (an administrator or a moderator)"},
    422: {"description": "A date, time zone or granularity that is not valid"},
}

_USER: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    404: {"description": "No such user, or not one the caller may see (administrators see all; others themselves)"},
}


def _filename(report: str, period: Period) -> str:
    return f"helpline-{report}-{period.start}_{period.end}.csv"


@router.get("/dashboard", response_model=DashboardRead, responses=_STAFF | CSV_RESPONSE)
async def dashboard(
    _: StaffUser, session: SessionDep, runtime: RuntimeDep, period: PeriodDep, format: Format = "json"
) -> DashboardRead | StreamingResponse:
    """Users, conversations, answers by origin, response times, tokens and cost, feedback, flags,
    the FAQs most cited and most disliked, and frequent unanswered questions, from the roll-ups."""
    report = await service.cached_dashboard(session, runtime, period)
    return csv_response(report, _filename("dashboard", period)) if format == "csv" else report


@router.get("/conversations", response_model=ConversationsRead, responses=_STAFF | CSV_RESPONSE)
async def conversations(
    _: StaffUser, session: SessionDep, period: PeriodDep, format: Format = "json"
) -> ConversationsRead | StreamingResponse:
    """Conversations begun in the period: volume, length, languages and resolution."""
    report = await service.conversations(session, period)
    return csv_response(report, _filename("conversations", period)) if format == "csv" else report


@router.get("/conversations/list", response_model=DrillPage, responses=_STAFF | BAD_CURSOR)
async def conversations_behind(
    _: StaffUser,
    session: SessionDep,
    period: PeriodDep,
    figure: Figure,
    page: Annotated[Paging, Depends(paging(default=25))],
) -> DrillPage:
    """The conversations behind a figure of the period (no text: dates, language, length)."""
    return await drill.conversations_behind(session, period, figure, cursor=page.cursor, limit=page.limit)


@router.get(
    "/conversations/{conversation_id}",
    response_model=TranscriptRead,
    responses={
        401: {"description": "Not authenticated"},
        403: {"description": "Not an administrator"},
        404: {"description": "No conversation with a thumbs-down has this id"},
    },
)
async def read_conversation(
    conversation_id: PathId, actor: AdminUser, session: SessionDep, client: ClientDep
) -> TranscriptRead:
    """A conversation that got a thumbs-down, read-only. Audited (analytics.conversation_read)."""
    return await drill.read_thumbs_down(session, actor, conversation_id, client)


@router.get(
    "/user/{user_id}",
    response_model=UserAnalyticsRead,
    responses=_USER | CSV_RESPONSE,
)
async def user_analytics(
    user_id: PathId, caller: CurrentUser, session: SessionDep, period: PeriodDep, format: Format = "json"
) -> UserAnalyticsRead | StreamingResponse:
    """A user's activity: for administrators, or the user themself."""
    report = await service.user_report(session, period, caller, user_id)
    return csv_response(report, _filename(f"user-{user_id}", period)) if format == "csv" else report
