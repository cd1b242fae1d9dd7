"""Questions the knowledge base could not answer: recorded by the chat, grouped by meaning for
staff, turned into draft FAQs."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import Conflict, NotFound
from helpline.core.pii import mask_pii
from helpline.faqs import service
from helpline.faqs.backends import FAQDeps
from helpline.faqs.embeddings import embed_queries
from helpline.faqs.schemas import DraftFromUnanswered, FAQCreate
from helpline.faqs.search import primary_language
from helpline.models import FAQ, FAQStatus, UnansweredQuestion

MAX_TEXT_CHARS = 2000
DEFAULT_WINDOW = 500
DEFAULT_THRESHOLD = 0.75
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


async def record_unanswered(
    session: AsyncSession,
    text: str,
    language: str | None,
    embedding: Sequence[float] | None = None,
    *,
    model: str | None = None,
    user_id: int | None = None,
    conversation_id: int | None = None,
) -> UnansweredQuestion | None:
    """Keep a question the knowledge base had no answer for. ``embedding`` is the query's vector
    (``faqs.embeddings.embed_query``) and ``model`` the embedder that made it; without them the
    question is embedded when staff group the questions. Flushes, never commits. An empty text
    is ignored (returns None).

    Card numbers, IBANs, email addresses and phone numbers are masked before the row is written:
    staff read these rows and copy them into FAQs, where nothing ties them to the conversation
    any more. A vector made from the unmasked text is not kept; grouping embeds the masked one."""
    original = " ".join(text.split())
    text = mask_pii(original)  # before cutting: half a card number is no longer recognised
    if text != original:
        embedding = None
    text = text[:MAX_TEXT_CHARS]
    if not text:
        return None
    row = UnansweredQuestion(
        text=text,
        language=(language or "en")[:10],
        embedding=list(embedding) if embedding is not None and model is not None else None,
        embedding_model=model if embedding is not None else None,
        user_id=user_id,
        conversation_id=conversation_id,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    text: str
    language: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    members: list[Question]  # most recent first
    representative: Question
    language: str


def greedy_groups(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Leader-style clustering: each vector joins the first group whose (normalized) centroid it
    resembles at least ``threshold`` in cosine similarity, else starts a group. O(n x groups),
    fine for the few hundred recent questions it is given."""
    centroids: list[np.ndarray] = []
    sums: list[np.ndarray] = []
    groups: list[list[int]] = []
    for i, v in enumerate(vectors):
        if centroids:
            sims = np.stack(centroids) @ v
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                groups[best].append(i)
                sums[best] = sums[best] + v
                centroids[best] = sums[best] / (np.linalg.norm(sums[best]) or 1.0)
                continue
        groups.append([i])
        sums.append(v.copy())
        centroids.append(v / (np.linalg.norm(v) or 1.0))
    return groups


async def group_unanswered(
    session: AsyncSession,
    deps: FAQDeps,
    *,
    language: str | None = None,
    window: int = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 50,
) -> tuple[list[Group], int]:
    """The ``window`` most recent open questions, grouped by meaning, biggest groups first (then
    most recent); also returns how many questions were looked at."""
    stmt = (
        select(UnansweredQuestion)
        .where(UnansweredQuestion.faq_id.is_(None))
        .order_by(UnansweredQuestion.created_at.desc(), UnansweredQuestion.id.desc())
        .limit(window)
    )
    lang = primary_language(language)
    if lang is not None:
        stmt = stmt.where(UnansweredQuestion.language.ilike(f"{lang}%"))
    rows = list((await session.execute(stmt.add_columns(UnansweredQuestion.embedding))).all())
    if not rows:
        return [], 0
    questions = [Question(r[0].id, r[0].text, r[0].language, r[0].created_at) for r in rows]
    vectors = await _vectors(deps, [r[0] for r in rows], [r[1] for r in rows])
    if vectors is None:
        # No embedder: same words (case and punctuation aside) make a group.
        keys = [" ".join(_PUNCT.sub(" ", q.text.lower()).split()) for q in questions]
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            by_key.setdefault(key, []).append(i)
        index_groups = list(by_key.values())
    else:
        index_groups = greedy_groups(vectors, threshold)
    groups = []
    for members in index_groups:
        if vectors is not None and len(members) > 2:
            centre = vectors[members].mean(axis=0)
            rep = members[int(np.argmax(vectors[members] @ centre))]
        else:
            rep = members[0]
        language_counts = Counter(questions[i].language for i in members)
        groups.append(Group([questions[i] for i in members], questions[rep], language_counts.most_common(1)[0][0]))
    groups.sort(key=lambda g: (-len(g.members), -g.members[0].created_at.timestamp()))
    return groups[:limit], len(questions)


async def _vectors(deps: FAQDeps, rows: list[UnansweredQuestion], stored: list[object]) -> np.ndarray | None:
    """Unit vectors for the questions: the stored ones made by the current model, the rest
    embedded now (cached). None without an embedder."""
    if deps.embedder is None:
        return None
    model = deps.embedder.model
    missing = [i for i, r in enumerate(rows) if stored[i] is None or r.embedding_model != model]
    made = await embed_queries(deps, [rows[i].text for i in missing]) if missing else []
    if made is None:
        return None
    fresh = dict(zip(missing, made, strict=True))
    matrix = np.array([fresh[i] if i in fresh else np.asarray(stored[i]) for i in range(len(rows))], dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = matrix / norms
    return unit


async def draft_from_unanswered(
    session: AsyncSession,
    deps: FAQDeps,
    data: DraftFromUnanswered,
    *,
    actor_id: int,
    client: Client = audit.NO_CLIENT,
) -> FAQ:
    """A draft FAQ for a group of open questions, which are then marked handled by it."""
    ids = sorted(set(data.ids))
    rows = list(
        (
            await session.scalars(select(UnansweredQuestion).where(UnansweredQuestion.id.in_(ids)).with_for_update())
        ).all()
    )
    found = {r.id for r in rows}
    if missing := [i for i in ids if i not in found]:
        raise NotFound(f"No such unanswered question: {', '.join(map(str, missing))}")
    if handled := sorted(r.id for r in rows if r.faq_id is not None):
        raise Conflict(f"Already turned into a FAQ: {', '.join(map(str, handled))}")
    rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)  # most recent first
    language = data.language or Counter(r.language for r in rows).most_common(1)[0][0]
    # Rows are masked when written; the question staff typed, and rows older than the masking,
    # are masked here so the draft never carries what the rows may not.
    question = mask_pii(data.question or rows[0].text)
    faq = await service.create_faq(
        session,
        deps,
        FAQCreate.model_construct(
            question=question,
            answer=data.answer.strip(),
            category_id=data.category_id,
            keywords=None,
            status=FAQStatus.draft,
            priority=0,
            language=language if _valid_language(language) else "en",
            slug=None,
            meta_title=None,
            meta_description=None,
        ),
        actor_id=actor_id,
        client=client,
    )
    await session.execute(update(UnansweredQuestion).where(UnansweredQuestion.id.in_(ids)).values(faq_id=faq.id))
    audit.record(
        session, "faq.drafted_from_unanswered", actor_user_id=actor_id, target_type="faq",
        target_id=faq.id, client=client, details={"questions": len(ids)},
    )  # fmt: skip
    return faq


def _valid_language(tag: str) -> bool:
    return re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", tag) is not None
