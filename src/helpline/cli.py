"""`helpline serve | migrate | create-admin | users set-password | db-shell | db-stop | reindex |
purge-guests | retention | faqs ...`."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from helpline.core.config import Settings, SettingsError, load_settings
from helpline.core.db import DatabaseUnavailable, check_database, describe_url
from helpline.core.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

if TYPE_CHECKING:
    from helpline.faqs.formats import Format
    from helpline.privacy.retention import RetentionReport

app = typer.Typer(help="Helpline: a self-hostable AI support chatbot.", no_args_is_help=True)
faqs_app = typer.Typer(help="The knowledge base: import and export FAQs, load the demo.", no_args_is_help=True)
app.add_typer(faqs_app, name="faqs")
users_app = typer.Typer(help="Accounts: set a password for a user who cannot receive mail.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"helpline: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        _fail(str(exc), 2)
    from helpline.core.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    return settings


@contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The database URL: the configured one, or the embedded server (started, released on exit)."""
    embedded = EmbeddedPostgres(settings.pg_data_dir) if settings.embedded_database else None
    try:
        url = embedded.start() if embedded else settings.database.url
    except EmbeddedPostgresError as exc:
        _fail(str(exc))
    assert url is not None
    try:
        try:
            asyncio.run(check_database(url, settings.database.connect_timeout_seconds))
        except DatabaseUnavailable as exc:
            _fail(str(exc))
        yield url
    finally:
        if embedded:
            embedded.release()


