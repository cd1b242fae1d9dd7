from __future__ import annotations

from pathlib import Path

import pytest

from helpline.core.config import SettingsError, load_settings


def test_defaults() -> None:
    s = load_settings()
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8000, Path("./var"))
    assert s.embedded_database
    assert s.redis.url is None
    assert s.embedding.dimension == 384


def test_flat_variables_fill_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_DATABASE_URL", "postgres://u:p@db:5432/helpline")
    monkeypatch.setenv("HELPLINE_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("HELPLINE_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("HELPLINE_LLM_PROVIDER", "fake")
    monkeypatch.setenv("HELPLINE_CORS_ORIGINS", "https://a.example, https://b.example")
    s = load_settings()
    assert s.database.url == "postgresql+asyncpg://u:p@db:5432/helpline"
    assert s.redis.url == "redis://cache:6379/0"
    assert s.auth.secret_key == "k" * 40
    assert s.llm.provider == "fake"
    assert s.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HELPLINE_PORT", "eighty", "HELPLINE_PORT"),
        ("HELPLINE_PORT", "70000", "HELPLINE_PORT"),
        ("HELPLINE_DATABASE_URL", "mysql://x/y", "HELPLINE_DATABASE_URL"),
        ("HELPLINE_REDIS_URL", "http://cache", "HELPLINE_REDIS_URL"),
        ("HELPLINE_AUTH_BCRYPT_ROUNDS", "99", "HELPLINE_AUTH_BCRYPT_ROUNDS"),
        ("HELPLINE_AUTH_REGISTER_LIMIT_PER_IP", "lots", "HELPLINE_AUTH_REGISTER_LIMIT_PER_IP: must be a rate"),
        ("HELPLINE_AUTH_REGISTER_LIMIT_GLOBAL", "10/fortnight", "HELPLINE_AUTH_REGISTER_LIMIT_GLOBAL: must be a rate"),
        ("HELPLINE_AUTH_REFRESH_LIMIT_PER_IP", "", "HELPLINE_AUTH_REFRESH_LIMIT_PER_IP: must be a rate"),
        ("HELPLINE_LOG_LEVEL", "loud", "HELPLINE_LOG_LEVEL"),
        ("HELPLINE_ENV", "staging", "HELPLINE_ENV"),
        ("HELPLINE_PUBLIC_URL", "help.example.com", "HELPLINE_PUBLIC_URL"),
        ("HELPLINE_PUBLIC_URL", "javascript:alert(1)", "HELPLINE_PUBLIC_URL"),
        ("HELPLINE_PUBLIC_URL", "https://help.example.com/?next=x", "HELPLINE_PUBLIC_URL"),
        ("HELPLINE_PUBLIC_URL", "https://user:pw@help.example.com", "HELPLINE_PUBLIC_URL"),
        ("HELPLINE_PUBLIC_URL", "https://help.example.com:port", "HELPLINE_PUBLIC_URL"),
        ("HELPLINE_SERVER_HEADER_TIMEOUT_SECONDS", "0", "HELPLINE_SERVER_HEADER_TIMEOUT_SECONDS"),
        ("HELPLINE_SERVER_MAX_CONNECTIONS_PER_IP", "0", "HELPLINE_SERVER_MAX_CONNECTIONS_PER_IP"),
        ("HELPLINE_IMAGE_ORIGINS", "http://img.example", "HELPLINE_IMAGE_ORIGINS"),
        ("HELPLINE_IMAGE_ORIGINS", "https://img.example/path", "HELPLINE_IMAGE_ORIGINS"),
        ("HELPLINE_IMAGE_ORIGINS", "https://img.example; script-src *", "HELPLINE_IMAGE_ORIGINS"),
        ("HELPLINE_IMAGE_ORIGINS", "*", "HELPLINE_IMAGE_ORIGINS"),
        ("HELPLINE_MAIL_PORT", "0", "HELPLINE_MAIL_PORT: Input should be greater than or equal to 1"),
        ("HELPLINE_GUARD_SOURCE_MIN_SIMILARITY", "abc", "HELPLINE_GUARD_SOURCE_MIN_SIMILARITY: Input should be"),
        ("HELPLINE_JOBS_RETRIES", "0", "HELPLINE_JOBS_RETRIES: Input should be greater than or equal to 1"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"HELPLINE_HOST": "0.0.0.0", "HELPLINE_PORT": "9000"}, "http://localhost:9000"),  # noqa: S104
        ({"HELPLINE_HOST": "::1"}, "http://[::1]:8000"),
        ({"HELPLINE_PUBLIC_URL": "https://Help.example.com/support/"}, "https://Help.example.com/support"),
    ],
)
def test_public_url_or_the_local_address(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().base_url == expected


def test_image_origins_are_a_list_of_https_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().image_origins == []  # by default images load from this site only
    monkeypatch.setenv("HELPLINE_IMAGE_ORIGINS", " https://IMG.example , https://cdn.example:8443/,https://img.example")
    assert load_settings().image_origins == ["https://img.example", "https://cdn.example:8443"]


@pytest.mark.parametrize("secret", [None, "change-me", "short"])
def test_production_refuses_a_weak_secret(monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
    monkeypatch.setenv("HELPLINE_ENV", "production")
    if secret:
        monkeypatch.setenv("HELPLINE_SECRET_KEY", secret)
    with pytest.raises(SettingsError, match="HELPLINE_SECRET_KEY"):
        load_settings()


def test_development_secret_is_generated_once_per_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    first = s.secret_key()
    assert len(first) >= 48
    assert load_settings(data_dir=tmp_path).secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
