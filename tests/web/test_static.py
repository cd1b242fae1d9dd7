"""The built web app as FastAPI serves it: caching headers, SPA fallback, API paths kept JSON,
and help pages with their FAQ's own title and description for search engines."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from helpline.core.config import Settings
from tests.conftest import bearer, make_admin, make_settings, serve_app, signed_in

pytestmark = pytest.mark.usefixtures("built")


@pytest.fixture
def built() -> Path:
    dist = Settings().web_dist
    if not (dist / "index.html").is_file():
        pytest.fail("the web app is not built: run `make web` first (make test does)")
    return dist


async def test_pages_get_the_shell_revalidated(client: httpx.AsyncClient) -> None:
    for path in ("/", "/chat", "/chat/12", "/admin/faqs", "/account"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert '<div id="root">' in r.text
        assert r.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in r.headers["content-security-policy"]


async def test_images_load_only_from_this_site_by_default(client: httpx.AsyncClient) -> None:
    """Pentest #18: img-src allowed any https host, so an image in an answer could be a tracking
    pixel. Now this site only, and the app is told (a meta tag) which origins it may render."""
    r = await client.get("/help/anything")
    policy = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert policy["img-src"] == "'self'"
    assert '<meta name="helpline-image-origins" content="" />' in r.text


async def test_configured_image_origins_are_in_the_policy_and_the_page(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, image_origins="https://img.example,https://cdn.example:8443")
    async with serve_app(settings, database_url) as client:
        for path in ("/", "/help/anything", "/admin/faqs/new"):
            r = await client.get(path)
            policy = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
            assert policy["img-src"] == "'self' https://img.example https://cdn.example:8443", path
            assert 'name="helpline-image-origins" content="https://img.example https://cdn.example:8443"' in r.text


async def test_hashed_assets_are_cached_for_a_year(client: httpx.AsyncClient, built: Path) -> None:
    asset = next((built / "assets").glob("index-*.js"))
    r = await client.get(f"/assets/{asset.name}")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = await client.get(f"/assets/{asset.name}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_service_worker_and_manifest_are_revalidated(client: httpx.AsyncClient) -> None:
    for path in ("/sw.js", "/manifest.webmanifest", "/widget.js"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-cache", path


async def test_api_paths_and_missing_files_are_404_not_the_shell(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/nope", "/assets/missing-abc.js", "/ws/x", "/../pyproject.toml", "/%2e%2e/pyproject.toml"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "<div id=" not in r.text


async def test_help_page_carries_the_faq_meta(client: httpx.AsyncClient, db: object) -> None:
    tokens = await signed_in(client, "admin@example.com")
    await make_admin(db, "admin@example.com")  # type: ignore[arg-type]
    r = await client.post(
        "/api/v1/faqs",
        headers=bearer(tokens),
        json={
            "question": "How do I <reset> my password?",
            "answer": "Open **Account** and choose *Change password*.",
            "status": "published",
            "slug": "reset-password",
        },
    )
    assert r.status_code == 201, r.text
    page = await client.get("/help/reset-password")
    assert page.status_code == 200
    assert "<title>How do I &lt;reset&gt; my password? · Help center</title>" in page.text
    assert re.search(r'<meta name="description" content="Open Account and choose Change password\." />', page.text)
    # Absolute URLs are the configured site's (here the default, from HELPLINE_HOST/PORT).
    assert '<link rel="canonical" href="http://127.0.0.1:8000/help/reset-password" />' in page.text
    assert (await client.get("/help/no-such-faq")).status_code == 404
    sitemap = await client.get("/sitemap.xml")
    assert "<loc>http://127.0.0.1:8000/help/reset-password</loc>" in sitemap.text


async def test_a_forged_host_header_is_never_written_into_pages(database_url: str, tmp_path: Path, db: object) -> None:
    # /sitemap.xml is publicly cacheable: a Host reflected into it would be served to everyone.
    settings = make_settings(database_url, tmp_path, public_url="https://help.example.com/")
    async with serve_app(settings, database_url) as client:
        tokens = await signed_in(client, "admin@example.com")
        await make_admin(db, "admin@example.com")  # type: ignore[arg-type]
        faq = {"question": "Where is my parcel?", "answer": "Track it.", "status": "published", "slug": "where"}
        assert (await client.post("/api/v1/faqs", headers=bearer(tokens), json=faq)).status_code == 201
        evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        pages = {path: await client.get(path, headers=evil) for path in ("/sitemap.xml", "/robots.txt", "/help/where")}
    for path, r in pages.items():
        assert r.status_code == 200, path
        assert "evil.example" not in r.text, path
        assert "evil.example" not in str(r.headers), path
    assert "<loc>https://help.example.com/help/where</loc>" in pages["/sitemap.xml"].text
    assert "Sitemap: https://help.example.com/sitemap.xml" in pages["/robots.txt"].text
    assert '<link rel="canonical" href="https://help.example.com/help/where" />' in pages["/help/where"].text


async def test_other_methods_keep_api_status_codes(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/nope", json={})).status_code == 404
    assert (await client.delete("/api/v1/auth/login")).status_code == 405
    assert (await client.post("/chat")).status_code == 404
