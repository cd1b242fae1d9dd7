"""Building a user's data export (GDPR art. 15 and 20): a ZIP of JSON (machine-readable) and
Markdown (for a person) of everything the service keeps about them, following privacy.rules.

``run_export`` is the job: given an export id it opens its own sessions and needs nothing from
the runner that calls it (the privacy_export job of helpline.jobs, keyed by the export id)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Table, delete, literal, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.faqs.suggestions import export_section as phrasing_suggestions
from helpline.models import (
    FAQ,
    ApiKey,
    AuditLog,
    ConsentRecord,
    Conversation,
    ConversationNote,
    FAQVote,
    Message,
    MessageFeedback,
    ModerationReview,
    NotificationSetting,
    PrivacyExport,
    PushSubscription,
    RefreshToken,
    User,
)

if TYPE_CHECKING:
    from helpline.core.runtime import Runtime

log = structlog.get_logger(__name__)

Section = dict[str, Any] | list[dict[str, Any]]
# Sections another domain adds (notification settings, once they exist): name -> reader.
SectionReader = Callable[[AsyncSession, int], Awaitable[Section]]
EXTRA_SECTIONS: dict[str, SectionReader] = {}

_users = User.__table__
_NEVER_EXPORTED = {"hashed_password"}


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)  # UUIDs, IP addresses


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in result]


async def collect(session: AsyncSession, user_id: int) -> dict[str, Section]:
    """Every section of the user's export, as JSON-ready values."""
    users = _table(User)
    profile = _rows(
        await session.execute(
            select(*[c for c in users.c if c.name not in _NEVER_EXPORTED]).where(users.c.id == user_id)
        )
    )
    convs = _table(Conversation)
    conversations = _rows(await session.execute(select(convs).where(convs.c.user_id == user_id).order_by(convs.c.id)))
    msgs = _table(Message)
    messages = _rows(
        await session.execute(
            select(msgs)
            .join(convs, convs.c.id == msgs.c.conversation_id)
            .where(convs.c.user_id == user_id)
            .order_by(msgs.c.conversation_id, msgs.c.id)
        )
    )
    by_conversation: dict[Any, list[dict[str, Any]]] = {}
    for m in messages:
        by_conversation.setdefault(m["conversation_id"], []).append(m)
    for conv in conversations:
        conv["messages"] = by_conversation.get(conv["id"], [])
    fb = _table(MessageFeedback)
    votes = _table(FAQVote)
    faqs = _table(FAQ)
    consents = _table(ConsentRecord)
    tokens = _table(RefreshToken)
    audit = _table(AuditLog)
    sections: dict[str, Section] = {
        "profile": profile[0] if profile else {},
        "consents": _rows(
            await session.execute(
                select(consents).where(consents.c.user_id == user_id).order_by(consents.c.created_at, consents.c.id)
            )
        ),
        "conversations": conversations,
        "feedback": _rows(await session.execute(select(fb).where(fb.c.user_id == user_id).order_by(fb.c.id))),
        "faq_votes": _rows(
            await session.execute(
                select(votes, faqs.c.question.label("faq_question"))
                .join(faqs, faqs.c.id == votes.c.faq_id)
                .where(votes.c.user_id == user_id)
                .order_by(votes.c.id)
            )
        ),
        "sessions": _rows(
            await session.execute(
                select(
                    tokens.c.created_at,
                    tokens.c.expires_at,
                    tokens.c.revoked_at,
                    tokens.c.ip_address,
                    tokens.c.user_agent,
                )
                .where(tokens.c.user_id == user_id)
                .order_by(tokens.c.created_at)
            )
        ),
        "audit_log": _rows(
            await session.execute(
                select(audit)
                .where(
                    or_(
                        audit.c.actor_user_id == user_id,
                        (audit.c.target_type == "user") & (audit.c.target_id == str(user_id)),
                    )
                )
                .order_by(audit.c.id)
            )
        ),
    }
    settings = _table(NotificationSetting)
    sections["notification_settings"] = _rows(
        await session.execute(
            select(settings.c.channel, settings.c.kind, settings.c.enabled, settings.c.updated_at)
            .where(settings.c.user_id == user_id)
            .order_by(settings.c.channel, settings.c.kind)
        )
    )
    subs = _table(PushSubscription)
    # The browsers and phones pushed to; the browsers' keys are left out (encryption material,
    # nothing about the person).
    sections["push_subscriptions"] = _rows(
        await session.execute(
            select(subs.c.provider, subs.c.endpoint, subs.c.created_at, subs.c.updated_at)
            .where(subs.c.user_id == user_id)
            .order_by(subs.c.id)
        )
    )
    keys = _table(ApiKey)
    sections["api_keys"] = _rows(
        await session.execute(
            select(
                keys.c.name,
                keys.c.prefix,
                keys.c.scopes,
                keys.c.created_at,
                keys.c.last_used_at,
                keys.c.revoked_at,
            )
            .where(keys.c.user_id == user_id)
            .order_by(keys.c.id)
        )
    )
    notes, convs = _table(ConversationNote), _table(Conversation)
    sections["staff_notes"] = _rows(
        await session.execute(
            select(notes.c.conversation_id, notes.c.body, notes.c.created_at)
            .join(convs, convs.c.id == notes.c.conversation_id)
            .where(convs.c.user_id == user_id)
            .order_by(notes.c.id)
        )
    )
    sections["moderation_reviews"] = await _moderation_reviews(session, user_id)
    sections["phrasing_suggestions"] = await phrasing_suggestions(session, user_id)
    for name, reader in EXTRA_SECTIONS.items():
        sections[name] = await reader(session, user_id)
    return sections


