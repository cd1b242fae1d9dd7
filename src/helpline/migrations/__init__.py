"""Alembic migrations; run them through :func:`upgrade` / ``helpline migrate``.

A migration reads no application settings: what it does depends only on the database it runs on
and on what its caller passes here, so running it later, under other settings, gives the same
schema. The one deployment choice in the schema, the width of the vector columns, is given by the
caller when a database is created (``embedding_dimension``) and read back from the database by
any later migration that adds a vector column (:mod:`helpline.migrations.vectors`).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(url: str, *, embedding_dimension: int | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "helpline:migrations")
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s")
    cfg.attributes["database_url"] = url
    if embedding_dimension is not None:
        cfg.attributes["embedding_dimension"] = embedding_dimension
    return cfg


def upgrade(url: str, revision: str = "head", *, embedding_dimension: int | None = None) -> None:
    """Migrate the database at ``url`` to ``revision``. ``embedding_dimension``: the width of the
    vector columns if this creates them (a new database); 384, the bundled MiniLM's, when None.
    An existing database keeps its width (``helpline reindex`` changes it)."""
    command.upgrade(alembic_config(url, embedding_dimension=embedding_dimension), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
