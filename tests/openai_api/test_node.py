"""The `openai` npm package (a devDependency of web/) against a live Helpline server, through a
small Node script (client.mjs): models, a completion and a stream with the FAQ's source in the
`helpline` extension, usage, and the errors as the package's own error classes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.chat.test_grounding import FAQ, publish
from tests.openai_api.conftest import user_with_key

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


async def test_the_openai_npm_package(live_server: str, db: asyncpg.Connection) -> None:
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed (make web installs the web app's packages)")
    if not (WEB / "node_modules" / "openai" / "package.json").is_file():
        pytest.fail("web/node_modules/openai is missing: run `make web` (npm ci)")
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as http:
        faq = await publish(http, db)
        _, key = await user_with_key(http)
    env = {**os.environ, "HELPLINE_BASE_URL": f"http://{live_server}/v1", "HELPLINE_API_KEY": key}
    # Run without blocking the event loop: the server under test runs in it.
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(Path(__file__).with_name("client.mjs")),
        str(WEB),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    out = json.loads(stdout)
    assert out["models"] == ["helpline"]
    for kind in ("completion", "stream"):
        seen = out[kind]
        assert seen["content" if kind == "completion" else "text"] == FAQ["answer"], kind
        assert seen["finish_reason"] == "stop"
        assert [s["id"] for s in seen["helpline"]["sources"]] == [faq["id"]]
        assert seen["usage"]["total_tokens"] == seen["usage"]["prompt_tokens"] + seen["usage"]["completion_tokens"]
        assert seen["usage"]["completion_tokens"] > 0
    errors = out["errors"]
    assert errors["key"] == {
        "class": "AuthenticationError",
        "status": 401,
        "code": "invalid_api_key",
        "param": None,
        "type": "invalid_request_error",
    }
    assert errors["model"]["class"] == "NotFoundError"
    assert errors["model"]["code"] == "model_not_found"
    assert errors["n"]["class"] == "BadRequestError"
    assert errors["n"]["param"] == "n"
    assert errors["empty"]["class"] == "BadRequestError"
