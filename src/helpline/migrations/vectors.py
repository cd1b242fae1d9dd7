"""The width of the vector columns, for the migrations that create them (never from settings:
see the package's docstring)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

_WIDTH = sa.text(
    "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'faqs'::regclass AND attname = 'question_embedding'"
)
# The bundled local embedder's (all-MiniLM-L6-v2), when the caller gives no width.
DEFAULT_DIMENSION = 384


def new_dimension() -> int:
    """The width for the vector columns of a new database: the caller's
    (``migrations.upgrade(..., embedding_dimension=N)``, or ``alembic -x embedding_dimension=N``),
    else DEFAULT_DIMENSION."""
    given = context.config.attributes.get("embedding_dimension")
    if given is None:
        given = context.get_x_argument(as_dictionary=True).get("embedding_dimension")
    return int(given) if given else DEFAULT_DIMENSION


def current_dimension() -> int:
    """The width of the FAQ vector columns as the database has them, so that a vector column added
    later matches them (``helpline reindex`` resizes them all together). Offline (SQL written out,
    no database to ask): ``new_dimension()``."""
    if context.is_offline_mode():
        return new_dimension()
    width = op.get_bind().scalar(_WIDTH)
    if not width or width < 1:
        raise RuntimeError("faqs.question_embedding has no width: the database is not one these migrations made")
    return int(width)
