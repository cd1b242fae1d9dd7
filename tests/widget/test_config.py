"""GET /api/v1/widget/config: the widget's public settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from helpline.core.config import SettingsError, WidgetSettings, load_settings
from tests.conftest import make_settings, serve_app

CONFIG = "/api/v1/widget/config"


async def test_defaults(client: httpx.AsyncClient) -> None:
    r = await client.get(CONFIG)
    assert r.status_code == 200
    assert r.json() == {
        "enabled": True,
        "guests_allowed": True,
        "title": "Help",
        "greeting": "Hi! Ask me anything about our service.",
        "accent_color": "#1d4ed8",
        "image_origins": [],
    }
    assert r.headers["cache-control"] == "public, max-age=60"
    # The web app's catch-all does not swallow the API path.
    assert r.headers["content-type"].startswith("application/json")


async def test_configured_values_are_served(database_url: str, tmp_path: Path) -> None:
    widget = WidgetSettings(
        title="Parcelo help", greeting="Hola", accent_color="#AA0011", allow_guests=False, site_key="pk_1"
    )
    settings = make_settings(database_url, tmp_path, widget=widget, image_origins=["https://img.example"])
    async with serve_app(settings, database_url) as client:
        r = await client.get(CONFIG, params={"key": "pk_1"})
    assert r.status_code == 200
    assert r.json() == {
        "enabled": True,
        "guests_allowed": False,
        "title": "Parcelo help",
        "greeting": "Hola",
        "accent_color": "#aa0011",
        "image_origins": ["https://img.example"],
    }


async def test_disabled_widget_is_not_found(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, widget=WidgetSettings(enabled=False))
    async with serve_app(settings, database_url) as client:
        r = await client.get(CONFIG)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert "not enabled" in r.json()["detail"]
    assert "public" not in r.headers.get("cache-control", "")


async def test_site_key_is_required_when_configured(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, widget=WidgetSettings(site_key="pk_live_abc"))
    async with serve_app(settings, database_url) as client:
        missing = await client.get(CONFIG)
        wrong = await client.get(CONFIG, params={"key": "pk_live_abd"})
        right = await client.get(CONFIG, params={"key": "pk_live_abc"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    assert missing.json()["error"] == "forbidden"
    assert "site key" in wrong.json()["detail"]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPLINE_WIDGET_TITLE", "Support")
    monkeypatch.setenv("HELPLINE_WIDGET_SITE_KEY", "  ")
    monkeypatch.setenv("HELPLINE_WIDGET_GUEST_CREATE_LIMIT", "5 per minute")
    widget = load_settings().widget
    assert (widget.title, widget.site_key, widget.guest_create_limit) == ("Support", None, "5 per minute")
    assert (widget.guest_session_hours, widget.guest_retention_days) == (24, 30)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HELPLINE_WIDGET_ACCENT_COLOR", "blue", "HELPLINE_WIDGET_ACCENT_COLOR: must be a colour written #rrggbb"),
        ("HELPLINE_WIDGET_ACCENT_COLOR", "#12345", "#rrggbb"),
        ("HELPLINE_WIDGET_GUEST_CREATE_LIMIT", "lots", "HELPLINE_WIDGET_GUEST_CREATE_LIMIT: must be a rate"),
        ("HELPLINE_WIDGET_GUEST_RETENTION_DAYS", "0", "HELPLINE_WIDGET_GUEST_RETENTION_DAYS"),
    ],
)
def test_bad_settings_stop_the_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()
