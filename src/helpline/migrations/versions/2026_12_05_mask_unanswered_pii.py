"""Mask personal data in unanswered questions and the drafts made from them

Revision ID: 0009_mask_unanswered_pii
Revises: 0008_revoked_sessions
Create Date: 2026-12-05 08:00:00.000000

Unanswered questions are now masked when written (helpline.core.pii: card numbers, IBANs, email
addresses, phone numbers). This masks the rows written before, and the draft FAQs made from them
(question, and a slug made from it): a draft is not deleted with the conversation it came from.
A row whose text changes loses its vector (made from the unmasked text; grouping embeds the
masked one); a draft whose question changes loses its question vector and hash (`helpline
reindex`, or the next edit of the draft, embeds it again). The schema is unchanged: the rows
already go with their conversation or user (ON DELETE CASCADE since 0002).

It uses the application's masker rather than a copy of it frozen here: masking is idempotent, so
running it again with a later masker only masks more. Downgrade cannot unmask: it does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helpline.core.pii import mask_pii
from helpline.faqs.slugs import slugify

revision: str = "0009_mask_unanswered_pii"
down_revision: str | None = "0008_revoked_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    last_id = 0
    while True:
        rows = bind.execute(
            sa.text(
                # Only rows that can hold something to mask (a digit or an @) are read.
                "SELECT id, text FROM unanswered_questions WHERE id > :last AND text ~ '[0-9@]' ORDER BY id LIMIT :n"
            ),
            {"last": last_id, "n": BATCH},
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        changed = [{"id": r.id, "text": mask_pii(r.text)} for r in rows if mask_pii(r.text) != r.text]
        if changed:
            bind.execute(
                sa.text(
                    "UPDATE unanswered_questions SET text = :text, embedding = NULL, embedding_model = NULL WHERE id = :id"
                ),
                changed,
            )
    drafts = bind.execute(
        sa.text(
            "SELECT id, question, slug FROM faqs WHERE status = 'draft' "
            "AND id IN (SELECT faq_id FROM unanswered_questions) AND question ~ '[0-9@]'"
        )
    ).all()
    for draft in drafts:
        question = mask_pii(draft.question)
        if question == draft.question:
            continue
        slug = draft.slug
        if slug is not None and mask_pii(slug.replace("-", " ")) != slug.replace("-", " "):
            slug = f"{slugify(question, 70)}-{draft.id}"  # the id keeps it unique
        bind.execute(
            sa.text(
                "UPDATE faqs SET question = :question, slug = :slug, question_embedding = NULL, "
                "question_hash = NULL WHERE id = :id"
            ),
            {"id": draft.id, "question": question, "slug": slug},
        )


def downgrade() -> None:
    pass  # masked text cannot be unmasked
