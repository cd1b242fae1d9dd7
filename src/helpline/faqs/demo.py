"""The demo knowledge base (Parcelo, a fictional parcel-shipping service; English and Spanish),
loaded on the first start so a new install has something to search and chat about.
HELPLINE_DEMO_DATA=false turns it off."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.faqs.backends import FAQDeps
from helpline.faqs.importer import import_faqs
from helpline.faqs.schemas import ImportReport
from helpline.faqs.synonyms import add_demo_sets
from helpline.models import FAQ, AuditLog, FAQStatus, SearchSynonym

DEMO_ACTION = "faq.demo_loaded"
_LOCK_KEY = 0x46415153  # "FAQS": instances starting together load it once


def demo_file() -> bytes:
    return resources.files("helpline.faqs").joinpath("demo/parcelo.json").read_bytes()


async def load_demo_if_empty(session: AsyncSession, deps: FAQDeps) -> ImportReport | None:
    """Import the demo FAQs, and general e-commerce search synonyms when there are none
    (faqs.synonyms.DEMO_SETS), when the knowledge base is empty and the demo was never loaded (so
    deleting the demo FAQs does not bring them back). Returns the import report, or None."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    if await session.scalar(select(exists().where(FAQ.id.is_not(None)))):
        return None
    if await session.scalar(select(exists().where(AuditLog.action == DEMO_ACTION))):
        return None
    report = await import_faqs(session, deps, demo_file(), "json", actor_id=None, default_status=FAQStatus.published)
    if not await session.scalar(select(exists().where(SearchSynonym.id.is_not(None)))):
        add_demo_sets(session)
        await session.flush()
    audit.record(
        session, DEMO_ACTION, actor_user_id=None, target_type=None,
        details={"created": report.created, "rejected": len(report.rejected)},
    )  # fmt: skip
    return report
