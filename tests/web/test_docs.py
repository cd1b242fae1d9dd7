"""/docs and /redoc load nothing from another host: their scripts are served here, pinned by
Subresource Integrity hashes of the files as served, under a CSP that allows nothing else."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings, serve_app

TAG = re.compile(r"<(script|link)\b([^>]*)>", re.I)
ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def _tags(page: str) -> list[dict[str, str]]:
    return [dict(ATTR.findall(attrs), tag=name.lower()) for name, attrs in TAG.findall(page)]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_only_pinned_files_of_this_server(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    page = r.text
    # No other host anywhere in the page: no CDN, no fonts, no validator badge.
    assert "//" not in page.replace("<!DOCTYPE html>", "")
    tags = _tags(page)
    external = [t for t in tags if t["tag"] == "script" and "src" in t]
    external += [t for t in tags if t["tag"] == "link" and t.get("rel") == "stylesheet"]
    assert external, page
    for tag in external:
        url = tag.get("src") or tag["href"]
        assert url.startswith("/docs/assets/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert tag["integrity"] == f"sha384-{digest}", url
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src is not None
    assert script_src.group(1).split()[0] == "'self'"
    assert "unsafe-inline" not in script_src.group(1)
    assert "http" not in csp
    # The one inline script (Swagger UI's start) is allowed by its hash, and only it.
    for inline in re.findall(r"<script>(.*?)</script>", page, re.S):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src.group(1)


async def test_docs_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, api_docs=False)
    async with serve_app(settings, database_url) as client:
        for path in ("/docs", "/redoc", "/docs/assets/swagger-ui-bundle.js"):
            r = await client.get(path)
            assert r.status_code == 404, path
            assert r.json()["error"] == "not_found"
        # The document itself stays: clients are generated from it.
        assert (await client.get("/openapi.json")).status_code == 200
