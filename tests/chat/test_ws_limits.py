"""The chat WebSocket under attack (issue #18), on a real uvicorn server, with the in-process hub
and with the Redis hub: a client that never reads, binary and oversized frames, too many
sockets, sockets that outlive their token or their login."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from helpline.ai.embeddings.fake import FakeEmbedder
from helpline.chat.ws import EXPIRED_REASON
from helpline.core.config import Settings, WebSocketSettings
from helpline.core.runtime import Runtime
from helpline.platform.hub import Hub, Listener
from helpline.platform.redis_hub import RedisGenerationHub
from tests.chat.test_hub import soon
from tests.chat.test_stream import recv, until
from tests.conftest import REDIS_URL, bearer, login, make_admin, make_settings, register, signed_in

QUEUED = 16  # HELPLINE_WS_MAX_QUEUED_FRAMES in these tests
PER_USER = 3
PENDING, PENDING_PER_IP = 3, 2


@pytest.fixture(params=["in_process", "redis"])
def hub_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    ws = WebSocketSettings(
        max_queued_frames=QUEUED,
        max_sockets_per_user=PER_USER,
        max_unauthenticated=PENDING,
        max_unauthenticated_per_ip=PENDING_PER_IP,
    )
    return make_settings(database_url, tmp_path, ws=ws)


@pytest.fixture
async def runtime(
    settings: Settings, database_url: str, llm: Any, moderator: Any, hub_kind: str
) -> AsyncIterator[Runtime]:
    """The app's runtime with the chosen hub. The Redis hub gets a key prefix of its own: pub/sub
    channels are shared by every Redis database, so other test runs' users must not be heard."""
    rt = Runtime.build(settings, database_url, llm=llm, moderator=moderator)
    rt.embedder = FakeEmbedder()
    prefix = f"hltest:{uuid.uuid4().hex[:12]}"
    if hub_kind == "redis":
        rt.hub = RedisGenerationHub.from_url(REDIS_URL, prefix=prefix, block_ms=200)
    try:
        yield rt
    finally:
        await rt.close()
        if hub_kind == "redis":
            client = Redis.from_url(REDIS_URL)
            keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as client:
        yield client


def socket_url(server: str, user_id: int, token: str | None = None) -> str:
    return f"ws://{server}/api/v1/chat/ws/{user_id}" + (f"?token={token}" if token else "")


def closed_by(exc: pytest.ExceptionInfo[ConnectionClosed]) -> tuple[int, str]:
    assert exc.value.rcvd is not None, "the server closed without a close frame"
    return exc.value.rcvd.code, exc.value.rcvd.reason


async def closed(ws: Any) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""

    async def read_all() -> None:
        while True:
            await recv(ws)

    with pytest.raises(ConnectionClosed) as info:
        await read_all()
    return closed_by(info)


@contextlib.asynccontextmanager
async def authenticated(url: str) -> AsyncIterator[Any]:
    """A socket, once the server has authenticated it (it answers a ping): opened one after the
    other, sockets never count together against the cap on sockets still authenticating."""
    async with websockets.connect(url) as ws:
        await pong(ws)
        yield ws


async def auth_frame(ws: Any, token: str) -> None:
    """Authenticate by first frame: it is answered, then the socket answers a ping."""
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert (await recv(ws))["type"] == "authenticated"
    await pong(ws)


async def pong(ws: Any) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}


def count(cause: str) -> float:
    """The Prometheus counter of sockets the server closed for this cause."""
    return REGISTRY.get_sample_value("websocket_closed_total", {"cause": cause}) or 0.0


async def ready(runtime: Runtime, user_id: int) -> None:
    """With the Redis hub: the user's channel is subscribed (events of other instances arrive)."""
    if isinstance(runtime.hub, RedisGenerationHub):
        assert await runtime.hub.ready(user_id)


def listeners(runtime: Runtime, user_id: int) -> set[Listener]:
    return runtime.hub.listeners(user_id)


# -- a raw client that never reads


