"""What a conversation search found in each conversation: the newest message whose text matches,
as a snippet around the match (the sidebar shows it under the title)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.conversations.schemas import SearchMatch
from helpline.models import Message

BEFORE = 50  # characters of context before the match
AROUND = 140  # the snippet's length, about, the match included
_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text)


def snippet(content: str, q: str, *, before: int = BEFORE, around: int = AROUND) -> tuple[str, str, str]:
    """`content` cut around the first occurrence of `q` (case ignored) into what comes before it,
    the match as written, and what follows, with whitespace collapsed and "…" where text was cut
    (cuts fall between words where there is one near). No occurrence (a case folding Python and
    PostgreSQL disagree on): the start of the text, nothing highlighted."""
    found = re.search(re.escape(q.strip()), content, re.IGNORECASE) if q.strip() else None
    if found is None:
        head = _squash(content).strip()
        return "", "", head if len(head) <= around else _cut_end(head, around)
    start, end = found.span()
    lead = _squash(content[:start])
    if len(lead) > before:
        lead = _cut_start(lead, before)
    match = _squash(content[start:end])
    room = max(around - len(lead) - len(match), 20)
    tail = _squash(content[end:])
    if len(tail) > room:
        tail = _cut_end(tail, room)
    return lead.lstrip(), match, tail.rstrip()


def _cut_start(text: str, keep: int) -> str:
    """The last `keep` characters or so, from a word's start, after "…"."""
    part = text[-keep:]
    space = part.find(" ")
    if 0 <= space < keep // 3:
        part = part[space + 1 :]
    return "…" + part


def _cut_end(text: str, keep: int) -> str:
    """The first `keep` characters or so, to a word's end, then "…"."""
    part = text[:keep]
    space = part.rfind(" ")
    if space > keep * 2 // 3:
        part = part[:space]
    return part.rstrip() + "…"


async def matches(
    session: AsyncSession, conversation_ids: Sequence[int], pattern: str, q: str
) -> dict[int, SearchMatch]:
    """For each conversation, its newest message matching `pattern` (an ILIKE pattern of `q`)."""
    if not conversation_ids:
        return {}
    stmt = (
        select(Message.conversation_id, Message.id, Message.message_type, Message.content)
        .where(Message.conversation_id.in_(conversation_ids), Message.content.ilike(pattern))
        .order_by(Message.conversation_id, Message.id.desc())
        .ext(distinct_on(Message.conversation_id))
    )
    found: dict[int, SearchMatch] = {}
    for conversation_id, message_id, message_type, content in (await session.execute(stmt)).all():
        lead, match, tail = snippet(content, q)
        found[conversation_id] = SearchMatch(
            message_id=message_id, message_type=message_type, before=lead, match=match, after=tail
        )
    return found
