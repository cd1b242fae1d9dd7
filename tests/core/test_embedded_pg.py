from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from helpline.core.embedded_pg import EmbeddedPostgres, shared_buffers_mb

pytestmark = pytest.mark.slow


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg")
    yield server
    server.stop()


def _postmaster(pg: EmbeddedPostgres) -> int | None:
    return pg._running_pid()


def test_start_reuse_and_release(pg: EmbeddedPostgres) -> None:
    url = pg.start()
    assert "host=" in url
    pid = _postmaster(pg)
    assert pid is not None
    assert pg.start() == url  # second start in the same process reuses the server
    assert _postmaster(pg) == pid
    pg.release()
    assert _postmaster(pg) is None


def test_server_left_by_a_killed_process_is_adopted_then_stopped(pg: EmbeddedPostgres) -> None:
    # A process starts the server and dies without cleaning up (kill -9).
    code = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from helpline.core.embedded_pg import EmbeddedPostgres
        EmbeddedPostgres(Path({str(pg.pgdata)!r})).start()
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    orphan = _postmaster(pg)
    assert orphan is not None
    pg.start()
    assert _postmaster(pg) == orphan  # reused, not a second server on the same folder
    pg.release()  # the dead process is pruned: we were the last user, so it stops
    assert _postmaster(pg) is None


def test_stale_pid_file_after_a_crash_is_handled(pg: EmbeddedPostgres) -> None:
    pg.start()
    pid = _postmaster(pg)
    assert pid is not None
    psutil.Process(pid).kill()  # the postmaster dies hard and leaves postmaster.pid behind
    psutil.Process(pid).wait(10)
    assert (pg.pgdata / "postmaster.pid").exists()
    assert _postmaster(pg) is None
    pg.start()
    assert _postmaster(pg) not in (None, pid)
    pg.release()


def test_another_live_user_keeps_the_server_running(pg: EmbeddedPostgres) -> None:
    pg.start()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (pg.clients / str(other.pid)).touch()
        pg.release()
        assert _postmaster(pg) is not None
    finally:
        other.kill()
        other.wait()
    pg.start()
    pg.release()
    assert _postmaster(pg) is None


def test_data_folder_is_private(pg: EmbeddedPostgres) -> None:
    pg.start()
    assert pg.pgdata.stat().st_mode & 0o777 == 0o700
    if os.geteuid() == 0:
        assert pg.pgdata.owner() == "embedded_postgres"
    pg.release()


def test_shared_buffers_follow_the_ram_within_bounds(pg: EmbeddedPostgres) -> None:
    assert shared_buffers_mb(2 * 2**30) == 256
    assert shared_buffers_mb(512 * 2**20) == 128
    assert shared_buffers_mb(64 * 2**30) == 1024
    pg.start()
    try:
        out = subprocess.run(
            [
                pg._bin("psql"),
                "-h",
                str(pg.socket_dir()),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
                "SHOW shared_buffers",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    finally:
        pg.release()
    assert out == f"{shared_buffers_mb()}MB".replace("1024MB", "1GB")
