"""One access rule (auth.access): every case run through its Python form (``refusal``) and its SQL
form (``ALLOWED_SQL``, which a chat turn's statement checks), on real PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from helpline.auth import access
from helpline.chat import repository
from helpline.core.runtime import Runtime
from helpline.core.security import TokenClaims
from helpline.models import UserStatus

ISSUED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # tokens carry whole seconds
# Password changes around the token's second, and none.
CHANGES: list[float | None] = [None, -3600.0, -1.0, -0.5, 0.0, 0.25, 0.999, 1.0, 1.5, 3600.0]

_EVALUATE = text(
    f"""
    SELECT {access.ALLOWED_SQL} AS allowed
    FROM (SELECT CAST(:revoked AS boolean) AS revoked, CAST(:status AS text) AS status,
                 CAST(:consent AS boolean) AS consent,
                 CAST(:password_changed_at AS timestamptz) AS password_changed_at) AS caller
    """  # noqa: S608 (constant text)
)


def claims() -> TokenClaims:
    return TokenClaims(
        sub="1",
        email="a@example.com",
        role="user",
        type="access",
        exp=ISSUED + timedelta(minutes=15),
        iat=ISSUED,
        jti=uuid.uuid4(),
        sid=uuid.uuid4(),
    )


async def test_the_turn_statement_and_every_endpoint_apply_the_same_rule(runtime: Runtime) -> None:
    cases = list(itertools.product([False, True], list(UserStatus), [True, False], CHANGES))
    token = claims()
    answers: set[bool] = set()
    async with runtime.engine.connect() as conn:
        for revoked, status, consent, change in cases:
            changed_at = None if change is None else ISSUED + timedelta(seconds=change)
            account = access.Account(status, changed_at, revoked=revoked, consent=consent)
            python = access.refusal(token, account, needs_consent=True) is None
            params = {
                "revoked": revoked,
                "status": status.value,
                "consent": consent,
                "password_changed_at": changed_at,
                "issued_at": ISSUED,
            }
            sql = (await conn.execute(_EVALUATE, params)).scalar_one()
            assert sql is python, (revoked, status, consent, change)
            answers.add(python)
    assert answers == {True, False}


def test_a_turn_checks_the_account_with_the_generated_sql() -> None:
    for statement in (repository._NEW_CONVERSATION, repository._EXISTING_CONVERSATION):
        assert access.CALLER_SQL in statement.text
        assert access.ALLOWED_SQL in statement.text


def test_consent_is_asked_only_by_the_chat_turn() -> None:
    token = claims()
    withdrawn = access.Account(UserStatus.active, None, revoked=False, consent=False)
    assert access.refusal(token, withdrawn) is None
    error = access.refusal(token, withdrawn, needs_consent=True)
    assert error is not None
    assert error.detail == access.CONSENT_REQUIRED
