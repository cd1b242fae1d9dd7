"""full-text and keyword GIN indexes without a pending list (fastupdate off)

Revision ID: 0005_gin_fastupdate
Revises: 0004_guests
Create Date: 2026-12-01 03:30:00.000000

With GIN's default ``fastupdate = on``, new rows go to an unsorted pending list that every
search reads in full until a vacuum merges it. After a bulk import of 100,000 FAQs, that made
a search's full-text part 20 ms instead of 3 (bench/bench_scale.py) until autovacuum came by.
A knowledge base is written rarely and searched constantly: each write now updates the index
itself. The pending list already there is merged now.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_gin_fastupdate"
down_revision: str | None = "0004_guests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = ("ix_faqs_search_vector", "ix_faqs_keywords")


def upgrade() -> None:
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
