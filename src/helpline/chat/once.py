"""Idempotent sends: a message sent again with the same ``client_id`` (a client's own id for it,
such as a UUID its offline outbox made before the first try) stores nothing new and is answered
with the first send's result. A client that lost the response to a send (network gone, app
killed) can then simply send again: the message is stored once, and answered once.

The database keeps the promise (unique index uq_messages_user_client_id): two sends racing with
the same id store one message, and the loser is answered as a repeat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpline.auth.access import load_caller
from helpline.chat import service
from helpline.core.errors import Conflict
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import Message, MessageStatus, MessageType
from helpline.platform.hub import TurnEvent
from helpline.support.relay import Relayed

UNIQUE_INDEX = "uq_messages_user_client_id"
# A repeat that finds its answer still being written (on another instance, or by one that died
# and left it to be settled) reads it again until it is final.
FINAL_POLL_SECONDS = 0.5
FINAL_WAIT_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Repeated:
    """A message this user already sent with the same client id: the first send's ids."""

    conversation_id: int
    user_message_id: int
    created_at: datetime
    answer_id: int | None  # None: the message went to a person (support.relay), no assistant answer

    def ack(self) -> dict[str, object]:
        return {
            "conversation_id": self.conversation_id,
            "user_message_id": self.user_message_id,
            "message_id": self.answer_id or self.user_message_id,
        }


async def sent_before(runtime: Runtime, user_id: int, client_id: str, content: str) -> Repeated | None:
    """The message this user sent with ``client_id``, if any (409 when it said something else:
    a client id names one message)."""
    async with runtime.sessionmaker() as session:
        row = (
            await session.execute(
                select(Message.id, Message.conversation_id, Message.created_at, Message.content).where(
                    Message.user_id == user_id, Message.client_id == client_id
                )
            )
        ).first()
        if row is None:
            return None
        if row.content != content:
            raise Conflict("client_id: already used for another message; send a new message with a new client_id")
        # The turn's statement stores the question and its answer together: same transaction, so
        # the same created_at (a person's later reply is another transaction's).
        answer_id = await session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == row.conversation_id,
                Message.id > row.id,
                Message.message_type == MessageType.assistant,
                Message.created_at == row.created_at,
            )
            .order_by(Message.id)
            .limit(1)
        )
    return Repeated(row.conversation_id, row.id, row.created_at, answer_id)


async def begin_once(
    runtime: Runtime,
    *,
    claims: TokenClaims,
    content: str,
    conversation_id: int | None,
    language: str | None,
    client_id: str | None,
) -> service.Turn | Relayed | Repeated:
    """service.begin, unless this user already sent this ``client_id``: then the earlier send
    (``Repeated``), with no new message, no rate-limit hit and no second answer."""

    async def repeated() -> Repeated | None:
        assert client_id is not None
        earlier = await sent_before(runtime, claims.user_id, client_id, content.strip())
        if earlier is not None:
            await load_caller(runtime, claims)  # a token that may no longer be served is told so
        return earlier

    if client_id is not None and (earlier := await repeated()) is not None:
        return earlier
    try:
        return await service.begin(
            runtime,
            claims=claims,
            content=content,
            conversation_id=conversation_id,
            language=language,
            client_id=client_id,
        )
    except IntegrityError as exc:
        # Two sends of one message raced: the other stored it first.
        if client_id is None or UNIQUE_INDEX not in str(exc.orig):
            raise
        earlier = await repeated()
        if earlier is None:
            raise
        return earlier


def relayed_payload(earlier: Repeated) -> dict[str, object]:
    """The final event of a repeated message that went to a person (as service.relayed_payload,
    without the hand-off's current state)."""
    return service.unanswered_payload(earlier.conversation_id, earlier.user_message_id, earlier.created_at)


async def answer_events(
    runtime: Runtime, user_id: int, message_id: int, after_seq: int = 0
) -> AsyncIterator[TurnEvent]:
    """An answer's events after ``after_seq``: live from this instance's hub while it is being
    generated here, else its stored final event once it is final (settled if its instance died)."""
    from helpline.chat.stop import settle_abandoned

    gen = await runtime.hub.lookup(message_id)
    if gen is not None and gen.user_id == user_id:
        async for event in gen.follow(after_seq):
            after_seq = event.seq
            yield event
        if not gen.orphaned:
            return
        # Its instance died before the end (killed, crashed): nobody will finish it. Marked
        # abandoned (retryable), it is sent as stored.
        kind, payload = await settle_abandoned(runtime, user_id, message_id, {})
        yield TurnEvent(kind, after_seq + 1, message_id, gen.conversation_id, payload)
        return
    yield await final_event(runtime, user_id, message_id, after_seq)


async def last_event(runtime: Runtime, user_id: int, message_id: int) -> TurnEvent:
    """The answer's final event (``response`` or ``error``), once it is final."""
    last: TurnEvent | None = None
    async for event in answer_events(runtime, user_id, message_id):
        last = event
    assert last is not None  # answer_events always ends with the final event
    return last


async def final_event(runtime: Runtime, user_id: int, message_id: int, after_seq: int = 0) -> TurnEvent:
    """The stored answer as its final event, once it is final (read again until then)."""
    msg, question_id = await service.stored_answer(runtime, user_id, message_id)
    waited = 0.0
    while msg.status is MessageStatus.streaming and waited < FINAL_WAIT_SECONDS:
        await asyncio.sleep(FINAL_POLL_SECONDS)
        waited += FINAL_POLL_SECONDS
        msg, question_id = await service.stored_answer(runtime, user_id, message_id)
    kind, payload = service.stored_payload(msg, question_id)
    return TurnEvent(kind, after_seq + 1, msg.id, msg.conversation_id, payload)
