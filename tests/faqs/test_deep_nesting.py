"""A document nested thousands of levels deep (a FAQ import, or any JSON request body) is a clear
400, never a 500 from a RecursionError deep in the parser (pentest #18)."""

from __future__ import annotations

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.conftest import error_keys, signed_in

IMPORT = "/api/v1/faqs/import"


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("shape", ["list", "object", "faqs"])
async def test_a_deeply_nested_import_is_a_400(
    client: httpx.AsyncClient, staff: dict[str, str], depth: int, shape: str
) -> None:
    doc = {
        "list": nested(depth),
        "object": nested_objects(depth),
        "faqs": '{"faqs": [{"question": "Q?", "answer": "A.", "keywords": ' + nested(depth) + "}]}",
    }[shape]
    r = await client.post(IMPORT, headers=staff | {"Content-Type": "application/json"}, content=doc)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "bad_request"
    assert "nested" in body["detail"]
    assert body["request_id"]


@pytest.mark.parametrize("depth", [900, 1_000, 100_000])
async def test_a_deeply_nested_body_to_any_endpoint_is_a_4xx(
    client: httpx.AsyncClient, boss: dict[str, str], depth: int
) -> None:
    """Every route that takes a body, sent nested lists and nested objects, as a signed-in admin
    (so the body reaches the parser and the route rather than stopping at a 401)."""
    schema = (await client.get("/openapi.json")).json()
    routes = [
        (method, path.replace("{", "").replace("}", "").replace("_id", "").replace("slug", "x").replace("id", "1"))
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("post", "put", "patch") and "requestBody" in op
    ]
    assert len(routes) > 10
    for body in (nested(depth), nested_objects(depth), '{"message": ' + nested(depth) + "}"):
        for method, path in routes:
            r = await client.request(method, path, headers=boss | {"Content-Type": "application/json"}, content=body)
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:300])
            assert set(r.json()) >= error_keys(path), (method, path, r.text[:300])


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_front_matter_is_a_400(
    client: httpx.AsyncClient, staff: dict[str, str], depth: int
) -> None:
    doc = f"---\nkeywords: {nested(depth)}\n---\n# Q?\n\nA.\n"
    r = await client.post(IMPORT, headers=staff | {"Content-Type": "text/markdown"}, content=doc)
    assert r.status_code == 400, r.text
    assert "nested" in r.json()["detail"]


def nested_multipart(depth: int) -> tuple[bytes, str]:
    """A form whose file part sits inside ``depth`` levels of multipart parts."""
    opening = [
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i - 1}\r\n\r\n".encode() for i in range(depth - 1, 0, -1)
    ]
    closing = [f"\r\n--b{i}--\r\n".encode() for i in range(1, depth)]
    inner = (
        b'--b0\r\nContent-Disposition: form-data; name="file"; filename="faqs.json"\r\n'
        b"Content-Type: application/json\r\n\r\n[]\r\n--b0--\r\n"
    )
    return b"".join([*opening, inner, *closing]), f"multipart/form-data; boundary=b{depth - 1}"


@pytest.mark.parametrize(
    ("depth", "status", "detail"),
    [
        # 415 as for any form the importer cannot read (router.import_faqs).
        (1_000, 415, "nested too deeply"),
        # 7 MB of part headers: refused for its size before anything parses it.
        (100_000, 413, "larger than the limit"),
    ],
)
async def test_a_deeply_nested_multipart_upload_is_refused(
    client: httpx.AsyncClient, staff: dict[str, str], depth: int, status: int, detail: str
) -> None:
    body, content_type = nested_multipart(depth)
    r = await client.post(IMPORT, headers=staff | {"Content-Type": content_type}, content=body)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]


async def test_a_file_at_the_depth_limit_still_imports(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    ok = '{"faqs": [{"question": "Deep?", "answer": "Fine.", "keywords": ["a"]}]}'
    r = await client.post(IMPORT, headers=staff | {"Content-Type": "application/json"}, content=ok)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("second_frame", [False, True])
async def test_a_deeply_nested_websocket_frame_is_refused_cleanly(
    client: httpx.AsyncClient, live_server: str, depth: int, second_frame: bool
) -> None:
    tokens = await signed_in(client)
    uid = tokens["user"]["id"]
    query = f"?token={tokens['access_token']}" if second_frame else ""
    async with websockets.connect(f"ws://{live_server}/api/v1/chat/ws/{uid}{query}", proxy=None, max_size=None) as ws:
        await ws.send('{"type": "auth", "token": ' + nested(depth) + "}")
        if second_frame:  # authenticated by the query: the frame is a message, refused with an error frame
            reply = await ws.recv()
            assert '"error"' in str(reply)
            return
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