def _check_port(host: str, port: int) -> None:
    """Fail at once, and plainly, when the port is taken (before minutes of migrating and loading
    models end in uvicorn's "address already in use")."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        _fail(f"cannot use HELPLINE_HOST={host!r}: {exc}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            _fail(
                f"cannot listen on {host}:{port} ({exc.strerror}): another program (perhaps another "
                "`helpline serve`) uses it; stop it or choose another port with --port or HELPLINE_PORT"
            )


def _check_redis(settings: Settings) -> None:
    if settings.redis.url is None:
        return
    from helpline.core.runtime import create_redis

    async def ping() -> None:
        client = create_redis(settings)
        assert client is not None
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except Exception as exc:
        _fail(f"cannot reach Redis at HELPLINE_REDIS_URL: {exc}")


def _migrate(url: str, revision: str = "head") -> None:
    from helpline.migrations import upgrade

    upgrade(url, revision)


def _bootstrap_admin(settings: Settings, url: str) -> None:
    from helpline.core.db import session_scope
    from helpline.core.errors import AppError
    from helpline.core.runtime import Runtime
    from helpline.users.bootstrap import ensure_admin

    async def run() -> None:
        runtime = Runtime.build(settings, url)
        try:
            async for session in session_scope(runtime.sessionmaker):
                result = await ensure_admin(session, runtime, settings.admin_email, settings.admin_password)
        finally:
            await runtime.close()
        if result.generated_password:
            typer.secho(
                f"Created the first admin: {result.email} / password: {result.generated_password}\n"
                "  This password is shown once. Log in and change it (POST /api/v1/users/me/password).",
                fg=typer.colors.YELLOW,
            )
        elif result.created:
            typer.echo(f"Created the first admin: {result.email} (password from HELPLINE_ADMIN_PASSWORD)")

    try:
        asyncio.run(run())
    except AppError as exc:
        _fail(exc.detail)


def _load_demo(settings: Settings, url: str) -> None:
    from helpline.core.errors import AppError
    from helpline.faqs.commands import load_demo

    try:
        report = asyncio.run(load_demo(settings, url))
    except AppError as exc:
        _fail(exc.detail)
    if report is not None:
        typer.echo(
            f"Loaded the demo knowledge base: {report.created} FAQs in {report.categories_created} categories "
            "(HELPLINE_DEMO_DATA=false skips it)."
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: HELPLINE_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: HELPLINE_PORT]")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving")] = True,
) -> None:
    """Start the database if embedded, migrate, create the first admin, and serve HTTP."""
    import uvicorn

    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = _settings(**overrides)
    _check_port(settings.host, settings.port)
    _check_redis(settings)
    with _database(settings) as url:
        if migrate:
            _migrate(url)
        _bootstrap_admin(settings, url)
        if settings.demo_data:
            _load_demo(settings, url)
        # Worker processes build their settings from the environment: pass the overrides on.
        os.environ["HELPLINE_HOST"] = settings.host
        os.environ["HELPLINE_PORT"] = str(settings.port)
        where = f"embedded at {settings.pg_data_dir}" if settings.embedded_database else describe_url(url)
        typer.echo(f"Helpline on http://{settings.host}:{settings.port}  (API docs: /docs; database: {where})")
        if not settings.mail.host:
            typer.echo(
                f"Mail: no HELPLINE_MAIL_HOST, so mails (password resets) are kept in {settings.outbox_dir}"
                " and shown in the admin panel under Outbox"
            )
        from helpline.core.server import uvicorn_options

        if workers > 1:
            from helpline.core.metrics import prepare_multiprocess

            prepare_multiprocess()  # /metrics adds up every worker's values
        uvicorn.run("helpline.main:create_app", factory=True, workers=workers, **uvicorn_options(settings))


@app.command()
def worker(
    schedules: Annotated[bool, typer.Option(help="Also queue the cron jobs (one run per tick across workers)")] = True,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before starting")] = True,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve /metrics on this port (HELPLINE_METRICS_WORKER_PORT)", min=1, max=65535)
    ] = None,
    metrics_host: Annotated[
        str | None, typer.Option(help="Address /metrics listens on (HELPLINE_METRICS_WORKER_HOST, 127.0.0.1)")
    ] = None,
) -> None:
    """Run background jobs only (exports, retention, clean-ups, FAQ reindexing), no HTTP but an
    optional /metrics. Use with HELPLINE_JOBS_IN_SERVER=false on the servers to keep jobs off them;
    stops on Ctrl-C or SIGTERM."""
    settings = _settings()
    _check_redis(settings)
    port = metrics_port or settings.metrics.worker_port
    host = metrics_host or settings.metrics.worker_host

    async def run(url: str) -> None:
        from helpline.core.metrics import serve_metrics
        from helpline.core.runtime import Runtime
        from helpline.jobs.worker import run_worker

        runtime = Runtime.build(settings, url)
        metrics = serve_metrics(host, port, settings.metrics.token) if port else None
        if metrics is not None:
            typer.echo(f"Worker metrics on http://{host}:{port}/metrics")
        try:
            await run_worker(runtime, schedules=schedules)
        finally:
            if metrics is not None:
                metrics.shutdown()
            await runtime.close()

    with _database(settings) as url:
        if migrate:
            _migrate(url)
        from helpline.jobs.queue import backend_for

        typer.echo(f"Helpline worker on the {backend_for(settings)} queue (Ctrl-C stops it)")
        asyncio.run(run(url))


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    downgrade: Annotated[bool, typer.Option(help="Downgrade to REVISION instead")] = False,
) -> None:
    """Apply (or with --downgrade, revert) database migrations."""
    settings = _settings()
    with _database(settings) as url:
        if downgrade:
            from helpline.migrations import downgrade as do_downgrade

            do_downgrade(url, revision)
        else:
            _migrate(url, revision)
    typer.echo(f"Database at {'downgraded' if downgrade else 'migrated'} to {revision}.")


def _checked_credentials(email: str, password: str) -> str:
    """The email, normalised, once it and the password pass the API's rules (else exit 2)."""
    from pydantic import TypeAdapter, ValidationError

    from helpline.auth.schemas import Email, Password

    try:
        checked = str(TypeAdapter(Email).validate_python(email)).lower()
        TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        _fail(exc.errors()[0]["msg"].removeprefix("Value error, "), 2)
    return checked


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="Admin email")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Admin password")
    ],
) -> None:
    """Create an admin account, or make an existing account an admin and set its password."""
    email = _checked_credentials(email, password)
    settings = _settings()

    async def run(url: str) -> str:
        from sqlalchemy import select

        from helpline.auth.service import create_user
        from helpline.core.db import session_scope
        from helpline.core.runtime import Runtime
        from helpline.models import User, UserRole

        runtime = Runtime.build(settings, url)
        outcome = "unchanged"
        try:
            # No return inside the loop: leaving session_scope early would roll the change back.
            async for session in session_scope(runtime.sessionmaker):
                user = await session.scalar(select(User).where(User.email == email))
                if user is None:
                    await create_user(
                        session, runtime, email=email, password=password, role=UserRole.admin,
                        gdpr_consent=True, data_processing_consent=True,
                    )  # fmt: skip
                    outcome = "created"
                else:
                    user.role = UserRole.admin
                    user.hashed_password = await runtime.hasher.hash(password)
                    outcome = "updated"
        finally:
            await runtime.close()
        return outcome

    with _database(settings) as url:
        _migrate(url)
        outcome = asyncio.run(run(url))
    typer.echo(f"Admin {email} {outcome}.")


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Option(prompt=True, help="The account's email")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="The new password")
    ],
) -> None:
    """Set an account's password (its role stays as it is) and sign it out everywhere."""
    email = _checked_credentials(email, password)
    settings = _settings()

    async def run(url: str) -> bool:
        from datetime import UTC, datetime

        from sqlalchemy import select

        from helpline.auth.service import revoke_all_sessions
        from helpline.core import audit
        from helpline.core.db import session_scope
        from helpline.core.runtime import Runtime
        from helpline.models import User

        runtime = Runtime.build(settings, url)
        found = False
        try:
            async for session in session_scope(runtime.sessionmaker):
                user = await session.scalar(select(User).where(User.email == email, User.is_guest.is_(False)))
                if user is not None:
                    found = True
                    user.hashed_password = await runtime.hasher.hash(password)
                    user.password_changed_at = datetime.now(UTC)
                    await revoke_all_sessions(session, user.id, access_tokens=True)
                    audit.record(session, "user.password_set_by_operator", actor_user_id=None, target_id=user.id)
        finally:
            await runtime.close()
        return found

    with _database(settings) as url:
        _migrate(url)
        found = asyncio.run(run(url))
    if not found:
        _fail(f"no account with the email {email}")
    typer.echo(f"Password of {email} set; its sessions are signed out.")


