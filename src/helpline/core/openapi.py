"""The OpenAPI document, made true to the API in one place.

FastAPI documents its own 422 body (HTTPValidationError), only the statuses a route lists, and
every route that can read a bearer token as needing one. Here the generated document is finished
once, for every route, the new ones included:

- every error is our real body ({"error", "detail", "request_id"}, core/errors.py): the
  validation error's with its ``errors`` list, a 429's with ``retry_after`` and the Retry-After
  header, a 503's with Retry-After;
- a route gets the statuses its dependencies can answer with: a dependency says which with
  ``documents(...)`` (CurrentUser: 401 and 403, an admin check: 403, the runtime: 503), so a
  route using them needs to list only the statuses of its own rules;
- a body can be too large (413) or invalid (422); a path that names a resource can name one
  that is not there (404);
- where no dependency requires a token, a route that reads one documents it as optional
  (``security: [{"HTTPBearer": []}, {}]``): anonymous callers and guests are served.

A route's own ``responses=`` entry wins over these (its description, or a body of another shape,
as /health/ready's 503).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, Field
from starlette.routing import BaseRoute

from helpline.core.ratelimit import route_group

F = TypeVar("F", bound=Callable[..., Any])

REF = "#/components/schemas/{model}"


class FieldError(BaseModel):
    field: str | None = Field(description="The field at fault (dotted path), or null for the whole request")
    message: str
    type: str | None = Field(default=None, description="The kind of error, such as missing or string_too_long")


class ErrorResponse(BaseModel):
    """Every error the API answers with."""

    error: str = Field(description="A stable code: not_found, forbidden, rate_limited, ...", examples=["not_found"])
    detail: str = Field(description="What went wrong, for a person to read")
    request_id: str | None = Field(description="The X-Request-ID of the request, to quote in a report")


class ValidationErrorResponse(ErrorResponse):
    """A request the API cannot accept as sent (error validation_error), or a value the database
    refused to store (error invalid_value; nothing was written)."""

    errors: list[FieldError] = Field(default_factory=list, description="One entry per field at fault")


class RateLimitedResponse(ErrorResponse):
    retry_after: int = Field(description="Seconds to wait before trying again (also the Retry-After header)")


_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
# The body model and headers of each status; any other error status has the plain ErrorResponse.
_BODIES: dict[int, tuple[type[ErrorResponse], dict[str, Any]]] = {
    422: (ValidationErrorResponse, {}),
    429: (RateLimitedResponse, _RETRY_AFTER),
    503: (ErrorResponse, _RETRY_AFTER),
}
DEFAULT_DESCRIPTIONS = {
    400: "The request cannot be carried out as sent",
    401: "No valid access token: send 'Authorization: Bearer <access token>' (refresh it if it expired)",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests: wait Retry-After seconds",
    503: "A backing service (database, Redis) is unavailable; try again shortly",
}


@dataclass(frozen=True)
class Documented:
    """What a dependency adds to the document of every route that uses it."""

    errors: dict[int, str] = field(default_factory=dict)
    # Answers 401 without a valid bearer token: the route's security is not optional.
    requires_token: bool = False


def documents(errors: dict[int, str] | None = None, *, requires_token: bool = False) -> Callable[[F], F]:
    """Mark a dependency with the error statuses it can answer (and whether it needs a token)."""

    def mark(call: F) -> F:
        call.__helpline_openapi__ = Documented(dict(errors or {}), requires_token)  # type: ignore[attr-defined]
        return call

    return mark


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


@dataclass
class _RouteFacts:
    errors: dict[int, str] = field(default_factory=dict)
    requires_token: bool = False
    reads_token: bool = False


def _facts(route: Any) -> _RouteFacts:
    facts = _RouteFacts()
    for dep in _dependencies(route.dependant):
        mark = getattr(dep.call, "__helpline_openapi__", None)
        if isinstance(mark, Documented):
            for status, description in mark.errors.items():
                facts.errors.setdefault(status, description)
            facts.requires_token |= mark.requires_token
        if isinstance(dep.call, SecurityBase):
            facts.reads_token = True
    flat = [route.dependant, *_dependencies(route.dependant)]
    if any(d.body_params for d in flat) or (route.openapi_extra or {}).get("requestBody"):
        facts.errors.setdefault(413, DEFAULT_DESCRIPTIONS[413])
        facts.errors.setdefault(422, DEFAULT_DESCRIPTIONS[422])
    if any(d.path_params for d in flat):
        facts.errors.setdefault(404, DEFAULT_DESCRIPTIONS[404])
    if any(d.query_params or d.header_params or d.cookie_params or d.path_params for d in flat):
        facts.errors.setdefault(422, DEFAULT_DESCRIPTIONS[422])
    return facts


def _error_content(status: int) -> tuple[dict[str, Any], dict[str, Any]]:
    model, headers = _BODIES.get(status, (ErrorResponse, {}))
    return {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}, headers


def _finish_operation(operation: dict[str, Any], facts: _RouteFacts) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in facts.errors.items():
        responses.setdefault(str(status), {"description": description})
    for key, response in responses.items():
        if not key.isdigit() or int(key) < 400:
            continue
        status = int(key)
        content, headers = _error_content(status)
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        # FastAPI's own validation error body is replaced by ours; a route's own body stays.
        if not response.get("content") or schema.get("$ref", "").endswith("/HTTPValidationError"):
            response["content"] = content
            if response.get("description") == "Validation Error":
                response["description"] = DEFAULT_DESCRIPTIONS[422]
        if headers and response["content"] == content:
            response.setdefault("headers", {}).update(headers)
    if facts.reads_token and not facts.requires_token and operation.get("security"):
        # Anonymous (or guest) callers are served: no token is one of the ways in.
        operation["security"] = [*operation["security"], {}]
    operation["responses"] = dict(sorted(responses.items()))


_QUOTA: dict[str, Any] = {
    "RateLimit-Limit": {"description": "Requests allowed in the window closest to running out"},
    "RateLimit-Remaining": {"description": "Requests left in that window"},
    "RateLimit-Reset": {"description": "Seconds until that window has room again"},
    "RateLimit-Policy": {"description": "Every window counted, as '60;w=60, 1000;w=3600'"},
}


def _document_quota(operation: dict[str, Any]) -> None:
    """The RateLimit headers (IETF draft) on a rate-limited route's answers: its successes and
    its 429s (absent when the limit store is down and requests go through uncounted)."""
    for key, response in operation.get("responses", {}).items():
        if key.startswith("2") or key == "429":
            for name, header in _QUOTA.items():
                response.setdefault("headers", {}).setdefault(name, {**header, "schema": {"type": "string"}})


def _models() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (ErrorResponse, ValidationErrorResponse, RateLimitedResponse):
        schema = model.model_json_schema(ref_template=REF, mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def finish_document(document: dict[str, Any], routes: list[BaseRoute]) -> dict[str, Any]:
    """Make ``document`` (FastAPI's, for ``routes``) true to the API; changes it in place."""
    paths: dict[str, Any] = document.get("paths", {})
    # Each route as included (prefix joined, router dependencies added), as FastAPI documents it.
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        facts = _facts(route)
        limited = route_group(route.path_format or "") is not None
        if limited:  # every API route counts in a rate limit (core/ratelimit.py)
            facts.errors.setdefault(429, DEFAULT_DESCRIPTIONS[429])
        for method in route.methods or ():
            operation = paths.get(route.path_format or "", {}).get(method.lower())
            if operation is not None:
                _finish_operation(operation, facts)
                if limited:
                    _document_quota(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    # FastAPI's validation error models, referenced by nothing now.
    if schemas.pop("HTTPValidationError", None) is not None:
        schemas.pop("ValidationError", None)
    schemas.update(_models())
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve (and cache) the finished document as /openapi.json and ``app.openapi()``."""
    generate = app.openapi
    finished: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        # FastAPI regenerates the document when routes were added since; finish each one once.
        if not finished or finished[0] is not document:
            finished[:] = [finish_document(document, app.routes)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
