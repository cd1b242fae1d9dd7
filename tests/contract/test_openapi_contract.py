"""The OpenAPI document is true: schemathesis generates requests from /openapi.json (valid and
invalid ones: its examples, coverage, fuzzing and stateful phases) against a real server and
fails on any answer the document does not describe: a 5xx, an undocumented status, content type
or header, or a body that does not match its schema.

Bounded and reproducible: a fixed seed, deterministic generation, a few examples per operation.
Run as its CLI (`st run`), the way a client's developer would run it against the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PgServer
from tests.contract.server import live_server

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
)
MAX_EXAMPLES = 8
SEED = 20261205
RUN_TIMEOUT_SECONDS = 300

# Operations that end the caller's own login or account (or take away the consent chat needs):
# each is tested on an account of its own, so the rest of the run keeps a working token.
DESTRUCTIVE = {
    "logout": ("POST", "/api/v1/auth/logout"),
    "erase-me": ("DELETE", "/api/v1/users/me"),
    "password": ("POST", "/api/v1/users/me/password"),
    "consents": ("PUT", "/api/v1/privacy/consents"),
}


def _schemathesis(base_url: str, headers: dict[str, str], selection: list[str], workdir: Path) -> None:
    st = Path(sys.executable).with_name("st")
    args = [
        str(st),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
        *selection,
    ]
    # Run in a scratch folder: schemathesis keeps its cache and reports in the working directory.
    result = subprocess.run(
        args,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    print(result.stdout + result.stderr)  # the report: shown by pytest when the test fails
    assert result.returncode == 0, "schemathesis found answers the OpenAPI document does not describe (report above)"


@pytest.mark.slow
@pytest.mark.parametrize("role", ["user", "admin"])
def test_every_operation_conforms(pg_server: PgServer, tmp_path: Path, role: str) -> None:
    """Every operation but the destructive ones, as a signed-in user and as an administrator
    (whose PATCH /users/{id} and admin erasure act on other accounts: they cannot demote, suspend
    or erase themselves)."""
    with live_server(pg_server, tmp_path / "data") as server:
        headers = server.account(f"{role}@example.com", admin=role == "admin")
        skip = [arg for method, path in DESTRUCTIVE.values() for arg in ("--exclude-name", f"{method} {path}")]
        _schemathesis(server.base_url, headers, skip, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DESTRUCTIVE))
def test_destructive_operation_conforms(pg_server: PgServer, tmp_path: Path, name: str) -> None:
    """A destructive operation on an account of its own (after its first success the token is
    revoked or the account gone: the remaining cases check the documented 401s)."""
    method, path = DESTRUCTIVE[name]
    with live_server(pg_server, tmp_path / "data") as server:
        headers = server.account(f"{name}@example.com")
        _schemathesis(server.base_url, headers, ["--include-name", f"{method} {path}"], tmp_path)
