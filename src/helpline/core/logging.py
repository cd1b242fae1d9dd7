"""structlog JSON logs carrying the request id; secrets are redacted before rendering."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar, Token
from typing import Any

import structlog
from asgi_correlation_id import correlation_id

from helpline.core.net import truncate_ip

_SECRET_WORDS = ("password", "token", "secret", "authorization", "api_key", "cookie")
_SECRET_KEY = re.compile("|".join(map(re.escape, _SECRET_WORDS)))  # one pass over a key, not six


# Credentials a URL may carry in its query string (a WebSocket's ?token=, an OAuth callback's
# ?code=): uvicorn logs every WebSocket's path with its query, and any URL may reach a message.
_QUERY_SECRET = re.compile(
    r"([?&;](?:access_token|refresh_token|id_token|token|code|password|secret|client_secret|api_key)=)[^&#\s\"'<>]*",
    re.IGNORECASE,
)


def redact_url_secrets(text: str) -> str:
    """``text`` with the values of secret query parameters replaced by ``[redacted]``."""
    return _QUERY_SECRET.sub(r"\1[redacted]", text) if "=" in text else text


# The values PostgreSQL quotes back in an error (a failed statement's traceback is logged): a
# duplicate key's (an email), a whole failing row, an input it could not parse. The statement's
# own parameters never get there (the engine hides them, core.db).
_DB_VALUES = (
    (
        re.compile(r"(Key \([^)]*\)=\()(.*?)(\) (?:already exists|is (?:not present|still referenced)))"),
        r"\1[redacted]\3",
    ),
    (re.compile(r"(Failing row contains \().*(\)\.?)"), r"\1[redacted]\2"),
    (re.compile(r"(invalid input (?:syntax|value) for (?:type|enum) [\w\s.]+: )\"[^\n]*\""), r'\1"[redacted]"'),
    # asyncpg's own, before the statement is sent: the value, and the reason quoting it again.
    (re.compile(r"(invalid input for query argument \$\d+: )[^\n\"]*"), r"\1[redacted]"),
)


def redact_db_values(text: str) -> str:
    """``text`` with the data values PostgreSQL's error messages quote replaced by ``[redacted]``."""
    if "Key (" not in text and "Failing row" not in text and "invalid input" not in text:
        return text
    for pattern, replacement in _DB_VALUES:
        text = pattern.sub(replacement, text)
    return text


# uvicorn's line for each WebSocket: 'host:port - "WebSocket /path" 101'.
_UVICORN_WS_LINE = re.compile(r'^(\S+):\d+( - "WebSocket )')


def _truncate_client(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # uvicorn names the peer of each WebSocket in its line: its network only (the port dropped), as
    # Helpline's own access log and database keep (core.net).
    message = event.get("event")
    if isinstance(message, str) and (match := _UVICORN_WS_LINE.match(message)):
        event["event"] = (truncate_ip(match.group(1).strip("[]")) or "-") + message[match.start(2) :]
    return event


def _redact_urls(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Last before rendering: the message of a stdlib record (uvicorn's, httpx's) and a rendered
    # traceback are plain strings by then.
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_db_values(redact_url_secrets(value))
    return event


# What is known about the request being served (its user, once a token was read), for every log
# line written while serving it: a fresh dict per request (core.middleware.AccessLogMiddleware),
# also seen by the tasks it starts (an answer being generated).
_request: ContextVar[dict[str, Any] | None] = ContextVar("helpline_request", default=None)


class RequestFields:
    """The request's fields, from its start until ``close()``."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._token: Token[dict[str, Any] | None] | None = _request.set(self.values)

    def close(self) -> None:
        if self._token is not None:
            try:
                _request.reset(self._token)
            except ValueError:  # closed from another context than it was opened in
                _request.set(None)
            self._token = None


def request_fields() -> RequestFields:
    return RequestFields()


def set_user(user_id: int) -> None:
    """The request is the user's (a valid access token said so): its log lines carry the id (never
    the email, which would name the person in every log store the line reaches)."""
    values = _request.get()
    if values is not None:
        values["user_id"] = user_id


def _request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    rid = correlation_id.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    values = _request.get()
    if values:
        for key, value in values.items():
            event.setdefault(key, value)
    return event


def _trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # The trace a line belongs to (core.tracing), to go from a log line to its trace.
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if _SECRET_KEY.search(key.lower()):
            event[key] = "[redacted]"
    return event


class ClientFaultFilter(logging.Filter):
    """uvicorn logs some faults of the client as server errors with a traceback (a WebSocket text
    frame that is not UTF-8: it answers with close code 1007 all the same). Anybody can send
    them: a warning line, without the traceback, is enough."""

    MESSAGES = frozenset({"Invalid UTF-8 sequence received from client."})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING and record.getMessage() in self.MESSAGES:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def configure_logging(level: str = "INFO", json: bool | None = True, *, traced: bool = False) -> None:
    """``json``: JSON lines, or plain ones for a person; None: JSON unless stderr is a terminal.
    ``traced``: tracing is on (core.tracing), so lines carry their trace's ids; off, no line
    pays for looking up a span that cannot exist."""
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _request_id,
        *([_trace_ids] if traced else []),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        # A line below the level is dropped first, before the processors make it (each request's
        # access line costs about 0.1 ms of CPU to make, which a server at WARNING threw away).
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _truncate_client,
            _redact_urls,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log duplicates ours (which has the request id); keep its errors.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientFaultFilter) for f in errors.filters):
        errors.addFilter(ClientFaultFilter())
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces each of its plugins at INFO on every start; its migration lines stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # saq writes three INFO lines per job (enqueuing, processing, finished): three a minute for the
    # minute's cron alone. Its errors stay; helpline.jobs.worker logs retries and, at DEBUG, each job.
    logging.getLogger("saq").setLevel(logging.WARNING)
