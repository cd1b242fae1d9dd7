"""The mobile app's web build (`make mobile`: `expo export --platform web` into mobile/dist),
served from its own origin as a static site, driven by Debian's Chromium through Playwright
against a real Helpline server (uvicorn over TCP, real PostgreSQL, the fake model) that allows
that origin (HELPLINE_CORS_ORIGINS), as a phone would reach it from another origin."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpline.core.config import Settings
from tests.conftest import make_settings

# The browser fixtures (one Chromium per session) and the root ones in its event loop, reused,
# with the hook that runs these tests in that loop.
from tests.e2e.conftest import (  # noqa: F401
    CHROMIUM,
    app,
    browser,
    chromium,
    database_url,
    db,
    live_server,
    pytest_collection_modifyitems,
    runtime,
)

ROOT = Path(__file__).resolve().parents[2]
MOBILE_DIST = ROOT / "mobile" / "dist"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session", autouse=True)
def mobile_dist() -> Path:
    if not (MOBILE_DIST / "index.html").is_file():
        pytest.fail(f"the mobile app's web build is missing in {MOBILE_DIST}: run `make mobile` first (make test does)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (make test installs it)")
    return MOBILE_DIST


@pytest.fixture
def mobile_origin(mobile_dist: Path) -> Iterator[str]:
    """The web build on a static server of its own (another origin than the API's)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Quiet, directory=str(mobile_dist)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mobile_origin: str) -> Settings:  # noqa: F811
    return make_settings(database_url, tmp_path, cors_origins=[mobile_origin])
