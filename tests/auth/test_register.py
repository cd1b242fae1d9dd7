from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from helpline.core.runtime import Runtime
from tests.conftest import PASSWORD, login, register

ACCEPTED = {
    "status": "accepted",
    "detail": "If this email was not registered, your account is ready: sign in with your password.",
}
BASE: dict[str, Any] = {
    "email": "new@example.com",
    "password": PASSWORD,
    "data_processing_consent": True,
    "gdpr_consent": True,
}


async def _user_count(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM users"))


async def test_register_stores_user_and_consents(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    r = await register(client, "Mixed.Case@Example.COM", marketing_consent=False, first_name="Ada")
    assert r.status_code == 202, r.text
    assert r.json() == ACCEPTED
    body = (await login(client, "mixed.case@example.com")).json()["user"]
    assert body["email"] == "mixed.case@example.com"
    assert body["username"] == "mixed.case"
    assert body["role"] == "user"
    assert body["status"] == "active"
    assert body["first_name"] == "Ada"
    rows = await db.fetch(
        "SELECT consent_type::text, granted, policy_version, host(ip_address) AS ip_address FROM consent_records "
        "WHERE user_id = $1 ORDER BY consent_type",
        body["id"],
    )
    assert {(r["consent_type"], r["granted"]) for r in rows} == {
        ("gdpr", True),
        ("data_processing", True),
        ("marketing", False),
    }
    assert all(r["policy_version"] and r["ip_address"] == "127.0.0.0" for r in rows)
    stored = await db.fetchval("SELECT hashed_password FROM users WHERE id = $1", body["id"])
    assert stored.startswith("$2b$")
    assert PASSWORD not in stored
    actions = await db.fetch("SELECT action FROM audit_log WHERE target_id = $1", str(body["id"]))
    assert [a["action"] for a in actions] == ["user.registered", "auth.login"]


async def _traces(db: asyncpg.Connection) -> tuple[object, ...]:
    """Everything a registration may write."""
    return (
        await db.fetch("SELECT id, email, username, hashed_password, first_name FROM users ORDER BY id"),
        await db.fetchval("SELECT count(*) FROM consent_records"),
        await db.fetchval("SELECT count(*) FROM audit_log"),
    )


@pytest.fixture
def hashes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords the app hashes with bcrypt, in order (the real hasher, counted)."""
    seen: list[str] = []
    real = runtime.hasher.hash

    async def counted(password: str) -> str:
        seen.append(password)
        return await real(password)

    monkeypatch.setattr(runtime.hasher, "hash", counted)
    return seen


async def test_a_taken_email_gets_the_same_answer_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, hashes: list[str]
) -> None:
    """The attack: a 409 in 5 ms for a taken email against a 201 after a 200 ms hash told anyone
    who has an account. Now both are the same 202 after the same bcrypt hash."""
    created = await register(client, "dup@example.com")
    assert hashes == [PASSWORD]
    before = await _traces(db)
    taken = await register(client, "DUP@example.com", password="An0ther-pass-word", first_name="Mallory")
    assert (taken.status_code, taken.json()) == (created.status_code, created.json()) == (202, ACCEPTED)
    assert set(taken.headers) == set(created.headers)
    assert hashes == [PASSWORD, "An0ther-pass-word"]  # the taken path spent the same hash
    assert await _traces(db) == before  # and wrote nothing
    assert (await login(client, "dup@example.com")).status_code == 200  # the owner's password stands
    assert (await login(client, "dup@example.com", "An0ther-pass-word")).status_code == 401


async def test_taken_email_with_a_free_username_looks_like_a_new_account(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await register(client, "owner@example.com", username="owner")
    taken = await register(client, "owner@example.com", username="newcomer")
    fresh = await register(client, "fresh@example.com", username="someone")
    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json()) == (202, ACCEPTED)
    # Nothing was made of the first: its username is still free.
    assert (await register(client, "third@example.com", username="newcomer")).status_code == 202
    assert await _user_count(db) == 3


async def test_username_unique_case_insensitively(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    assert (await register(client, "a@example.com", username="Support_Fan")).status_code == 202
    r = await register(client, "b@example.com", username="support_fan")
    assert r.status_code == 409
    assert r.json()["detail"] == "This username is taken."
    # Checked before the email, so the answer is the same whether or not the email is taken.
    r = await register(client, "a@example.com", username="SUPPORT_FAN")
    assert (r.status_code, r.json()["detail"]) == (409, "This username is taken.")
    assert await _user_count(db) == 1


async def test_generated_usernames_do_not_collide(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    r1 = await register(client, "same@example.com")
    r2 = await register(client, "same@example.org")
    assert r1.status_code == r2.status_code == 202
    names = await db.fetch("SELECT username FROM users")
    assert len({n["username"] for n in names}) == 2


async def test_data_processing_consent_is_required(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    r = await client.post("/api/v1/auth/register", json={**BASE, "data_processing_consent": False})
    assert r.status_code == 422
    assert "consent" in r.json()["detail"]
    r = await client.post(
        "/api/v1/auth/register", json={k: v for k, v in BASE.items() if k != "data_processing_consent"}
    )
    assert r.status_code == 422
    assert await _user_count(db) == 0


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a" * 300 + "@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "x" * 100}, "password"),
        ({"password": "new-secret-pass", "email": "new-secret@example.com"}, "password"),
        ({"password": 12345678901}, "password"),
        ({"username": "a"}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"username": "x" * 51}, "username"),
        ({"username": "trailing\n"}, "username"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": "bad\x00name"}, "first_name"),
        ({"language": "english"}, "language"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"gdpr_consent": "yes"}, "gdpr_consent"),
        ({"data_processing_consent": 1}, "data_processing_consent"),
        ({"is_admin": True}, "is_admin"),
        ({"role": "admin"}, "role"),
    ],
)
async def test_bad_input_is_a_clear_422_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, patch: dict[str, Any], field: str
) -> None:
    r = await client.post("/api/v1/auth/register", json={**BASE, **patch})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert field in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    assert await _user_count(db) == 0
    assert await db.fetchval("SELECT count(*) FROM consent_records") == 0


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"null", b"[]", b'"text"', b'{"email": }', b"\xff\xfe", b"{" * 5000],
)
async def test_malformed_bodies(client: httpx.AsyncClient, db: asyncpg.Connection, raw: bytes) -> None:
    r = await client.post("/api/v1/auth/register", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert set(r.json()) >= {"error", "detail", "request_id"}
    assert await _user_count(db) == 0


async def test_missing_fields(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/register", json={})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"email", "password", "data_processing_consent"} <= fields


async def test_huge_string_is_refused(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    r = await client.post("/api/v1/auth/register", json={**BASE, "last_name": "x" * 200_000})
    assert r.status_code == 422
    assert await _user_count(db) == 0


async def test_body_over_limit_is_413(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    r = await client.post("/api/v1/auth/register", json={**BASE, "last_name": "x" * 2_000_000})
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "c@example.com", "last_name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = await client.post("/api/v1/auth/register", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    assert await _user_count(db) == 0
