"""A conversation as a Markdown document (GET /conversations/{id}/export): the title, then each
message under who wrote it and when, with the help-center articles an answer cited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from helpline.models import Conversation, Message, MessageType

MAX_MESSAGES = 5000


def _author(m: Message) -> str:
    meta: dict[str, Any] = m.meta or {}
    if m.message_type is MessageType.user:
        return "You"
    if meta.get("author") == "agent":
        agent = meta.get("agent")
        name = agent.get("name") if isinstance(agent, dict) else None
        return str(name or "Support agent")
    if m.message_type is MessageType.system:
        return "Notice"
    return "Assistant"


def to_markdown(conv: Conversation, messages: Sequence[Message], base_url: str) -> str:
    """Markdown for people (a record to keep or share); not meant to be imported back."""
    lines = [f"# {conv.title or 'Conversation'}", ""]
    for m in messages:
        meta: dict[str, Any] = m.meta or {}
        if not m.content.strip():
            continue
        lines.append(f"## {_author(m)} · {m.created_at.strftime('%Y-%m-%d %H:%M')} UTC")
        lines += ["", m.content.strip(), ""]
        if meta.get("stopped"):
            lines += ["*(stopped)*", ""]
        sources = [s for s in meta.get("sources") or [] if isinstance(s, dict) and s.get("slug")]
        if sources:
            lines.append("Sources:")
            for s in sources:
                number = f"[{s['n']}] " if s.get("n") else ""
                lines.append(f"- {number}[{s.get('question', '')}]({base_url}/help/{s['slug']})")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
