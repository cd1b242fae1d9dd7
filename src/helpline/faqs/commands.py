"""What the `helpline faqs ...` and `helpline reindex` commands run (cli.py only parses
arguments). Each opens its own runtime and transaction, as background jobs do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from helpline.ai.factory import create_embedder
from helpline.core.config import Settings
from helpline.core.db import session_scope
from helpline.core.runtime import Runtime
from helpline.faqs import formats, importer
from helpline.faqs.backends import FAQDeps, close_embedder, resolve_deps
from helpline.faqs.demo import load_demo_if_empty
from helpline.faqs.reindex import ReindexReport, reindex
from helpline.faqs.schemas import ImportReport
from helpline.models import FAQStatus

T = TypeVar("T")


async def _run(settings: Settings, url: str, job: Callable[[AsyncSession, FAQDeps], Awaitable[T]]) -> T:
    runtime = Runtime.build(settings, url)
    try:
        results: list[T] = []
        async for session in session_scope(runtime.sessionmaker):
            results.append(await job(session, await resolve_deps(runtime, session)))
        return results[0]
    finally:
        await close_embedder(runtime)
        await runtime.close()


async def import_file(
    settings: Settings, url: str, data: bytes, chosen: formats.Format, status: FAQStatus, dry_run: bool
) -> ImportReport:
    async def job(session: AsyncSession, deps: FAQDeps) -> ImportReport:
        return await importer.import_faqs(
            session, deps, data, chosen, actor_id=None, default_status=status, dry_run=dry_run
        )

    return await _run(settings, url, job)


async def export_file(
    settings: Settings, url: str, fmt: formats.Format, status: FAQStatus | None, language: str | None
) -> bytes:
    async def job(session: AsyncSession, deps: FAQDeps) -> bytes:
        statuses = (status,) if status else tuple(FAQStatus)
        return await importer.export_faqs(session, fmt, statuses=statuses, language=language)

    return await _run(settings, url, job)


async def load_demo(settings: Settings, url: str) -> ImportReport | None:
    async def job(session: AsyncSession, deps: FAQDeps) -> ImportReport | None:
        return await load_demo_if_empty(session, deps)

    return await _run(settings, url, job)


async def reindex_all(
    settings: Settings, url: str, *, force: bool, batch_size: int, progress: Callable[[str], None]
) -> ReindexReport:
    embedder = create_embedder(settings)
    runtime = Runtime.build(settings, url)
    try:
        return await reindex(runtime.sessionmaker, embedder, force=force, batch_size=batch_size, progress=progress)
    finally:
        await embedder.aclose()
        await runtime.close()
