"""Who may use the widget: one check shared by its settings endpoint and guest sign-in."""

from __future__ import annotations

import secrets

from helpline.core.config import WidgetSettings
from helpline.core.errors import Forbidden, NotFound


def check_widget(settings: WidgetSettings, key: str | None, *, guest: bool = False) -> None:
    """NotFound while the widget is off; Forbidden for a wrong or missing site key, or (``guest``)
    when guests are not allowed."""
    if not settings.enabled:
        raise NotFound("The chat widget is not enabled on this server.")
    if settings.site_key is not None and not secrets.compare_digest((key or "").encode(), settings.site_key.encode()):
        raise Forbidden("This site key is not valid for the chat widget.")
    if guest and not settings.allow_guests:
        raise Forbidden("Guest chat is not allowed here; sign in or register to chat.")
