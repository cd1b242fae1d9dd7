"""`helpline serve | migrate | create-admin | db-shell | db-stop`."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer

from helpline.core.config import Settings, SettingsError, load_settings
from helpline.core.db import DatabaseUnavailable, check_database, describe_url
from helpline.core.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

app = typer.Typer(help="Helpline: a self-hostable AI support chatbot.", no_args_is_help=True)


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
    _check_redis(settings)
    with _database(settings) as url:
        if migrate:
            _migrate(url)
        _bootstrap_admin(settings, url)
        # Worker processes build their settings from the environment: pass the overrides on.
        os.environ["HELPLINE_HOST"] = settings.host
        os.environ["HELPLINE_PORT"] = str(settings.port)
        where = f"embedded at {settings.pg_data_dir}" if settings.embedded_database else describe_url(url)
        typer.echo(f"Helpline on http://{settings.host}:{settings.port}  (API docs: /docs; database: {where})")
        uvicorn.run(
            "helpline.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            proxy_headers=True,
            forwarded_allow_ips=",".join(settings.trusted_proxies),
            log_config=None,
            server_header=False,
        )


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


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="Admin email")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Admin password")
    ],
) -> None:
    """Create an admin account, or make an existing account an admin and set its password."""
    from pydantic import TypeAdapter, ValidationError

    from helpline.auth.schemas import Email, Password

    try:
        email = str(TypeAdapter(Email).validate_python(email)).lower()
        TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        _fail(exc.errors()[0]["msg"].removeprefix("Value error, "), 2)
    settings = _settings()

    async def run(url: str) -> str:
        from sqlalchemy import select

        from helpline.auth.service import create_user
        from helpline.core.db import session_scope
        from helpline.core.runtime import Runtime
        from helpline.models import User, UserRole

        runtime = Runtime.build(settings, url)
        try:
            async for session in session_scope(runtime.sessionmaker):
                user = await session.scalar(select(User).where(User.email == email))
                if user is None:
                    await create_user(
                        session, runtime, email=email, password=password, role=UserRole.admin,
                        gdpr_consent=True, data_processing_consent=True,
                    )  # fmt: skip
                    return "created"
                user.role = UserRole.admin
                user.hashed_password = await runtime.hasher.hash(password)
                return "updated"
        finally:
            await runtime.close()
        return "unchanged"

    with _database(settings) as url:
        _migrate(url)
        outcome = asyncio.run(run(url))
    typer.echo(f"Admin {email} {outcome}.")


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


@app.command("db-stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL if it is still running (for example after a crash)."""
    settings = _settings()
    if not settings.embedded_database:
        _fail("HELPLINE_DATABASE_URL is set: that server is not Helpline's to stop")
    EmbeddedPostgres(settings.pg_data_dir).stop()
    typer.echo("Embedded PostgreSQL stopped.")


if __name__ == "__main__":
    app()
