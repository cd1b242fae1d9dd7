"""/docs (Swagger UI) and /redoc with their scripts served from this server, never a CDN.

FastAPI's own pages load unpinned scripts from a CDN into this origin, where the web app keeps
its tokens in localStorage: whoever serves that script can read them. The files come from the
fastapi-offline package instead (MIT; Swagger UI 5 and ReDoc 2 bundles, updated with each
release), each tag carries a Subresource Integrity hash of the file as served, and the pages get
a Content-Security-Policy that allows nothing from elsewhere. HELPLINE_API_DOCS=false removes them.
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
# Swagger UI, ReDoc and a favicon, as fastapi-offline ships them.
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

_SWAGGER_INIT = """
SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", layout: "BaseLayout", deepLinking: true,
  showExtensions: true, showCommonExtensions: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


@lru_cache
def integrity(name: str) -> str:
    """The SRI value of a served asset: its SHA-384, as browsers check it."""
    digest = hashlib.sha384((ASSETS_DIR / name).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def _csp(*, extra_script: str = "", worker: str = "'none'") -> str:
    # Styles stay 'unsafe-inline': both UIs set style attributes (ReDoc injects <style> tags).
    return (
        f"default-src 'none'; script-src 'self'{extra_script}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src {worker}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


SWAGGER_CSP = _csp(extra_script=" " + _csp_hash(_SWAGGER_INIT))
# ReDoc runs its search index in a worker it builds from a blob: URL. Its sidebar shows Redocly's
# logo from cdn.redoc.ly: img-src blocks that before any request leaves, and ReDoc hides it.
REDOC_CSP = _csp(worker="blob:")


def _script(name: str) -> str:
    return f'<script src="{ASSETS_URL}/{name}" integrity="{integrity(name)}"></script>'


def _page(title: str, head: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f'<link rel="icon" href="{ASSETS_URL}/favicon.png">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


def _headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "Cache-Control": "no-cache"}


def install_api_docs(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets. Call before the web app's catch-all route."""
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        css = f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css" integrity="{integrity("swagger-ui.css")}">\n'
        body = f'<div id="swagger-ui"></div>\n{_script("swagger-ui-bundle.js")}\n<script>{_SWAGGER_INIT}</script>\n'
        return HTMLResponse(_page(f"{title} - API", css, body), headers=_headers(SWAGGER_CSP))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        body = f'<redoc spec-url="/openapi.json"></redoc>\n{_script("redoc.standalone.js")}\n'
        return HTMLResponse(_page(f"{title} - API reference", "", body), headers=_headers(REDOC_CSP))

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")
