"""Keyset pagination cursors: the sort key of a page's last row, opaque to clients (URL-safe
base64 of ``part|part``). A cursor that does not decode to what its list expects, including a
number no integer column holds, is a 400 that says what to send instead."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from helpline.core.errors import BadRequest
from helpline.core.ids import MAX_ID

INT4_MIN = -(2**31)
# For the OpenAPI document of a route that takes a cursor.
BAD_CURSOR: dict[int | str, dict[str, Any]] = {
    400: {"description": "cursor is not valid: use the next_cursor of the previous page"}
}


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode().rstrip("=")


def int4(text: str) -> int:
    """``text`` as a value of a PostgreSQL ``integer`` column; ValueError otherwise."""
    value = int(text)
    if not INT4_MIN <= value <= MAX_ID:
        raise ValueError(f"{value} is out of range")
    return value


def int8(text: str) -> int:
    """``text`` as a value of a PostgreSQL ``bigint`` column; ValueError otherwise."""
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{value} is out of range")
    return value


def decode_cursor(cursor: str, *parsers: Callable[[str], Any]) -> tuple[Any, ...]:
    """The cursor's parts, each through its parser (as many parts as parsers)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split("|")
        if len(parts) != len(parsers):
            raise ValueError("wrong number of parts")
        return tuple(parse(part) for parse, part in zip(parsers, parts, strict=True))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not valid; use the next_cursor of the previous page") from None
