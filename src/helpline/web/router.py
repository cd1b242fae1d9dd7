"""Serves the built React app: hashed assets cached for a year, the shell and service worker
revalidated on every load, any other page path answered with the shell (SPA fallback), and help
center pages given their FAQ's title and description in the HTML itself, where crawlers read them."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.staticfiles import StaticFiles

from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.errors import NotFound
from helpline.models import FAQ, FAQCategory, FAQStatus

router = APIRouter(include_in_schema=False)

# Paths that belong to the API: never answered with the app's HTML, so a wrong API URL is a
# JSON 404 rather than a page that parses as nonsense.
_API_PREFIXES = ("api/", "ws/", "health", "metrics", "docs", "redoc", "openapi.json")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The shell may only load its own scripts; API calls and sockets go to this origin. Images only
# from here and HELPLINE_IMAGE_ORIGINS: an image in an answer from any other host would tell it
# who read the answer (a tracking pixel). The app shows such images as links (Markdown.tsx).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src {img_src}; "
    "connect-src 'self' ws: wss:; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)
IMAGE_ORIGINS_META = "helpline-image-origins"


def csp(image_origins: list[str]) -> str:
    # The origins were checked at start (Settings._https_origins): bare https origins only.
    return CSP.format(img_src=" ".join(["'self'", *image_origins]))


_TITLE = re.compile(r"<title>.*?</title>", re.S)
_DESCRIPTION = re.compile(r'<meta name="description" content="[^"]*"\s*/?>')


def _dist(runtime: RuntimeDep) -> Path:
    dist = runtime.settings.web_dist
    if not (dist / "index.html").is_file():
        raise NotFound("The web app is not built: run `make web` (or `make run`), then reload")
    return dist


DistDep = Annotated[Path, Depends(_dist)]


@lru_cache(maxsize=4)
def _shell(index: Path, mtime: float) -> str:
    return index.read_text(encoding="utf-8")


def shell_html(
    dist: Path,
    *,
    title: str | None = None,
    description: str | None = None,
    canonical: str | None = None,
    image_origins: list[str] | None = None,
) -> str:
    index = dist / "index.html"
    page = _shell(index, index.stat().st_mtime)
    # The app renders images only from these origins (the CSP would block the others anyway).
    meta = f'<meta name="{IMAGE_ORIGINS_META}" content="{html.escape(" ".join(image_origins or []))}" />'
    page = page.replace("</head>", f"{meta}\n  </head>", 1)
    if title:
        page = _TITLE.sub(lambda _: f"<title>{html.escape(title)}</title>", page, count=1)
    if description:
        tag = f'<meta name="description" content="{html.escape(description)}" />'
        page = _DESCRIPTION.sub(lambda _: tag, page, count=1)
    if canonical:
        page = page.replace("</head>", f'<link rel="canonical" href="{html.escape(canonical)}" />\n  </head>', 1)
    return page


def _html(page: str, image_origins: list[str], status_code: int = 200) -> HTMLResponse:
    headers = {"Cache-Control": REVALIDATE, "Content-Security-Policy": csp(image_origins)}
    return HTMLResponse(page, status_code, headers=headers)


def _summary(text: str, limit: int = 160) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [label](url) -> label
    plain = " ".join(re.sub(r"[#*_`>|]+", "", text).split())
    return plain if len(plain) <= limit else plain[: limit - 1].rsplit(" ", 1)[0] + "…"


@router.get("/help/{slug}")
async def help_page(slug: str, runtime: RuntimeDep, dist: DistDep, session: SessionDep) -> Response:
    images = runtime.settings.image_origins
    row = (
        await session.execute(
            select(FAQ.question, FAQ.answer, FAQ.meta_title, FAQ.meta_description).where(
                FAQ.slug == slug, FAQ.status == FAQStatus.published
            )
        )
    ).first()
    if row is None:
        # The app shows its own "not found"; crawlers get the status.
        return _html(shell_html(dist, title="Not found · Help center", image_origins=images), images, 404)
    return _html(
        shell_html(
            dist,
            title=row.meta_title or f"{row.question} · Help center",
            description=row.meta_description or _summary(row.answer),
            canonical=f"{runtime.settings.base_url}/help/{quote(slug)}",
            image_origins=images,
        ),
        images,
    )


@router.get("/sitemap.xml")
async def sitemap(runtime: RuntimeDep, session: SessionDep) -> Response:
    # Absolute URLs come from HELPLINE_PUBLIC_URL, never from the Host header: this answer is
    # publicly cached, so a forged Host would otherwise be served to everyone (cache poisoning).
    base = runtime.settings.base_url
    faqs = await session.execute(
        select(FAQ.slug, FAQ.updated_at, FAQ.created_at).where(FAQ.status == FAQStatus.published, FAQ.slug.is_not(None))
    )
    categories = await session.scalars(select(FAQCategory.slug))
    urls = [f"<url><loc>{xml_escape(base)}/help</loc></url>"]
    urls += [f"<url><loc>{xml_escape(f'{base}/help/c/{slug}')}</loc></url>" for slug in categories]
    for slug, updated, created in faqs:
        when = (updated or created).date().isoformat()
        urls.append(f"<url><loc>{xml_escape(f'{base}/help/{slug}')}</loc><lastmod>{when}</lastmod></url>")
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    body += "".join(urls) + "</urlset>\n"
    return Response(body, media_type="application/xml", headers={"Cache-Control": "public, max-age=600"})


@router.get("/robots.txt")
async def robots(runtime: RuntimeDep) -> PlainTextResponse:
    base = runtime.settings.base_url
    return PlainTextResponse(f"User-agent: *\nDisallow: /api/\nDisallow: /admin\nSitemap: {base}/sitemap.xml\n")


@lru_cache(maxsize=4)
def _static(dist: Path) -> StaticFiles:
    # StaticFiles: path traversal guard, ETag/Last-Modified and 304s, done by Starlette.
    return StaticFiles(directory=dist)


# Every method: a POST to a path nothing serves is a 404, as it was before this catch-all, not a 405.
@router.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
async def app_files(path: str, request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        # Routing reached this catch-all; a route with this path but other methods is a 405.
        if any(r.matches(request.scope)[0] is Match.PARTIAL for r in request.app.router.routes):
            raise StarletteHTTPException(405)
        raise StarletteHTTPException(404)
    if path.startswith(_API_PREFIXES):
        raise StarletteHTTPException(404)
    runtime = request.app.state.runtime
    dist = _dist(runtime)
    if path:
        try:
            response = await _static(dist).get_response(path, request.scope)
        except StarletteHTTPException:
            response = None
        if response is not None:
            response.headers["Cache-Control"] = IMMUTABLE if path.startswith("assets/") else REVALIDATE
            return response
        if "." in path.rsplit("/", 1)[-1]:
            raise NotFound(f"No file {path!r}")
    images = runtime.settings.image_origins
    return _html(shell_html(dist, image_origins=images), images)
