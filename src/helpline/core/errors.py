"""One error hierarchy and one JSON shape for every error: {"error", "detail", "request_id"}."""

from __future__ import annotations

from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from helpline.core.ids import MAX_ID

log = structlog.get_logger(__name__)

# The Retry-After of a 503: a dependency that is down is usually back (or failed over) soon.
RETRY_UNAVAILABLE_SECONDS = 5


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extra = extra


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, detail: str = "Not authenticated", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class ConsentRequired(Forbidden):
    """The user has withdrawn (or never given) consent to the processing a request needs."""

    code = "consent_required"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class Unprocessable(AppError):
    status_code = 422
    code = "validation_error"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, retry_after: int, quota: dict[str, str] | None = None) -> None:
        """``quota``: the RateLimit-* headers of the full window (core/ratelimit.py); without
        them, the limit's values are unknown and only Retry-After is sent."""
        wait = max(1, retry_after)
        headers = {"Retry-After": str(wait), **(quota or {})}
        super().__init__(detail, headers=headers, retry_after=wait)


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"

    def __init__(self, detail: str, **kw: Any) -> None:
        # As every 503 here: a client (or proxy) knows when to try again.
        kw.setdefault("headers", {"Retry-After": str(RETRY_UNAVAILABLE_SECONDS)})
        super().__init__(detail, **kw)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def error_body(code: str, detail: Any, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, "request_id": correlation_id.get(), **extra}


def error_response(
    status: int, code: str, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, detail, **extra), status_code=status, headers=headers)


_NOT_JSON = "Request body is not valid JSON"


def _field_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            msg, loc = _NOT_JSON, []
        elif not loc and ": " in msg and msg.split(": ", 1)[0].isidentifier():
            # A whole-body validator names its field as "field: message".
            field, msg = msg.split(": ", 1)
            loc = [field]
        fields.append({"field": ".".join(loc) or None, "message": msg, "type": err.get("type")})
    summary = "; ".join(f"{f['field']}: {f['message']}" if f["field"] else f["message"] for f in fields)
    return summary or "Invalid request", fields


# PostgreSQL data exceptions a request's own values cause (SQLSTATE class 22), and what to say.
# 22000 is also what asyncpg raises when it cannot encode a parameter, such as an id beyond the
# 32-bit integer columns. Other class-22 errors (division by zero, ...) would be Helpline's own
# bugs: they stay 500s.
_UNSTORABLE_TEXT = "Text in the request contains a character that cannot be stored (such as NUL, \\u0000)."
_BAD_VALUES = {
    "22000": f"A value in the request is out of range (ids are at most {MAX_ID}).",
    "22001": "A value in the request is too long.",
    "22003": "A number in the request is out of range.",
    "22021": _UNSTORABLE_TEXT,
    "22P05": _UNSTORABLE_TEXT,
}

# A dependency (database, Redis) that is down or unreachable.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)


# SQLSTATE classes of a database that is not there for now: 08 connection exception, 57P
# operator intervention (shutting down, restarting: "the database system is shutting down").
_AWAY_SQLSTATES = ("08", "57P")


def _database_away(exc: Exception) -> bool:
    """A database error that says the server went away (a restart, a failover), which the driver
    raises as a plain DBAPIError rather than an OperationalError."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    return exc.connection_invalidated or sqlstate.startswith(_AWAY_SQLSTATES)


def failure(exc: Exception, path: str) -> tuple[int, str, str]:
    """How a request (or WebSocket frame) that failed with ``exc``, not an AppError, is answered:
    status, code and detail. It is logged here, once.

    - a value PostgreSQL refused to store: 422. The statement failed and its transaction is rolled
      back, so nothing was written; the client's error, not ours;
    - a dependency that is down or unreachable: 503, said plainly rather than a hang or a 500;
    - anything else: 500, with the traceback in the log and no internals in the answer."""
    if isinstance(exc, sa_exc.DBAPIError):
        detail = _BAD_VALUES.get(str(getattr(exc.orig, "sqlstate", "") or ""))
        if detail is not None:
            log.warning("request_value_rejected", path=path, error=str(exc.orig)[:300])
            return 422, "invalid_value", detail
    if isinstance(exc, UNAVAILABLE_ERRORS) or _database_away(exc):
        log.error("dependency_unavailable", path=path, error=f"{type(exc).__name__}: {exc}"[:300])
        return 503, "service_unavailable", "A backing service is unavailable; try again shortly."
    log.error("unhandled_error", path=path, exc_info=exc)
    return 500, "internal_error", "An unexpected error occurred; it has been logged."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        summary, fields = _field_errors(exc)
        return error_response(422, "validation_error", summary, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's 400 for a JSON body that is not UTF-8: the same 422 as any other body
            # that is not valid JSON.
            field = {"field": None, "message": _NOT_JSON, "type": "json_invalid"}
            return error_response(422, "validation_error", _NOT_JSON, errors=[field])
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, exc.detail, getattr(exc, "headers", None))

    async def _failed(request: Request, exc: Exception) -> JSONResponse:
        status, code, detail = failure(exc, request.url.path)
        retry = {"Retry-After": str(RETRY_UNAVAILABLE_SECONDS)} if status == 503 else None
        return error_response(status, code, detail, retry)

    # Exception is Starlette's last resort (it answers, then re-raises for the server's log);
    # the others are answered here.
    for error in (*UNAVAILABLE_ERRORS, sa_exc.DBAPIError, Exception):
        app.add_exception_handler(error, _failed)
