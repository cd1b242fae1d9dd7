"""The simulated users: each registers and signs in through nginx, then chats in one conversation
(a new one every ``TURNS_PER_CONVERSATION`` turns) over its transport: REST (`POST /chat/send`),
Server-Sent Events (`POST /chat/stream`) or the WebSocket, with a think time between turns.

Every turn is recorded (``Turn``): when it started and ended, what the server told the client
(the question's and the answer's ids: the turn was *accepted*), and how it ended. A stream that
drops mid-answer is resumed as a browser tab would (`GET /chat/stream/{id}` with Last-Event-ID);
while ``Drop.active`` a client instead leaves after the first token and never comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from tests.cluster.launcher import Cluster, User
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

Transport = Literal["rest", "sse", "ws"]
TRANSPORTS: tuple[Transport, ...] = ("rest", "sse", "ws")
TURNS_PER_CONVERSATION = 8
TURN_TIMEOUT_S = 60.0  # a turn not final by then counts as a hung turn
RESUME_FOR_S = 30.0  # how long a client keeps trying to resume a dropped stream
QUESTIONS = (
    "Where is my parcel?",
    "How do refunds work?",
    "Can I change the delivery address?",
    "Is my parcel insured?",
    "How long does shipping to Spain take?",
    "Hi! Who are you?",
)


@dataclass
class Turn:
    user: int
    transport: Transport
    started: float  # time.monotonic()
    marker: str  # unique text in the question: finds its rows in the database
    ended: float = 0.0
    first_token: float | None = None
    user_message_id: int | None = None  # set once the server told it: the turn was accepted
    message_id: int | None = None  # the answer's id
    conversation_id: int | None = None
    status: str | None = None  # the final answer's status as the client got it
    error: str | None = None  # the final answer's error, as the client got it
    outcome: str = "pending"  # ok, answer_failed, dropped, error:<kind>, hung
    resumed: int = 0
    dropped: bool = False  # the client left mid-answer on purpose (Drop)

    @property
    def accepted(self) -> bool:
        return self.user_message_id is not None

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "dropped")

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def ttft(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started


@dataclass
class Drop:
    """While active, SSE and WebSocket clients leave after their answer's first token."""

    active: bool = False


@dataclass
class Recorder:
    turns: list[Turn] = field(default_factory=list)
    setup_errors: list[str] = field(default_factory=list)
    drop: Drop = field(default_factory=Drop)


class TurnError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _kind(exc: BaseException) -> str:
    if isinstance(exc, TurnError):
        return exc.kind
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


