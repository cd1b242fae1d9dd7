"""Handoff events to the user's open chat, on whichever instance it is: each goes through the
generation hub (helpline.platform.hub; Redis pub/sub with several instances) as a one-event log
of the message it is about, so every WebSocket of the user and every conversation event stream
(GET /conversations/{id}/events) gets it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from helpline.core.runtime import Runtime
from helpline.platform.hub import EventKind

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Notice:
    """An event for the conversation's user: ``agent`` (a person's message) or ``handoff`` (the
    conversation changed hands; the message is the notice stored in the conversation)."""

    kind: EventKind
    user_id: int
    conversation_id: int
    message_id: int
    data: dict[str, Any]


async def publish(runtime: Runtime, notices: list[Notice]) -> None:
    """Send each notice to the user's open chats (after the change is committed). Never raises:
    what was stored is shown on the next load anyway."""
    for notice in notices:
        try:
            gen = runtime.hub.open(notice.message_id, notice.conversation_id, notice.user_id)
            await runtime.hub.publish(gen, notice.kind, notice.data, final=True)
        except Exception:
            log.exception("support.publish_failed", message_id=notice.message_id)
