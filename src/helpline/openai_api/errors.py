"""Errors in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``) for the
``/v1`` routes, so OpenAI's SDKs raise their own exception types (AuthenticationError,
PermissionDeniedError, NotFoundError, RateLimitError, BadRequestError) with our message.

The app's error handlers answer in Helpline's shape (core/errors.py); these routes turn every
error raised while serving them (their dependencies and body validation included) into OpenAI's
shape first, with the same status and headers (Retry-After, RateLimit-*)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from helpline.core.errors import RETRY_UNAVAILABLE_SECONDS, AppError, failure
from helpline.core.metrics import OPENAI_API_REQUESTS


class OpenAIError(AppError):
    """An error of the /v1 API with OpenAI's ``type``, ``param`` and ``code``."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str
    ) -> None:
        super().__init__(message)
        self.status_code = status
        self.code = code
        self.type = type
        self.param = param


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(examples=["invalid_request_error"])
    param: str | None = None
    code: str | None = Field(default=None, examples=["invalid_api_key"])


class OpenAIErrorResponse(BaseModel):
    """An error of the OpenAI-compatible API, in OpenAI's shape."""

    error: OpenAIErrorDetail


# OpenAI's type for each status (their API's, which the SDKs do not depend on but clients show).
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
}
# Helpline's error codes as OpenAI clients know them.
_CODES = {"unauthorized": "invalid_api_key", "rate_limited": "rate_limit_exceeded", "validation_error": None}


def body(
    status: int, message: str, *, type: str | None = None, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return OpenAIErrorResponse(error=OpenAIErrorDetail(message=message, type=kind, param=param, code=code)).model_dump()


def response(status: int, message: str, headers: dict[str, str] | None = None, **fields: Any) -> JSONResponse:
    return JSONResponse(body(status, message, **fields), status_code=status, headers=headers)


def from_exception(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, OpenAIError):
        return response(exc.status_code, exc.detail, exc.headers, type=exc.type, param=exc.param, code=exc.code)
    if isinstance(exc, AppError):
        # A 422 of the chat's rules (an empty or too long message) is a 400 to OpenAI clients.
        status = 400 if exc.status_code == 422 else exc.status_code
        return response(status, exc.detail, exc.headers, code=_CODES.get(exc.code, exc.code))
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        msg = str(first.get("msg", "Invalid request")).removeprefix("Value error, ")
        if first.get("type") == "json_invalid":
            return response(400, "We could not parse the JSON body of your request.", code="invalid_json")
        param = ".".join(loc) or None
        return response(400, f"{param}: {msg}" if param else msg, param=param, code="invalid_value")
    if isinstance(exc, StarletteHTTPException):
        return response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))
    status, code, detail = failure(exc, request.url.path)
    retry = {"Retry-After": str(RETRY_UNAVAILABLE_SECONDS)} if status == 503 else None
    return response(status, detail, retry, code=code)


class OpenAIRoute(APIRoute):
    """A route answering its errors in OpenAI's shape (see the module's docstring), and counted
    in ``openai_api_requests_total`` by endpoint and status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        endpoint = self.path_format

        async def serve(request: Request) -> Response:
            try:
                answer = await handler(request)
            except Exception as exc:
                answer = from_exception(request, exc)
            OPENAI_API_REQUESTS.labels(endpoint=endpoint, status=str(answer.status_code)).inc()
            return answer

        return serve