async def _moderation_reviews(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """Staff decisions on the user's messages, and the reviews the user wrote as staff. Who
    decided on the user's messages is left out (that is the reviewer's personal data)."""
    reviews = _table(ModerationReview)
    msgs = _table(Message)
    about = select(
        reviews.c.id,
        reviews.c.message_id,
        reviews.c.decision,
        reviews.c.note,
        reviews.c.created_at,
        literal("about_your_message").label("kind"),
    ).where(reviews.c.message_id.in_(select(msgs.c.id).where(msgs.c.user_id == user_id)))
    by = select(
        reviews.c.id,
        reviews.c.message_id,
        reviews.c.decision,
        reviews.c.note,
        reviews.c.created_at,
        literal("written_by_you").label("kind"),
    ).where(reviews.c.reviewer_user_id == user_id)
    return _rows(await session.execute(union_all(about, by).order_by("created_at", "id")))


def _md_value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    return text.replace("\n", " ").replace("|", "\\|")


def _md_table(rows: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> list[str]:
    if not rows:
        return ["(none)", ""]
    cols = [c for c in rows[0] if c not in skip]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_md_value(r.get(c, "")) for c in cols) + " |" for r in rows]
    return [*lines, ""]


def to_markdown(sections: dict[str, Section], generated_at: datetime) -> str:
    """The export for a person to read."""
    profile = sections.get("profile") or {}
    assert isinstance(profile, dict)
    lines = [
        "# Your data",
        "",
        f"Exported on {generated_at.isoformat(timespec='seconds')}. The same data, complete and",
        "machine-readable, is in `data.json` beside this file.",
        "",
        "## Profile",
        "",
        *[f"- **{k}**: {_md_value(v)}" for k, v in profile.items()],
        "",
        "## Consents",
        "",
        *_md_table(_list(sections, "consents"), skip=("user_id",)),
        "## Conversations",
        "",
    ]
    conversations = _list(sections, "conversations")
    if not conversations:
        lines += ["(none)", ""]
    for conv in conversations:
        lines += [f"### {conv.get('title') or 'Conversation'} ({conv.get('created_at')})", ""]
        for msg in conv.get("messages", []):
            who = "You" if msg.get("message_type") == "user" else "Assistant"
            lines += [f"**{who}** ({msg.get('created_at')}):", "", str(msg.get("content", "")), ""]
    for title, name in (
        ("Feedback on answers", "feedback"),
        ("Votes on help articles", "faq_votes"),
        ("Moderation of messages", "moderation_reviews"),
        ("Your questions suggested as help-article phrasings", "phrasing_suggestions"),
        ("Notification settings you changed (everything else is on)", "notification_settings"),
        ("Browsers that receive your push notifications", "push_subscriptions"),
        ("API keys (their secrets are not kept)", "api_keys"),
        ("Notes our support staff wrote on your conversations", "staff_notes"),
        ("Sign-ins", "sessions"),
        ("Audit trail", "audit_log"),
    ):
        lines += [f"## {title}", "", *_md_table(_list(sections, name), skip=("user_id",))]
    for name in EXTRA_SECTIONS:
        lines += [f"## {name}", "", "```json", json.dumps(sections.get(name), indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(lines)


def _list(sections: dict[str, Section], name: str) -> list[dict[str, Any]]:
    value = sections.get(name) or []
    return value if isinstance(value, list) else [value]


def build_zip(sections: dict[str, Section], generated_at: datetime) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", json.dumps(sections, indent=2, ensure_ascii=False))
        for name, value in sections.items():
            zf.writestr(f"json/{name}.json", json.dumps(value, indent=2, ensure_ascii=False))
        zf.writestr("README.md", to_markdown(sections, generated_at))
    return buf.getvalue()


async def run_export(maker: async_sessionmaker[AsyncSession], export_id: Any, ttl: timedelta) -> str:
    """The export job: mark it running, build the archive in one consistent snapshot, store it.
    Returns the final status; an export whose account was erased meanwhile is simply gone."""
    async with maker() as session, session.begin():
        user_id = await session.scalar(
            update(PrivacyExport)
            .where(PrivacyExport.id == export_id, PrivacyExport.status == "queued")
            .values(status="running", started_at=datetime.now(UTC))
            .returning(PrivacyExport.user_id)
        )
    if user_id is None:
        return "gone"
    try:
        async with maker() as session, session.begin():
            # One snapshot for every section: a chat turn landing meanwhile is in all or none.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            now = datetime.now(UTC)
            data = build_zip(await collect(session, user_id), now)
        status, values = "done", {"content": data, "size_bytes": len(data), "expires_at": now + ttl}
    except Exception as exc:
        log.exception("privacy.export_failed", export_id=str(export_id))
        status, values = "failed", {"error": type(exc).__name__}
    async with maker() as session, session.begin():
        await session.execute(
            update(PrivacyExport)
            .where(PrivacyExport.id == export_id)
            .values(status=status, finished_at=datetime.now(UTC), **values)
        )
    return status


async def purge_expired_exports(runtime: Runtime) -> int:
    """Delete exports past their download window, archives with them (data kept no longer than
    needed). Returns how many went. Run by the export_purge job (helpline.jobs)."""
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(delete(PrivacyExport).where(PrivacyExport.expires_at < datetime.now(UTC)))
    return int(getattr(result, "rowcount", 0) or 0)
