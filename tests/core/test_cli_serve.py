"""`helpline serve` on a port that is taken fails at once with a plain message, before starting
the database or migrating anything."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from helpline.cli import app


def test_serve_on_a_taken_port_says_so_at_once(tmp_path: Path, monkeypatch: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"HELPLINE_DATA_DIR": str(tmp_path), "HELPLINE_ENV_FILE": "", "HELPLINE_REDIS_URL": ""}
        result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output
    assert not (tmp_path / "pg").exists()  # nothing started
