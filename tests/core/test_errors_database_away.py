"""A database restarting under load (the load suite's postgres fault): the requests it fails are
answered 503 with Retry-After, "try again shortly", not 500 "an unexpected error"."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from helpline.core.errors import failure


class _DriverError(Exception):
    """What SQLAlchemy's asyncpg adapter raises: the server's SQLSTATE copied onto it."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "invalidated"),
    [
        (
            _DriverError("the database system is shutting down", asyncpg.exceptions.CannotConnectNowError.sqlstate),
            False,
        ),
        (_DriverError("terminating connection due to administrator command", "57P01"), False),
        (_DriverError("connection failure", "08006"), False),
        (_DriverError("connection was closed in the middle of operation", None), True),
    ],
)
def test_a_database_that_went_away_is_a_503(orig: Exception, invalidated: bool) -> None:
    error = sa_exc.DBAPIError("SELECT 1", {}, orig, connection_invalidated=invalidated)
    assert failure(error, "/api/v1/chat/send") == (
        503,
        "service_unavailable",
        "A backing service is unavailable; try again shortly.",
    )


def test_other_database_errors_stay_what_they_were() -> None:
    bug = sa_exc.DBAPIError("SELECT 1/0", {}, _DriverError("division by zero", "22012"))
    assert failure(bug, "/x")[0] == 500
    too_long = sa_exc.DBAPIError("INSERT", {}, _DriverError("value too long", "22001"))
    assert failure(too_long, "/x")[:2] == (422, "invalid_value")
