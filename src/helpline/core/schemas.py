"""Types the domains' API schemas share (auth, chat, the knowledge base, ...), so that none of them
imports another domain for a type."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

LANGUAGE_RE = r"^[a-z]{2}(-[A-Z]{2})?$"
Language = Annotated[str, Field(pattern=LANGUAGE_RE, max_length=10)]


def _not_null(schema: dict[str, Any]) -> None:
    """The document's form of a field that may be left out but not sent as null: null is not
    offered (the service refuses it, 400). Validation stays ``X | None``, whose errors name the
    field plainly (a Union with a hidden None would prefix them with pydantic's union tags)."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return
    kept = [option for option in options if option != {"type": "null"}]
    if len(kept) == 1:
        del schema["anyOf"]
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept
    if schema.get("default", ...) is None:
        del schema["default"]


# ``Annotated[X | None, NOT_NULL] = None``: leave out to keep the current value; null is refused.
NOT_NULL = Field(json_schema_extra=_not_null)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)
