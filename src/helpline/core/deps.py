"""Dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core.db import session_scope
from helpline.core.openapi import DEFAULT_DESCRIPTIONS, documents
from helpline.core.runtime import Runtime


# Every route that reaches the database or Redis answers 503 when they are down.
@documents({503: DEFAULT_DESCRIPTIONS[503]})
async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI would run a plain function in a worker thread on every request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the endpoint returns, rolled back if it raises."""
    async for session in session_scope(runtime.sessionmaker):
        yield session


# scope="function": the commit happens when the endpoint returns and *before* the response
# is sent, so a commit that fails becomes an error response, never a false success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session for a request that only reads: its statements run in autocommit
    (``Runtime.read_sessionmaker``), so no BEGIN or COMMIT round trips. Never write through it."""
    async for session in session_scope(runtime.read_sessionmaker):
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def get_history_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A read-only session on the replica (HELPLINE_DATABASE_REPLICA_URL) when there is one, else
    as ``get_read_session``: for reads that may lag the primary by a moment."""
    async for session in session_scope(runtime.history_sessionmaker):
        yield session


HistorySessionDep = Annotated[AsyncSession, Depends(get_history_session, scope="function")]


def client_ip(request: Request) -> str | None:
    # core.proxy.ClientAddressMiddleware already put a trusted proxy's X-Real-IP / X-Forwarded-For
    # in client.host, so this is the real client address (in full: rate limits use it; whatever
    # stores it keeps only its network, models.base.TruncatedInet).
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    ua = request.headers.get("user-agent")
    return ua[:500] if ua else None