# -- Server-Sent Events -----------------------------------------------------------------------


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of a text/event-stream response, as {"event", "id", "data"}."""
    event: dict[str, Any] = {}
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield {
                    "event": event.get("event", "message"),
                    "id": event.get("id"),
                    "data": json.loads("\n".join(data)),
                }
            event, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                event[name] = value


class Simulator:
    def __init__(self, cluster: Cluster[Any], recorder: Recorder, *, think_s: float, seed: int = 0) -> None:
        self.cluster = cluster
        self.rec = recorder
        self.think_s = think_s
        self.deadline = float("inf")
        self.random = random.Random(seed)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=1000)
        self.http = cluster.client(timeout=httpx.Timeout(TURN_TIMEOUT_S, connect=10), limits=limits)

    async def close(self) -> None:
        await self.http.aclose()

    async def sign_up(self) -> User | None:
        """A new account, registered and signed in through nginx; None (recorded) if that failed."""
        email = f"load{uuid.uuid4().hex[:12]}@example.com"
        for attempt in range(5):
            try:
                r = await self.http.post(
                    "/api/v1/auth/register",
                    json={"email": email, "password": self.cluster.password, "data_processing_consent": True},
                )
                if r.status_code == 202:
                    r = await self.http.post(
                        "/api/v1/auth/login", json={"login": email, "password": self.cluster.password}
                    )
                    if r.status_code == 200:
                        tokens = r.json()
                        return User(int(tokens["user"]["id"]), tokens["access_token"])
                error = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            await asyncio.sleep(0.5 * (attempt + 1))
        self.rec.setup_errors.append(error)
        return None

    # -- one user -------------------------------------------------------------------------------

    async def user_loop(self, index: int, transport: Transport) -> None:
        """Chat until ``self.deadline`` (monotonic; the run sets it when the last phase ends)."""
        user = await self.sign_up()
        if user is None:
            return
        headers = {"Authorization": f"Bearer {user.token}"}
        conversation: int | None = None
        turns_here = 0
        ws: ClientConnection | None = None
        try:
            while time.monotonic() < self.deadline:
                marker = uuid.uuid4().hex[:12]
                question = f"{self.random.choice(QUESTIONS)} [lt-{marker}]"
                turn = Turn(user.id, transport, time.monotonic(), marker)
                self.rec.turns.append(turn)
                try:
                    async with asyncio.timeout(TURN_TIMEOUT_S + RESUME_FOR_S):
                        if transport == "rest":
                            await self._rest(turn, headers, question, conversation)
                        elif transport == "sse":
                            await self._sse(turn, headers, question, conversation)
                        else:
                            ws = await self._ws(turn, user, ws, headers, question, conversation)
                except Exception as exc:
                    turn.outcome = "hung" if isinstance(exc, TimeoutError) else f"error:{_kind(exc)}"
                    if ws is not None:  # whatever happened to the socket, the next turn opens another
                        with contextlib.suppress(Exception):
                            await ws.close()
                        ws = None
                    if isinstance(exc, TurnError) and exc.kind in ("http_404", "http_409"):
                        conversation = None  # gone or full: start another
                turn.ended = time.monotonic()
                if turn.conversation_id is not None:
                    conversation = turn.conversation_id
                    turns_here += 1
                if turns_here >= TURNS_PER_CONVERSATION:
                    conversation, turns_here = None, 0
                pause = self.think_s * self.random.uniform(0.5, 1.5)
                if not turn.ok:
                    pause = max(pause, 0.5)  # a person waits a moment before trying again
                await asyncio.sleep(min(pause, max(0.0, self.deadline - time.monotonic())))
        finally:
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()

    # -- transports -----------------------------------------------------------------------------

    def _finish(self, turn: Turn, kind: str, data: dict[str, Any]) -> None:
        turn.message_id = turn.message_id or data.get("message_id")
        turn.conversation_id = turn.conversation_id or data.get("conversation_id")
        turn.user_message_id = turn.user_message_id or data.get("user_message_id")
        turn.status = data.get("status")
        turn.error = data.get("error") or data.get("detail")
        if turn.dropped:
            turn.outcome = "dropped"
        elif kind == "response" and turn.status == "sent":
            turn.outcome = "ok"
        else:
            turn.outcome = "answer_failed"

    async def _rest(self, turn: Turn, headers: dict[str, str], question: str, conversation: int | None) -> None:
        body = {"message": question, "conversation_id": conversation}
        r = await self.http.post("/api/v1/chat/send", json=body, headers=headers)
        if r.status_code != 200:
            raise TurnError(f"http_{r.status_code}")
        data = r.json()
        turn.first_token = time.monotonic()
        self._finish(turn, "error" if data.get("error") else "response", data)

    async def _follow(self, turn: Turn, response: httpx.Response, last_id: list[str | None]) -> str | None:
        """Read an answer's events; the final event's kind, or None if the stream ended first."""
        async for event in sse_events(response):
            last_id[0] = event["id"] or last_id[0]
            data = event["data"]
            if turn.user_message_id is None and data.get("user_message_id"):
                turn.user_message_id = data["user_message_id"]
            turn.message_id = turn.message_id or data.get("message_id")
            turn.conversation_id = turn.conversation_id or data.get("conversation_id")
            if event["event"] == "token" and turn.first_token is None:
                turn.first_token = time.monotonic()
                if self.rec.drop.active:
                    turn.dropped = True
                    return "dropped"
            if event["event"] in ("response", "error"):
                self._finish(turn, event["event"], data)
                return str(event["event"])
        return None

    async def _sse(self, turn: Turn, headers: dict[str, str], question: str, conversation: int | None) -> None:
        body = {"message": question, "conversation_id": conversation}
        last_id: list[str | None] = [None]
        try:
            async with self.http.stream("POST", "/api/v1/chat/stream", json=body, headers=headers) as r:
                if r.status_code != 200:
                    raise TurnError(f"http_{r.status_code}")
                final = await self._follow(turn, r, last_id)
        except httpx.TransportError:
            final = None
        if final == "dropped":
            self._finish(turn, "response", {})
            return
        if final is None:
            await self._resume(turn, headers, last_id)

    async def _resume(self, turn: Turn, headers: dict[str, str], last_id: list[str | None]) -> None:
        """The stream dropped before its final event: resume it (through nginx, whichever
        instance), as the web app does; an answer never started is an error of the turn."""
        if turn.message_id is None:
            raise TurnError("stream_dropped_before_start")
        give_up = time.monotonic() + RESUME_FOR_S
        while time.monotonic() < give_up:
            turn.resumed += 1
            extra = {"Last-Event-ID": last_id[0]} if last_id[0] else {}
            try:
                path = f"/api/v1/chat/stream/{turn.message_id}"
                async with self.http.stream("GET", path, headers={**headers, **extra}) as r:
                    if r.status_code == 200 and await self._follow(turn, r, last_id) is not None:
                        return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
        raise TurnError("resume_failed")

    async def _ws_open(self, user: User) -> ClientConnection:
        ws: ClientConnection = await self.cluster.connect(user)
        await ws.send(json.dumps({"type": "auth", "token": user.token}))
        await ws.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(10):
            while json.loads(await ws.recv()).get("type") != "pong":
                pass
        return ws

    async def _ws(
        self,
        turn: Turn,
        user: User,
        ws: ClientConnection | None,
        headers: dict[str, str],
        question: str,
        conversation: int | None,
    ) -> ClientConnection | None:
        """One turn on the user's socket (opened or reopened as needed); returns the socket to
        keep, None if it was closed."""
        try:
            if ws is None:
                ws = await self._ws_open(user)
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise TurnError(
                f"ws_connect_{exc.response.status_code}" if isinstance(exc, InvalidStatus) else "ws_connect"
            ) from None
        frame: dict[str, Any] = {"type": "message", "content": question}
        if conversation is not None:
            frame["conversation_id"] = conversation
        last_seq = 0
        try:
            await ws.send(json.dumps(frame))
            while True:
                got = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT_S))
                kind = got.get("type")
                if kind == "ack":
                    turn.user_message_id = got["user_message_id"]
                    turn.message_id = got["message_id"]
                    turn.conversation_id = got["conversation_id"]
                    continue
                if turn.message_id is None or got.get("message_id") != turn.message_id:
                    if kind == "error" and turn.message_id is None:
                        raise TurnError(f"ws_{got.get('code')}")  # the turn was refused
                    continue  # another tab's answer, a pong
                last_seq = max(last_seq, int(got.get("seq") or 0))
                if kind == "token" and turn.first_token is None:
                    turn.first_token = time.monotonic()
                    if self.rec.drop.active:
                        turn.dropped = True
                        await ws.close()
                        self._finish(turn, "response", {})
                        return None
                if kind in ("response", "error"):
                    self._finish(turn, kind, got)
                    return ws
        except ConnectionClosed:
            if turn.message_id is None:
                raise TurnError("ws_closed_before_ack") from None
        # The socket closed mid-turn (its instance went away): reconnect next turn, and resume
        # this answer's stream over HTTP meanwhile.
        last = f"{turn.message_id}:{last_seq}" if turn.message_id and last_seq else None
        await self._resume(turn, headers, [last])
        return None
