"""The OpenAPI document is true: schemathesis generates requests from /openapi.json (valid and
invalid ones: its examples, coverage, fuzzing and stateful phases) against a real server and
fails on any answer the document does not describe: a 5xx, an undocumented status, content type
or header, or a body that does not match its schema.

Bounded and reproducible: a fixed seed, deterministic generation, a few examples per operation.
Run as its CLI (`st run`), the way a client's developer would run it against the server.
"""

from __future__ import annotations

import json
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
# Not positive_data_acceptance: it expects every request valid by the schema to succeed, but
# opaque values (cursors, hand-off codes, Last-Event-ID, passwords to check) and ids of rows can be
# valid by the schema and still wrong, and some rules (common passwords, IANA time zones, the
# search query's length once normalised) are not JSON Schema: it reports those, run after run.
MAX_EXAMPLES = 5
SEED = 20261205
RUN_TIMEOUT_SECONDS = 600  # a bound against a hang, not a speed check (a loaded machine took 304 s)

# Operations that end the caller's own login or account (or take away the consent chat needs):
# each is sent with a token of an account of its own, so the rest of the run keeps a working one.
# After the first success that account's token is revoked or gone: the rest of its cases check
# the documented 401s.
DESTRUCTIVE = (
    "POST /api/v1/auth/logout",
    "DELETE /api/v1/users/me",
    "POST /api/v1/users/me/password",
    "PUT /api/v1/privacy/consents",
)


def _config(
    headers: dict[str, str], per_operation: dict[str, dict[str, str]], no_coverage_phase: tuple[str, ...] = ()
) -> str:
    """schemathesis.toml: headers for every operation, and for some their own; the operations in
    ``no_coverage_phase`` skip that phase."""

    def table(values: dict[str, str]) -> str:
        # TOML basic strings take JSON's escapes.
        return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()) + " }"

    lines = [f"headers = {table(headers)}"]
    for name, extra in per_operation.items():
        lines += ["", "[[operations]]", f"include-name = {json.dumps(name)}", f"headers = {table(extra)}"]
    if no_coverage_phase:
        lines += ["", "[[operations]]", f"include-name = {json.dumps(list(no_coverage_phase))}"]
        lines += ["phases.coverage.enabled = false"]
    return "\n".join(lines) + "\n"


# Routes only staff may call: for a user every case of theirs is a 401/403 (the authorization
# table checks those per role); the administrator's run covers their answers. Left out of the
# user's run, they took two thirds of its time (5,092 cases, 176 s).
STAFF_ONLY = r"^/api/v1/(admin/|analytics/(dashboard|conversations))"
# Staff operations outside those paths (and the guest's hand-off): a user gets a 403 for each. The
# user's run still sends them its examples and fuzzed cases (its 403s must be documented), not the
# coverage phase's hundreds of boundary and invalid bodies, each answered the same 403 before its
# body is read (about a third of the user's run).
USER_FORBIDDEN = (
    "POST /api/v1/auth/guest/handoff",
    "POST /api/v1/faq-categories",
    "PUT /api/v1/faq-categories/{category_id}",
    "DELETE /api/v1/faq-categories/{category_id}",
    "GET /api/v1/faq-phrasing-suggestions",
    "POST /api/v1/faq-phrasing-suggestions/{suggestion_id}/approve",
    "POST /api/v1/faq-phrasing-suggestions/{suggestion_id}/reject",
    "POST /api/v1/faqs",
    "PUT /api/v1/faqs/{faq_id}",
    "DELETE /api/v1/faqs/{faq_id}",
    "GET /api/v1/faqs/export",
    "POST /api/v1/faqs/import",
    "GET /api/v1/faqs/unanswered",
    "POST /api/v1/faqs/unanswered/draft",
    "GET /api/v1/privacy/retention",
    "GET /api/v1/support/canned",
    "GET /api/v1/support/inbox",
    "GET /api/v1/support/conversations/{conversation_id}",
    "POST /api/v1/support/conversations/{conversation_id}/claim",
    "POST /api/v1/support/conversations/{conversation_id}/notes",
    "POST /api/v1/support/conversations/{conversation_id}/release",
    "POST /api/v1/support/conversations/{conversation_id}/reply",
    "POST /api/v1/support/conversations/{conversation_id}/resolve",
    "GET /api/v1/users",
    "PATCH /api/v1/users/{user_id}",
)
# What the administrator's run leaves to the user's, whose requests would be the same ones (the
# same seed) answered the same way: the sign-in routes (/auth/: register, login, refresh, reset,
# verification, guest tokens), which do not look at the caller's role, and the destructive
# operations, which both runs send as an ordinary account of their own. Together about a third of
# the administrator's run.
ADMIN_SKIPS = r"^/api/v1/auth/"


def _schemathesis(base_url: str, config: Path, workdir: Path, *extra: str) -> None:
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
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
        *extra,
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
    """Every operation, as a signed-in user and as an administrator (whose PATCH /users/{id} and
    admin erasure act on other accounts: they cannot demote, suspend or erase themselves); the
    administrator's run leaves out what the user's already sends the same way (ADMIN_SKIPS)."""
    with live_server(pg_server, tmp_path / "data") as server:
        headers = server.account(f"{role}@example.com", admin=role == "admin")
        config = tmp_path / "schemathesis.toml"
        extra: tuple[str, ...]
        if role == "admin":
            config.write_text(_config(headers, {}))
            extra = (
                "--exclude-path-regex",
                ADMIN_SKIPS,
                *(a for name in DESTRUCTIVE for a in ("--exclude-name", name)),
            )
        else:
            own = {name: server.account(f"{role}-{i}@example.com") for i, name in enumerate(DESTRUCTIVE)}
            config.write_text(_config(headers, own, USER_FORBIDDEN))
            extra = ("--exclude-path-regex", STAFF_ONLY)
        _schemathesis(server.base_url, config, tmp_path, *extra)
