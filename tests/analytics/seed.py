"""A small, known dataset written straight into the tables the roll-ups read, with fixed times
(early November 2026, UTC), so every figure of the reports can be checked by hand:

- u1 (registered 2026-11-01 10:00Z), conversation c1 (en): a question answered from FAQ f1
  (rated helpful), then one the model answered citing f2 (rated not helpful, 100 + 50 tokens).
- u2 (registered 2026-11-02 23:30Z, i.e. 00:30 on the 3rd in Paris), conversation c2 (fr): a
  flagged question refused by the moderation, then an honest "I don't know" from the guard.
- g1 (a widget guest, 2026-11-03 09:00Z), conversation c3 (en): a question whose answer failed.
- Unanswered questions: "What is the weather?" twice (different case and punctuation), "Can I
  pay in bitcoin?" once, and one already turned into a FAQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
T2 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
MODEL = "smollm"


@dataclass
class Seeded:
    u1: int
    u2: int
    g1: int
    f1: int
    f2: int
    c1: int
    c2: int
    c3: int
    answers: dict[str, int]  # name -> message id


async def _user(db: asyncpg.Connection, name: str, at: datetime, guest: bool = False) -> int:
    uid: int = await db.fetchval(
        "INSERT INTO users (email, username, hashed_password, created_at, is_guest) "
        "VALUES ($1, $2, 'x', $3, $4) RETURNING id",
        f"{name}@seed.example",
        f"seed-{name}",
        at,
        guest,
    )
    return uid


async def _conversation(db: asyncpg.Connection, uid: int, at: datetime, language: str, count: int) -> int:
    cid: int = await db.fetchval(
        "INSERT INTO conversations (user_id, title, language, created_at, message_count, last_message_at) "
        "VALUES ($1, 'seed', $2, $3, $4, $3) RETURNING id",
        uid,
        language,
        at,
        count,
    )
    return cid


async def message(
    db: asyncpg.Connection,
    cid: int,
    uid: int | None,
    kind: str,
    content: str,
    at: datetime,
    *,
    model: str | None = None,
    status: str = "sent",
    tokens: int = 0,
    response_ms: int | None = None,
    meta: dict[str, Any] | None = None,
) -> int:
    mid: int = await db.fetchval(
        "INSERT INTO messages (conversation_id, user_id, content, message_type, status, tokens_used, model_used, "
        "response_time_ms, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10) RETURNING id",
        cid,
        uid,
        content,
        kind,
        status,
        tokens,
        model,
        response_ms,
        None if meta is None else json.dumps(meta),
        at,
    )
    return mid


async def feedback(db: asyncpg.Connection, mid: int, uid: int, helpful: bool, at: datetime | None = None) -> None:
    await db.execute(
        "INSERT INTO message_feedback (message_id, user_id, helpful, created_at) VALUES ($1, $2, $3, $4)",
        mid,
        uid,
        helpful,
        at or datetime.now(UTC),
    )


def _source(fid: int) -> dict[str, Any]:
    return {"id": fid, "question": "q", "score": 0.9}


async def seed(db: asyncpg.Connection) -> Seeded:
    u1 = await _user(db, "u1", T0)
    u2 = await _user(db, "u2", T1)
    g1 = await _user(db, "g1", T2, guest=True)
    f1 = await db.fetchval(
        "INSERT INTO faqs (question, answer, status) VALUES ('How do I reset my password?', 'Use the link.', "
        "'published') RETURNING id"
    )
    f2 = await db.fetchval(
        "INSERT INTO faqs (question, answer, status) "
        "VALUES ('Where is my parcel?', 'Track it.', 'published') RETURNING id"
    )
    m = timedelta(minutes=1)
    c1 = await _conversation(db, u1, T0, "en", 4)
    await message(db, c1, u1, "user", "How do I reset my password?", T0)
    a_faq = await message(
        db,
        c1,
        None,
        "assistant",
        "Use the link.",
        T0 + m / 6,
        model="faq",
        response_ms=100,
        meta={"provider": "faq", "sources": [_source(f1)], "answered_from_faq": f1},
    )
    await message(db, c1, u1, "user", "Where is my parcel?", T0 + m)
    a_model = await message(
        db,
        c1,
        None,
        "assistant",
        "It is on its way [1].",
        T0 + m + m / 6,
        model=MODEL,
        tokens=150,
        response_ms=1000,
        meta={"provider": "local", "sources": [_source(f2)], "usage": {"prompt_tokens": 100, "completion_tokens": 50}},
    )
    await feedback(db, a_faq, u1, True, T0 + 2 * m)
    await feedback(db, a_model, u1, False, T0 + 2 * m)
    c2 = await _conversation(db, u2, T1, "fr", 4)
    await message(db, c2, u2, "user", "you idiot", T1, meta={"flagged": True})
    a_refusal = await message(
        db,
        c2,
        None,
        "assistant",
        "Désolé.",
        T1 + m / 6,
        model="moderation",
        response_ms=10,
        meta={"refusal": True, "flagged": True},
    )
    await message(db, c2, u2, "user", "Quel temps fera-t-il demain ?", T1 + m)
    a_guard = await message(
        db,
        c2,
        None,
        "assistant",
        "Je ne sais pas.",
        T1 + m + m / 6,
        model="guard",
        response_ms=50,
        meta={"provider": "guard", "guard": {"action": "dont_know", "reason": "no_source"}},
    )
    c3 = await _conversation(db, g1, T2, "en", 2)
    await message(db, c3, g1, "user", "hi", T2)
    a_failed = await message(
        db,
        c3,
        None,
        "assistant",
        "",
        T2 + m / 6,
        model=MODEL,
        status="failed",
        response_ms=5000,
        meta={"error": "The assistant is unavailable right now"},
    )
    for text, at in (("What is the weather?", T1 + m), ("what is the WEATHER ??", T2), ("Can I pay in bitcoin?", T2)):
        await db.execute(
            "INSERT INTO unanswered_questions (text, language, created_at, user_id) VALUES ($1, 'en', $2, $3)",
            text,
            at,
            u1,
        )
    await db.execute(
        "INSERT INTO unanswered_questions (text, language, created_at, faq_id) VALUES ('Handled', 'en', $1, $2)",
        T2,
        f1,
    )
    return Seeded(
        u1,
        u2,
        g1,
        f1,
        f2,
        c1,
        c2,
        c3,
        {"faq": a_faq, "model": a_model, "refusal": a_refusal, "guard": a_guard, "failed": a_failed},
    )
