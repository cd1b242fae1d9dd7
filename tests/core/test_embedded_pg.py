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


needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root runs the server as a system user"
)


@pytest.fixture
def binaries_in_a_private_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled binaries reached through a folder of mode 0700, as in a clone under a private
    home directory: a symlink to them there stands in for the clone's whole .venv."""
    import helpline.core.embedded_pg as embedded_pg

    real = embedded_pg._bin_dir().parent
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    (private / "pginstall").symlink_to(real, target_is_directory=True)
    monkeypatch.setattr(embedded_pg, "_bin_dir", lambda: private / "pginstall" / "bin")
    return private


@needs_root
def test_binaries_under_a_private_folder_start_as_make_run_does(
    tmp_path: Path, binaries_in_a_private_folder: Path
) -> None:
    private = binaries_in_a_private_folder
    pg_ctl = private / "pginstall" / "bin" / "pg_ctl"
    # The newcomer's failure: the system user cannot run what lies under the private folder.
    with pytest.raises(PermissionError):
        subprocess.run([str(pg_ctl), "--version"], user="embedded_postgres", capture_output=True, check=False)
    # The tests keep their data outside the clone (tests/conftest.py: a temporary folder).
    server = EmbeddedPostgres(tmp_path / "data" / "pg")
    try:
        assert "host=" in server.start()
    finally:
        server.release()
    assert server._running_pid() is None
    # Opened for search only: others may pass through, not list it.
    assert private.stat().st_mode & 0o777 == 0o711


@needs_root
def test_a_folder_that_cannot_be_opened_is_named_with_what_is_needed(
    tmp_path: Path, binaries_in_a_private_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpline.core.embedded_pg import EmbeddedPostgresError

    real_chmod = Path.chmod

    def refuse(self: Path, mode: int, **kwargs: object) -> None:
        if self == binaries_in_a_private_folder:
            raise PermissionError(1, "Operation not permitted")  # a read-only or root-squashed mount
        real_chmod(self, mode)

    monkeypatch.setattr(Path, "chmod", refuse)
    with pytest.raises(EmbeddedPostgresError) as caught:
        EmbeddedPostgres(tmp_path / "data" / "pg").start()
    message = str(caught.value)
    assert str(binaries_in_a_private_folder) in message
    assert "chmod go+x" in message
    assert "HELPLINE_DATABASE_URL" in message