@app.command("db-shell")
def db_shell() -> None:
    """Open psql on Helpline's database (the embedded one, or HELPLINE_DATABASE_URL)."""
    settings = _settings()
    with _database(settings) as url:
        from sqlalchemy.engine import make_url

        from helpline.core.embedded_pg import psql_path

        psql = psql_path() if settings.embedded_database else shutil.which("psql")
        if psql is None:
            _fail("psql is not installed")
        plain = make_url(url).set(drivername="postgresql")
        code = os.spawnv(os.P_WAIT, psql, [psql, plain.render_as_string(hide_password=False)])
    sys.exit(code)


@app.command()
def openapi(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; stdout if not given")] = None,
) -> None:
    """Print the OpenAPI document (the web app's typed client is generated from it)."""
    import json

    from helpline.main import create_app

    document = json.dumps(create_app(_settings()).openapi(), indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(document)
    elif not output.exists() or output.read_text() != document:
        # Rewrite only on change, so the web build's generator and caches see no new file.
        output.write_text(document)


@app.command("db-stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL if it is still running (for example after a crash)."""
    settings = _settings()
    if not settings.embedded_database:
        _fail("HELPLINE_DATABASE_URL is set: that server is not Helpline's to stop")
    EmbeddedPostgres(settings.pg_data_dir).stop()
    typer.echo("Embedded PostgreSQL stopped.")


def _format(value: str | None) -> Format | None:
    from helpline.faqs.formats import FORMATS

    for fmt in FORMATS:
        if value == fmt:
            return fmt
    if value is not None:
        _fail(f"--format must be one of {', '.join(FORMATS)}", 2)
    return None


@faqs_app.command("import")
def faqs_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON, CSV or Markdown")],
    fmt: Annotated[str | None, typer.Option("--format", help="json, csv or md [default: from the file name]")] = None,
    status: Annotated[str, typer.Option(help="Status of new FAQs whose row names none")] = "draft",
    dry_run: Annotated[bool, typer.Option(help="Check and count, write nothing")] = False,
) -> None:
    """Create or update FAQs from a file, matched by slug. Exits 1 if any row was rejected."""
    from helpline.core.errors import AppError
    from helpline.faqs import formats
    from helpline.faqs.commands import import_file
    from helpline.models import FAQStatus

    chosen = _format(fmt) or formats.guess_format(file.name, None)
    if chosen is None:
        _fail(f"cannot tell the format of {file.name}: name it .json, .csv or .md, or pass --format", 2)
    if status not in {s.value for s in FAQStatus}:
        _fail("--status must be draft, published or archived", 2)
    data = file.read_bytes()
    settings = _settings()
    with _database(settings) as url:
        _migrate(url)
        try:
            report = asyncio.run(import_file(settings, url, data, chosen, FAQStatus(status), dry_run))
        except AppError as exc:
            _fail(exc.detail)
    prefix = "Would import" if report.dry_run else "Imported"
    typer.echo(
        f"{prefix}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected; {report.categories_created} new categories."
    )
    for row in report.rejected:
        typer.secho(f"  {row.kind} {row.row}: {row.reason}", fg=typer.colors.RED, err=True)
    if report.rejected:
        raise typer.Exit(1)


@faqs_app.command("export")
def faqs_export(
    fmt: Annotated[str, typer.Option("--format", help="json, csv or md")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write [default: stdout]")] = None,
    status: Annotated[str | None, typer.Option(help="Only FAQs with this status")] = None,
    language: Annotated[str | None, typer.Option(help="Only FAQs in this language")] = None,
) -> None:
    """Write every FAQ to a file that `helpline faqs import` reads back."""
    from helpline.faqs.commands import export_file
    from helpline.models import FAQStatus

    chosen = _format(fmt) or "json"
    if status is not None and status not in {s.value for s in FAQStatus}:
        _fail("--status must be draft, published or archived", 2)
    settings = _settings()
    with _database(settings) as url:
        data = asyncio.run(export_file(settings, url, chosen, FAQStatus(status) if status else None, language))
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        typer.echo(f"Wrote {output}", err=True)


@faqs_app.command("demo")
def faqs_demo() -> None:
    """Load the demo knowledge base now, if there are no FAQs yet."""
    settings = _settings()
    with _database(settings) as url:
        _migrate(url)
        _load_demo(settings, url)


@app.command("purge-guests")
def purge_guests() -> None:
    """Delete widget guests idle for longer than HELPLINE_WIDGET_GUEST_RETENTION_DAYS, with their
    conversations (the guest_cleanup job also does this when a worker starts and every hour)."""
    settings = _settings()

    async def run(url: str) -> int:
        from helpline.auth.guest import purge_guests as purge
        from helpline.core.runtime import Runtime

        runtime = Runtime.build(settings, url)
        try:
            return await purge(runtime)
        finally:
            await runtime.close()

    with _database(settings) as url:
        _migrate(url)
        removed = asyncio.run(run(url))
    days = settings.widget.guest_retention_days
    typer.echo(
        f"Removed {removed} guest{'' if removed == 1 else 's'} idle for more than {days} day{'' if days == 1 else 's'}."
    )


@app.command()
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing")] = False,
) -> None:
    """Delete data past its retention period (HELPLINE_RETENTION_*) and print how much went, per
    rule (the retention job also does this when a worker starts and every HELPLINE_RETENTION_INTERVAL_MINUTES)."""
    settings = _settings()

    async def run(url: str) -> RetentionReport:
        from helpline.core.runtime import Runtime
        from helpline.privacy.retention import run_retention

        runtime = Runtime.build(settings, url)
        try:
            return await run_retention(runtime, dry_run=dry_run)
        finally:
            await runtime.close()

    with _database(settings) as url:
        _migrate(url)
        report = asyncio.run(run(url))
    if report.skipped:
        typer.echo("Retention is already running elsewhere (another instance holds its lock); nothing done.")
        return
    cfg = settings.retention
    days = {
        "conversations": cfg.conversation_days,
        "refresh_tokens": cfg.refresh_token_days,
        "consent_records": cfg.consent_days,
        "audit_entries": cfg.audit_days,
        "audit_ips": cfg.audit_ip_days,
    }
    typer.echo("Retention dry run: nothing changed; would remove:" if dry_run else "Retention: removed")
    for rule, count in report.counts.items():
        kept = days.get(rule)
        note = "" if kept is None else ("  (kept for ever)" if kept == 0 else f"  (older than {kept} days)")
        typer.echo(f"  {rule:<22} {count:>8}{note}")


@app.command("analytics-refresh")
def analytics_refresh(
    full: Annotated[bool, typer.Option("--full", help="Recount everything, not only what changed")] = False,
) -> None:
    """Bring the analytics roll-ups up to date now (the analytics_refresh job does this every
    HELPLINE_ANALYTICS_REFRESH_CRON); --full recounts all history, e.g. after a moderator flagged
    old messages by hand."""
    settings = _settings()

    async def run(url: str) -> dict[str, object]:
        from datetime import timedelta

        from helpline.analytics.rollup import refresh
        from helpline.core.runtime import Runtime

        runtime = Runtime.build(settings, url)
        try:
            settle = timedelta(hours=settings.analytics.settle_hours)
            return (await refresh(runtime.sessionmaker, settle=settle, full=full)).as_dict()
        finally:
            await runtime.close()

    with _database(settings) as url:
        _migrate(url)
        report = asyncio.run(run(url))
    typer.echo(f"Analytics refreshed: {report['ranges']} range(s) from {report['from']} to {report['until']}.")


@app.command()
def reindex(
    force: Annotated[bool, typer.Option("--all", help="Re-embed every FAQ, not only missing or stale ones")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="FAQs per transaction")] = 64,
) -> None:
    """Embed FAQs whose vectors are missing or stale (text edited, or another embedding model), and
    resize the vector columns and rebuild their HNSW indexes if HELPLINE_EMBEDDING_DIMENSION changed."""
    from helpline.ai.base import EmbeddingError
    from helpline.core.config import SettingsError
    from helpline.faqs.commands import reindex_all

    settings = _settings()
    with _database(settings) as url:
        _migrate(url)
        try:
            report = asyncio.run(
                reindex_all(
                    settings, url, force=force, batch_size=batch_size, progress=lambda m: typer.echo(m, err=True)
                )
            )
        except (EmbeddingError, SettingsError) as exc:
            _fail(str(exc))
    resized = f" (resized from {report.resized_from})" if report.resized_from is not None else ""
    typer.echo(
        f"Reindexed with {report.model}, {report.dimension} dimensions{resized}: {report.faqs_updated} FAQs "
        f"re-embedded ({report.texts_embedded} texts), {report.faqs_current} already current, "
        f"{report.phrasings_embedded} phrasings and {report.unanswered_embedded} unanswered questions embedded."
    )


if __name__ == "__main__":
    app()
