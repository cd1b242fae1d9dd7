"""`helpline faqs import|export|demo` and `helpline reindex`, run in-process on a test database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from helpline.cli import app
from tests.conftest import PgServer


@pytest.fixture
def cli_db(pg_server: PgServer) -> Iterator[str]:
    name = asyncio.run(pg_server.create_database())
    try:
        yield pg_server.url(name)
    finally:
        asyncio.run(pg_server.drop_database(name))


def run(url: str, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    base = {
        "HELPLINE_DATABASE_URL": url,
        "HELPLINE_DATA_DIR": str(tmp_path),
        "HELPLINE_EMBEDDING_PROVIDER": "fake",
        "HELPLINE_LLM_PROVIDER": "fake",
        "HELPLINE_MODERATION_PROVIDER": "off",
        "HELPLINE_LOG_LEVEL": "WARNING",
        "HELPLINE_LOG_JSON": "false",
    }
    result = CliRunner().invoke(app, list(args), env=base | env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def fetch(url: str, sql: str) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        u = make_url(url)
        conn = await asyncpg.connect(host=str(u.query["host"]), user="postgres", database=u.database)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(go())


def test_import_export_demo_and_reindex_from_the_command_line(cli_db: str, tmp_path: Path) -> None:
    source = tmp_path / "faqs.csv"
    source.write_text("question,answer,status\nDo you ship to Canada?,Yes.,published\nNo answer?,,\n")
    code, out, err = run(cli_db, tmp_path, "faqs", "import", str(source))
    assert code == 1  # a row was rejected
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert "faq 2: answer" in err

    code, out, _ = run(cli_db, tmp_path, "faqs", "demo")
    assert (code, out) == (0, "")  # there are FAQs already: no demo
    assert fetch(cli_db, "DELETE FROM faqs RETURNING id")
    code, out, _ = run(cli_db, tmp_path, "faqs", "demo")
    assert "Loaded the demo knowledge base: 61 FAQs in 9 categories" in out
    assert fetch(cli_db, "DELETE FROM faqs RETURNING id")
    code, out, _ = run(cli_db, tmp_path, "faqs", "demo")
    assert (code, out) == (0, "")  # loaded once: deleting the demo does not bring it back

    source.write_text("question,answer,keywords,status\nDo you ship to Canada?,Yes.,canada; export,published\n")
    code, out, err = run(cli_db, tmp_path, "faqs", "import", str(source))
    assert code == 0, (out, err)
    target = tmp_path / "out.json"
    code, _, err = run(cli_db, tmp_path, "faqs", "export", "--format", "json", "--output", str(target))
    assert code == 0, err
    exported = json.loads(target.read_text())
    assert [(f["slug"], f["keywords"]) for f in exported["faqs"]] == [("do-you-ship-to-canada", ["canada", "export"])]
    assert run(cli_db, tmp_path, "faqs", "export", "--format", "xml")[0] == 2

    # A new embedding width: the columns are resized, the vectors remade, the HNSW indexes rebuilt.
    code, out, err = run(cli_db, tmp_path, "reindex", HELPLINE_EMBEDDING_DIMENSION="16")
    assert code == 0, err
    assert "16 dimensions (resized from 384): 1 FAQs re-embedded (2 texts)" in out
    dims = fetch(
        cli_db, "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'faqs'::regclass AND attname LIKE '%_embedding'"
    )
    assert [r["atttypmod"] for r in dims] == [16, 16]
    rows = fetch(cli_db, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'faqs'")
    indexes = {r["indexname"]: r["indexdef"] for r in rows}
    for name in ("faqs_question_embedding_idx", "faqs_answer_embedding_idx"):
        assert indexes[name].endswith("WITH (m='16', ef_construction='128')"), indexes[name]
    assert fetch(cli_db, "SELECT vector_dims(question_embedding) d FROM faqs")[0]["d"] == 16
    code, out, _ = run(cli_db, tmp_path, "reindex", HELPLINE_EMBEDDING_DIMENSION="16")
    assert "0 FAQs re-embedded (0 texts), 1 already current" in out
