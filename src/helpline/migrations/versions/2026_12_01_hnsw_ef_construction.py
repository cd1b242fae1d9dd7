"""HNSW indexes rebuilt with ef_construction = 128

Revision ID: 0007_hnsw_build
Revises: 0006_accented_terms
Create Date: 2026-12-01 17:00:00.000000

The vector indexes were built with pgvector's defaults (m = 16, ef_construction = 64). A graph
built with ef_construction = 128 finds as many true neighbours walking 40 candidates as the old
one did walking 100 (recall@10 at 100,000 FAQs: 0.972-0.986 at ef_search 40, against 0.907; see
bench/bench_scale.py), so each search does about half the index work. The options are set on
the existing indexes and each is rebuilt in the migration's transaction, with 256 MB of
maintenance_work_mem (the graph of 100,000 384-d vectors fits). That is instant for a knowledge
base of a few thousand FAQs; at 100,000 it takes 25 s per index on 2 cores (76 s with
PostgreSQL's default 64 MB), during which searches wait for the index and FAQ edits for the
table. Not CONCURRENTLY: that cannot run in a transaction, and it would wait for the snapshots
of other instances starting at the same moment, which wait for this one's migration lock (a
deadlock PostgreSQL breaks by failing one of them). An index a deployment does not have
(vectors wider than HNSW takes) is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_hnsw_build"
down_revision: str | None = "0006_accented_terms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = ("faqs_question_embedding_idx", "faqs_answer_embedding_idx")
BUILD_MEMORY = "256MB"


def _rebuild(options: str) -> None:
    present = set(
        op.get_bind()
        .execute(sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'faqs'"))
        .scalars()
    )
    names = [name for name in INDEXES if name in present]
    op.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    for name in names:
        op.execute(f"ALTER INDEX {name} {options}")
        op.execute(f"REINDEX INDEX {name}")


def upgrade() -> None:
    _rebuild("SET (m = 16, ef_construction = 128)")


def downgrade() -> None:
    _rebuild("RESET (m, ef_construction)")