class RawSocket:
    """A WebSocket client written by hand on a TCP socket with a small receive buffer, so that
    it can send without ever reading (the websockets library always reads)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, server: str, path: str) -> RawSocket:
        host, port = server.split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's sends stall soon
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    @staticmethod
    def text_frame(text: str) -> bytes:
        payload, mask = text.encode(), os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        return bytes([0x81, 0x80 | len(payload)]) + mask + masked

    async def flood(self, text: str, batch: int = 500) -> None:
        """Send ``text`` frames forever, never reading."""
        chunk = self.text_frame(text) * batch
        with contextlib.suppress(OSError):
            while True:
                self.writer.write(chunk)
                await self.writer.drain()

    async def read_frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    async def close_frame(self) -> tuple[int, str]:
        """Read (at last) everything the server sent, up to its close frame."""
        async with asyncio.timeout(30):
            while True:
                opcode, payload = await self.read_frame()
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def close(self) -> None:
        self.writer.close()


async def test_a_client_that_never_reads_is_disconnected_and_the_others_are_served(
    live_server: str, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tokens = await signed_in(http)
    uid, token = tokens["user"]["id"], tokens["access_token"]
    before = count("slow_consumer")
    async with websockets.connect(socket_url(live_server, uid, token)) as other_tab:
        await pong(other_tab)
        (reading,) = listeners(runtime, uid)
        raw = await RawSocket.connect(live_server, f"/api/v1/chat/ws/{uid}?token={token}")
        flooding = asyncio.create_task(raw.flood('{"type":"ping"}'))
        try:
            await soon(lambda: len(listeners(runtime, uid)) == 2)
            (slow,) = listeners(runtime, uid) - {reading}
            assert slow.maxsize == QUEUED  # every socket's queue is bounded

            # The server's sends stall on the client that does not read; the queue fills, and
            # the server cuts the client off instead of queueing more.
            def cut_off() -> bool:
                assert slow.qsize() <= QUEUED
                return count("slow_consumer") > before

            await soon(cut_off, timeout=60)
            assert slow.shutdown is not None
            assert (slow.shutdown.code, slow.shutdown.cause) == (1008, "slow_consumer")
        finally:
            flooding.cancel()
            await asyncio.gather(flooding, return_exceptions=True)
        # When it finally reads: the pongs that were sent, then the close frame.
        assert await raw.close_frame() == (1008, "Too many frames left unread")
        raw.close()
        await soon(lambda: listeners(runtime, uid) == {reading})
        # The user's other socket never waited for it and is still served.
        await other_tab.send(json.dumps({"type": "message", "content": "still there?"}))
        assert (await until(other_tab, "response"))[-1]["content"]
        await pong(other_tab)


async def test_the_fan_out_never_waits_for_a_full_queue(runtime: Runtime) -> None:
    hub: Hub = runtime.hub
    with hub.listen(42, maxsize=2) as stuck, hub.listen(42, maxsize=100) as fine:
        await ready(runtime, 42)
        gen = hub.open(1, 1, 42)
        for i in range(6):
            await hub.publish(gen, "token", {"content": str(i)})
        await hub.publish(gen, "response", {"content": "012345"}, final=True)
        assert fine.qsize() == 7
        assert stuck.qsize() == 2  # what it had room for, then it was shut
        assert stuck.shutdown is not None
        assert (stuck.shutdown.code, stuck.shutdown.cause) == (1008, "slow_consumer")
        assert fine.shutdown is None


# -- frames


async def test_a_binary_frame_gets_an_error_and_the_socket_stays_open(
    live_server: str, http: httpx.AsyncClient
) -> None:
    tokens = await signed_in(http)
    uid, token = tokens["user"]["id"], tokens["access_token"]
    async with websockets.connect(socket_url(live_server, uid, token)) as ws:
        await ws.send(b'{"type": "ping"}')
        frame = await recv(ws)
        assert (frame["type"], frame["code"]) == ("error", "invalid_frame")
        assert "Binary frames" in frame["detail"]
        await pong(ws)
    async with websockets.connect(socket_url(live_server, uid)) as ws:  # as the auth frame, too
        await ws.send(json.dumps({"type": "auth", "token": token}).encode())
        assert await closed(ws) == (4401, "Send ?token=<access token> or a first frame {type: auth, token}")


async def test_a_frame_over_the_body_limit_is_refused(
    live_server: str, http: httpx.AsyncClient, settings: Settings
) -> None:
    # The test server has uvicorn's default 16 MiB frame limit: the app's own check answers.
    tokens = await signed_in(http)
    uid, token = tokens["user"]["id"], tokens["access_token"]
    limit = settings.limits.max_body_bytes
    before = count("frame_too_large")
    # Fewer characters than the limit, more bytes:
    huge = json.dumps({"type": "message", "content": "é" * (limit // 2)}, ensure_ascii=False)
    assert len(huge) <= limit < len(huge.encode())
    async with websockets.connect(socket_url(live_server, uid, token)) as ws:
        await ws.send(huge)
        frame = await recv(ws)
        assert (frame["type"], frame["code"]) == ("error", "frame_too_large")
        assert await closed(ws) == (1009, f"Frames are limited to {limit} bytes")
    async with websockets.connect(socket_url(live_server, uid)) as ws:  # before authenticating
        await ws.send("x" * (limit + 1))
        assert await closed(ws) == (1009, f"Frames are limited to {limit} bytes")
    assert count("frame_too_large") == before + 2
    async with websockets.connect(socket_url(live_server, uid, token)) as ws:  # at the limit: parsed
        await ws.send(json.dumps({"type": "message", "content": "x" * (limit - 40)}))
        frame = await recv(ws)
        assert (frame["type"], frame["code"]) == ("error", "invalid_frame")  # too long a message
        await pong(ws)


# -- caps


async def test_sockets_per_user_are_capped(live_server: str, http: httpx.AsyncClient, runtime: Runtime) -> None:
    tokens = await signed_in(http)
    uid, token = tokens["user"]["id"], tokens["access_token"]
    url = socket_url(live_server, uid, token)
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for _ in range(PER_USER):  # one after the other: each is authenticated before the next
            opened.append(await stack.enter_async_context(websockets.connect(url)))
            await pong(opened[-1])
        async with websockets.connect(url) as extra:
            assert await closed(extra) == (4429, f"Too many open sockets for this user (at most {PER_USER})")
        await opened[0].close()
        await soon(lambda: runtime.hub.listener_count(uid) == PER_USER - 1)
        async with websockets.connect(url) as again:  # a freed place can be taken
            await pong(again)
        for ws in opened[1:]:
            await pong(ws)


async def test_unauthenticated_sockets_are_capped_per_address_and_per_process(
    live_server: str, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tokens = await signed_in(http)
    uid, token = tokens["user"]["id"], tokens["access_token"]
    url = socket_url(live_server, uid)
    pending = runtime.pending_sockets

    def connect(address: str) -> Any:  # loopback: any 127.x address reaches the server
        return websockets.connect(url, local_addr=(address, 0))

    async with contextlib.AsyncExitStack() as stack:
        waiting = [await stack.enter_async_context(connect("127.0.0.1")) for _ in range(PENDING_PER_IP)]
        await soon(lambda: pending.total == PENDING_PER_IP)
        async with connect("127.0.0.1") as extra:
            assert await closed(extra) == (4429, "Too many connections from this address are waiting to authenticate")
        other = await stack.enter_async_context(connect("127.0.0.2"))  # another address still may
        await soon(lambda: pending.total == PENDING)
        async with connect("127.0.0.3") as extra:
            assert await closed(extra) == (4429, "Too many connections are waiting to authenticate: try again later")
        # Authenticating frees the place.
        await auth_frame(waiting[0], token)
        assert pending.total == PENDING - 1
        async with connect("127.0.0.3") as late:
            await auth_frame(late, token)
        for ws in (waiting[1], other):
            await auth_frame(ws, token)
    await soon(lambda: pending.total == 0 and not pending.by_address)


# -- the token's lifetime and the login's


def mint(runtime: Runtime, tokens: dict[str, Any], seconds: float) -> tuple[str, datetime]:
    """An access token of the same user and login as ``tokens``, expiring in ``seconds``."""
    claims = runtime.tokens.decode(tokens["access_token"], "access")
    token, minted = runtime.tokens.encode(
        user_id=claims.user_id,
        email=claims.email,
        role=claims.role,
        type="access",
        ttl=timedelta(seconds=seconds),
        jti=uuid.uuid4(),
        sid=claims.sid,
    )
    return token, minted.exp


async def test_a_socket_closes_when_its_token_expires_unless_the_client_sent_a_fresh_one(
    live_server: str, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tokens = await signed_in(http)
    uid = tokens["user"]["id"]
    short, exp = mint(runtime, tokens, 3)
    async with (
        authenticated(socket_url(live_server, uid, short)) as lapsing,
        authenticated(socket_url(live_server, uid, short)) as renewed,
    ):
        # A token that is not this user's changes nothing.
        other = await signed_in(http, "o@example.com")
        for token, code in ((other["access_token"], "forbidden"), ("abc.def.ghi", "unauthorized")):
            await renewed.send(json.dumps({"type": "auth", "token": token}))
            assert (await recv(renewed))["code"] == code
        await renewed.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
        ok = await recv(renewed)
        assert ok["type"] == "authenticated"
        assert datetime.fromisoformat(ok["expires_at"]) > exp

        assert await closed(lapsing) == (4401, EXPIRED_REASON)
        await soon(lambda: datetime.now(UTC) > exp + timedelta(seconds=1))
        await pong(renewed)  # past the first token's expiry: the fresh one counts


async def test_logout_closes_the_sockets_of_that_login_only(
    live_server: str, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    first = await signed_in(http)  # one login (a laptop)...
    second = (await login(http)).json()  # ...and another (a phone)
    uid = first["user"]["id"]
    before = count("signed_out")
    async with (
        authenticated(socket_url(live_server, uid, first["access_token"])) as laptop,
        authenticated(socket_url(live_server, uid, second["access_token"])) as phone,
    ):
        await ready(runtime, uid)
        r = await http.post(
            "/api/v1/auth/logout", headers=bearer(first), json={"refresh_token": first["refresh_token"]}
        )
        assert r.status_code == 204
        assert await closed(laptop) == (4401, "Signed out")
        assert count("signed_out") == before + 1
        await pong(phone)  # the other login's socket stays open
        # Logging out with the refresh token alone closes that login's sockets too.
        r = await http.post("/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
        assert r.status_code == 204
        assert await closed(phone) == (4401, "Signed out")


async def test_a_password_change_closes_every_socket_of_the_user(live_server: str, http: httpx.AsyncClient) -> None:
    first = await signed_in(http)
    second = (await login(http)).json()
    other = await signed_in(http, "other@example.com")
    uid = first["user"]["id"]
    async with (
        authenticated(socket_url(live_server, uid, first["access_token"])) as laptop,
        authenticated(socket_url(live_server, uid, second["access_token"])) as phone,
        authenticated(socket_url(live_server, other["user"]["id"], other["access_token"])) as someone_else,
    ):
        body = {"current_password": "Sup3r-secret-pass", "new_password": "An0ther-secret-pass"}
        r = await http.post("/api/v1/users/me/password", headers=bearer(first), json=body)
        assert r.status_code == 204, r.text
        for ws in (laptop, phone):
            assert await closed(ws) == (4401, "Password changed: sign in again")
        await pong(someone_else)


async def test_suspending_a_user_closes_their_sockets(
    live_server: str, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await signed_in(http)
    await register(http, "admin@example.com")
    await make_admin(db, "admin@example.com")
    admin = (await login(http, "admin@example.com")).json()
    uid = user["user"]["id"]
    async with authenticated(socket_url(live_server, uid, user["access_token"])) as ws:
        r = await http.patch(f"/api/v1/users/{uid}", headers=bearer(admin), json={"status": "suspended"})
        assert r.status_code == 200, r.text
        assert await closed(ws) == (4403, "This account is suspended. Contact an administrator.")


async def test_erasing_an_account_closes_its_sockets(
    live_server: str, http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await signed_in(http)
    victim = await signed_in(http, "erased@example.com")
    await register(http, "admin@example.com")
    await make_admin(db, "admin@example.com")
    admin = (await login(http, "admin@example.com")).json()
    async with (
        authenticated(socket_url(live_server, user["user"]["id"], user["access_token"])) as own,
        authenticated(socket_url(live_server, victim["user"]["id"], victim["access_token"])) as erased,
    ):
        r = await http.request(
            "DELETE", "/api/v1/users/me", headers=bearer(user), json={"current_password": "Sup3r-secret-pass"}
        )
        assert r.status_code == 204, r.text
        assert await closed(own) == (4401, "This account has been erased")
        r = await http.delete(f"/api/v1/admin/users/{victim['user']['id']}", headers=bearer(admin))
        assert r.status_code == 204, r.text
        assert await closed(erased) == (4401, "This account has been erased")
