"""Ids as the API accepts them. Every table's key is a PostgreSQL ``integer`` (32-bit): a larger
id cannot exist, and the driver could not even send it, so it is a clear 422 at the edge (and the
bound is in the OpenAPI document for clients)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**31 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
