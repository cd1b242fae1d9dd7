"""`helpline users set-password`: an operator sets the password of a user who cannot receive mail."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.cluster.launcher import base_env
from tests.conftest import PASSWORD, bearer, login, signed_in
from tests.test_server_process import run_cli


async def test_an_operator_sets_a_password_and_the_sessions_end(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    tokens = await signed_in(client, "stuck@example.com")
    env = base_env(tmp_path, HELPLINE_DATABASE_URL=database_url)

    def cli(*args: str) -> tuple[int, str, str]:
        r = run_cli("users", "set-password", *args, env=env)
        return r.returncode, r.stdout, r.stderr

    code, out, err = await asyncio.to_thread(cli, "--email", "Stuck@Example.com", "--password", "Operator-set-2026")
    assert code == 0, err
    assert "Password of stuck@example.com set" in out
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 401
    assert (await login(client, "stuck@example.com", PASSWORD)).status_code == 401
    assert (await login(client, "stuck@example.com", "Operator-set-2026")).status_code == 200

    code, _, err = await asyncio.to_thread(cli, "--email", "nobody@example.com", "--password", "Operator-set-2026")
    assert (code, err.strip()) == (1, "helpline: no account with the email nobody@example.com")
    code, _, err = await asyncio.to_thread(cli, "--email", "stuck@example.com", "--password", "short")
    assert code == 2
    assert "8" in err
    assert (await login(client, "stuck@example.com", "Operator-set-2026")).status_code == 200
