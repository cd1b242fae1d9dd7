"""WS /api/v1/chat/ws/{user_id}: the spec's message/response frames, plus typing, token,
replace (the guard retracted the text streamed so far: ``content`` replaces it), error and
ping/pong. Every socket of a user receives that user's answers.

Stopping an answer: the client sends ``{"type": "stop", "message_id": <the answer's id, from the
ack>}``; like ``POST /chat/messages/{id}/stop``, the model stops and what it wrote so far is
stored. Every socket of the user then gets the answer's final ``response`` frame with
``"stopped": true`` (or, if no instance was generating it any more, this socket gets the stored
answer as a ``response``/``error`` frame). A stop that cannot be done gets an ``error`` frame
(``not_found``; ``conflict`` once the answer has finished).

Human handoff (helpline.support): while a person has the conversation, a ``message`` frame gets an
``ack`` and at once a ``response`` frame with ``handoff`` set and empty ``content`` (the
assistant does not answer). A person's replies come as ``agent_message`` frames (``message``,
``agent_name``) and changes of hands as ``handoff`` frames (``handoff``: status and expectation;
``message``: the notice stored in the conversation), from whichever instance.

Authentication: ``?token=<access token>``, or a first frame ``{"type": "auth", "token": ...}``
within 10 seconds (answered ``{"type": "authenticated", "expires_at": ...}`` once accepted). The
socket lives as long as its access token: at the token's ``exp`` it is closed (4401), unless the
client sent a fresh access token of the same user before, as ``{"type": "auth", "token": ...}`` on
the open socket (answered the same way; a token that is not accepted gets an ``error`` frame and
changes nothing).
A logout, or a refresh token used a second time, closes the sockets of that login (the tokens'
``sid``); a password change, or an administrator suspending the account, closes all the user's
sockets, on every instance.

Limits (settings.ws, counted per process, not across the cluster): frames waiting to be sent to
one socket (``HELPLINE_WS_MAX_QUEUED_FRAMES``: a client that lets them pile up does not read
and is disconnected with 1008; the fan-out to the user's other sockets never waits for it),
open sockets per user, sockets not authenticated yet (in all and per client address): over
either cap the socket is closed with 4429. A frame larger than ``HELPLINE_LIMITS_MAX_BODY_BYTES``
is refused with 1009 (by uvicorn under ``helpline serve``; by this module behind any server,
after an ``error`` frame). A binary frame gets an ``error`` frame; the socket stays open.

Close codes: 1008 not reading, 1009 frame too large, 4401 no/invalid/expired token or signed
out, 4403 wrong user or account not served, 4408 no auth frame in time, 4429 too many sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from helpline.auth.access import load_caller
from helpline.chat import once, service
from helpline.chat.schemas import WsIncoming
from helpline.chat.sockets import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED
from helpline.chat.stop import stop as stop_answer
from helpline.core.errors import AppError, ConsentRequired, failure
from helpline.core.logging import set_user
from helpline.core.metrics import WS_CLOSED
from helpline.core.runtime import Runtime
from helpline.core.security import InvalidToken, TokenClaims
from helpline.models import MessageStatus
from helpline.platform.hub import Listener, Shutdown, TurnEvent
from helpline.support.relay import Relayed

log = structlog.get_logger(__name__)
router = APIRouter()

AUTH_TIMEOUT_SECONDS = 10.0
CLOSE_TOO_LARGE = 1009
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
CLOSE_FLUSH_SECONDS = 5.0
EXPIRED_REASON = "Token expired: send a fresh {type: auth, token} frame before it expires"


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket once the frames queued before it are sent (an error frame saying why)."""

    code: int
    reason: str


@dataclass(slots=True)
class SocketToken:
    """The socket's current token: a re-auth frame replaces it."""

    claims: TokenClaims


Outgoing = TurnEvent | dict[str, Any] | Close


def frame(event: TurnEvent) -> dict[str, Any]:
    base = {"message_id": event.message_id, "conversation_id": event.conversation_id, "seq": event.seq}
    if event.kind == "token":
        return {"type": "token", "content": event.data["content"], **base}
    if event.kind == "replace":
        return {"type": "replace", "content": event.data["content"], "reason": event.data.get("reason"), **base}
    if event.kind == "typing":
        return {"type": "typing", "user_message_id": event.data.get("user_message_id"), **base}
    if event.kind == "response":
        return {"type": "response", **base, **event.data}
    if event.kind == "agent":  # a person's reply (helpline.support)
        return {"type": "agent_message", **base, **event.data}
    if event.kind == "handoff":  # the conversation changed hands: data.handoff, data.message (the notice)
        return {"type": "handoff", **base, **event.data}
    return {"type": "error", "code": "generation_failed", "detail": event.data.get("error"), **base, **event.data}


def error_frame(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


def _closing(user_id: int | None, cause: str, code: int) -> None:
    """Log and count a socket the server closes or refuses (never its token)."""
    WS_CLOSED.labels(cause=cause).inc()
    log.info("ws.closed_by_server", user_id=user_id, cause=cause, code=code)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    # uvicorn waits for the transport to drain before it writes a close frame: a client that
    # does not read would hold this forever.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_FLUSH_SECONDS):
            await ws.close(code, reason)


async def _receive(ws: WebSocket) -> str | bytes:
    """The next frame, text or binary (Starlette's receive_text() raises KeyError on binary)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"")


def _too_large(data: str | bytes, limit: int) -> bool:
    if isinstance(data, bytes) or len(data) > limit:
        return len(data) > limit
    return len(data) * 4 > limit and len(data.encode()) > limit  # UTF-8: up to 4 bytes a character


async def _authenticate(ws: WebSocket, runtime: Runtime) -> TokenClaims | None:
    token = ws.query_params.get("token")
    if token is None:
        try:
            raw = await asyncio.wait_for(_receive(ws), AUTH_TIMEOUT_SECONDS)
        except TimeoutError:
            await _close(ws, CLOSE_AUTH_TIMEOUT, "No auth frame received")
            return None
        except WebSocketDisconnect:  # gone before its auth frame (or sent one that was not UTF-8)
            return None
        limit = runtime.settings.limits.max_body_bytes
        if _too_large(raw, limit):
            _closing(None, "frame_too_large", CLOSE_TOO_LARGE)
            await _close(ws, CLOSE_TOO_LARGE, f"Frames are limited to {limit} bytes")
            return None
        try:
            first = json.loads(raw) if isinstance(raw, str) else None
            token = first.get("token") if isinstance(first, dict) and first.get("type") == "auth" else None
        except (ValueError, RecursionError):  # RecursionError: a frame nested too deeply
            token = None
    if not token:
        await _close(ws, CLOSE_UNAUTHORIZED, "Send ?token=<access token> or a first frame {type: auth, token}")
        return None
    try:
        return runtime.tokens.decode(str(token), "access")
    except InvalidToken as exc:
        await _close(ws, CLOSE_UNAUTHORIZED, str(exc))
        return None


async def _admit(ws: WebSocket, runtime: Runtime, user_id: int) -> TokenClaims | None:
    """The socket's checked token, or None once the socket is closed (refused)."""
    limits = runtime.settings.ws
    address = ws.client.host if ws.client else "unknown"
    with runtime.pending_sockets.admit(address, limits) as refused:
        if refused is not None:
            _closing(None, "too_many_unauthenticated", CLOSE_TOO_MANY)
            await _close(ws, CLOSE_TOO_MANY, refused)
            return None
        claims = await _authenticate(ws, runtime)
        if claims is None:
            return None
        if claims.user_id != user_id:
            await _close(ws, CLOSE_FORBIDDEN, "This socket's user_id is not the token's user")
            return None
        try:
            await load_caller(runtime, claims)
        except AppError as exc:
            await _close(ws, CLOSE_FORBIDDEN if exc.status_code == 403 else CLOSE_UNAUTHORIZED, exc.detail)
            return None
    set_user(claims.user_id)  # the socket's log lines carry its user's id
    if runtime.hub.listener_count(user_id) >= limits.max_sockets_per_user:
        _closing(user_id, "too_many_sockets", CLOSE_TOO_MANY)
        await _close(ws, CLOSE_TOO_MANY, f"Too many open sockets for this user (at most {limits.max_sockets_per_user})")
        return None
    return claims


@router.websocket("/api/v1/chat/ws/{user_id}")
async def chat_socket(ws: WebSocket, user_id: int) -> None:
    runtime: Runtime = ws.app.state.runtime
    await ws.accept()
    claims = await _admit(ws, runtime, user_id)
    if claims is None:
        return
    session = SocketToken(claims)
    with runtime.hub.listen(user_id, runtime.settings.ws.max_queued_frames) as listener:
        listener.sid, listener.jti = claims.sid, claims.jti
        if "token" not in ws.query_params:
            # An auth frame is answered, as a re-auth is: the client knows the socket is ready.
            listener.offer({"type": "authenticated", "expires_at": claims.exp.isoformat()})
        stops: set[asyncio.Task[None]] = set()
        sender = asyncio.create_task(_send_loop(ws, listener))
        receiver = asyncio.create_task(_receive_loop(ws, runtime, session, listener, stops))
        watcher = asyncio.create_task(_watch(session, listener))
        tasks: set[asyncio.Task[Any]] = {sender, receiver, watcher}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done and watcher not in done and receiver.exception() is None:
                # It queued a Close: the sender sends what was queued before it, then closes.
                pending = {sender, watcher}
                done, _ = await asyncio.wait(pending, timeout=CLOSE_FLUSH_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            if watcher in done and not sender.done():  # closed by the server: not reading, signed out...
                for task in (sender, receiver):
                    task.cancel()
                await asyncio.wait({sender, receiver})
                shutdown = watcher.result()
                _closing(user_id, shutdown.cause, shutdown.code)
                await _close(ws, shutdown.code, shutdown.reason)
        finally:
            for task in (*tasks, *stops):
                task.cancel()
            await asyncio.wait({*tasks, *stops})
        failed = receiver.exception() if receiver.done() and not receiver.cancelled() else None
        if failed is not None and not isinstance(failed, WebSocketDisconnect):
            raise failed
        if sender.done() and not sender.cancelled():
            sender.exception()  # a send to a client gone: nothing to do, but retrieved


async def _watch(session: SocketToken, listener: Listener) -> Shutdown:
    """Until the listener is shut (the hub: a client that does not read, a logout...) or the
    socket's token expires, whichever comes first."""
    while listener.shutdown is None:
        remaining = (session.claims.exp - datetime.now(UTC)).total_seconds()
        if remaining <= 0:
            listener.shut(Shutdown(CLOSE_UNAUTHORIZED, EXPIRED_REASON, "token_expired"))
            break
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):  # then look again: a re-auth may have extended it
                await listener.shut_down.wait()
    assert listener.shutdown is not None
    return listener.shutdown


async def _send_loop(ws: WebSocket, outbox: Listener) -> None:
    while True:
        item = await outbox.get()
        if isinstance(item, Close):
            await ws.close(item.code, item.reason)
            return
        await ws.send_json(frame(item) if isinstance(item, TurnEvent) else item)


async def _reauth(runtime: Runtime, session: SocketToken, listener: Listener, token: str | None) -> Close | None:
    """A fresh token on the open socket: from now on the socket lives as long as it does, and
    belongs to its login. Returns a Close when the account may no longer be served."""
    try:
        claims = runtime.tokens.decode(token or "", "access")
    except InvalidToken as exc:
        listener.offer(error_frame("unauthorized", str(exc)))
        return None
    if claims.user_id != session.claims.user_id:
        listener.offer(error_frame("forbidden", "The token belongs to another user than this socket's"))
        return None
    try:
        await load_caller(runtime, claims)
    except AppError as exc:
        listener.offer(error_frame(exc.code, exc.detail))
        return Close(CLOSE_FORBIDDEN, exc.detail) if exc.status_code == 403 else None
    session.claims = claims
    listener.sid, listener.jti = claims.sid, claims.jti
    listener.offer({"type": "authenticated", "expires_at": claims.exp.isoformat()})
    return None


async def _stop(runtime: Runtime, user_id: int, message_id: int, outbox: Listener) -> None:
    """Stop an answer; its final frame reaches the sockets through the hub, unless it was only
    stored (nobody was generating it), when this socket is told here."""
    try:
        stopped = await stop_answer(runtime, user_id=user_id, message_id=message_id)
    except AppError as exc:
        outbox.offer({**error_frame(exc.code, exc.detail), "message_id": message_id})
        return
    except Exception:
        log.exception("ws.stop_failed", message_id=message_id)
        failure = error_frame("internal_error", "The answer could not be stopped")
        outbox.offer({**failure, "message_id": message_id})
        return
    if not stopped.published:
        payload = stopped.payload
        if stopped.kind == "response":
            outbox.offer({"type": "response", **payload})
        else:
            outbox.offer({"type": "error", "code": "generation_failed", "detail": payload.get("error"), **payload})


async def _receive_loop(
    ws: WebSocket,
    runtime: Runtime,
    session: SocketToken,
    outbox: Listener,
    stops: set[asyncio.Task[None]],
) -> None:
    limit = runtime.settings.limits.max_body_bytes
    while True:
        raw = await _receive(ws)
        if _too_large(raw, limit):  # uvicorn refuses these itself under `helpline serve`
            outbox.offer(error_frame("frame_too_large", f"Frames are limited to {limit} bytes"))
            _closing(session.claims.user_id, "frame_too_large", CLOSE_TOO_LARGE)
            outbox.offer(Close(CLOSE_TOO_LARGE, f"Frames are limited to {limit} bytes"))
            return
        if isinstance(raw, bytes):
            outbox.offer(error_frame("invalid_frame", "Binary frames are not supported: send JSON as text frames"))
            continue
        try:
            incoming = WsIncoming.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            detail = "Frame is not valid JSON" if first.get("type") == "json_invalid" else f"{where}: {first['msg']}"
            outbox.offer(error_frame("invalid_frame", detail))
            continue
        if incoming.type == "ping":
            outbox.offer({"type": "pong"})
            continue
        if incoming.type == "stop" and incoming.message_id is None:
            outbox.offer(error_frame("invalid_frame", "message_id: the answer to stop is required"))
            continue
        claims = session.claims
        try:
            if incoming.type == "auth":
                close = await _reauth(runtime, session, outbox, incoming.token)
                if close is not None:
                    outbox.offer(close)
                    return
                continue
            if incoming.type == "stop":
                assert incoming.message_id is not None
                await load_caller(runtime, claims)
                # In a task: the socket keeps answering while the stop waits for the final event.
                task = asyncio.create_task(_stop(runtime, claims.user_id, incoming.message_id, outbox))
                stops.add(task)
                task.add_done_callback(stops.discard)
                continue
            # Shielded: a socket closed by the server (the receive loop cancelled) while a turn
            # is being stored still starts its answer, as a client that leaves does.
            await asyncio.shield(_start_turn(runtime, claims, incoming, outbox))
        except AppError as exc:
            outbox.offer(error_frame(exc.code, exc.detail))
            # Without consent the socket stays open: the user may give it again and go on.
            if exc.status_code in (401, 403) and not isinstance(exc, ConsentRequired):
                outbox.offer(Close(CLOSE_UNAUTHORIZED if exc.status_code == 401 else CLOSE_FORBIDDEN, exc.detail))
                return
            continue
        except Exception as exc:
            # The socket outlives a failed turn, answered as HTTP answers a failed request.
            _, code, detail = failure(exc, ws.url.path)
            outbox.offer(error_frame(code, detail))
            continue


async def _start_turn(runtime: Runtime, claims: TokenClaims, incoming: WsIncoming, outbox: Listener) -> None:
    # The turn checks the account (a suspended user or a revoked token is not served).
    turn = await once.begin_once(
        runtime,
        claims=claims,
        content=incoming.content or "",
        conversation_id=incoming.conversation_id,
        language=incoming.language,
        client_id=incoming.client_id,
    )
    if isinstance(turn, once.Repeated):
        # Sent before with this client_id: the first send's ids, and its answer once final (while
        # it is being written, its events reach every socket of the user through the hub).
        outbox.offer({"type": "ack", **turn.ack()})
        if turn.answer_id is None:
            outbox.offer({"type": "response", "seq": 1, **once.relayed_payload(turn)})
            return
        msg, question_id = await service.stored_answer(runtime, claims.user_id, turn.answer_id)
        if msg.status is not MessageStatus.streaming:
            kind, payload = service.stored_payload(msg, question_id)
            outbox.offer(frame(TurnEvent(kind, 1, msg.id, msg.conversation_id, payload)))
        return
    if isinstance(turn, Relayed):
        # A person answers (see ChatResponse.handoff): the ack, and the final frame at once.
        payload = service.relayed_payload(turn)
        ids = {"conversation_id": turn.conversation_id, "user_message_id": turn.user_message_id}
        outbox.offer({"type": "ack", **ids, "message_id": turn.user_message_id})
        outbox.offer({"type": "response", "seq": 1, **payload})
        return
    ack = {
        "type": "ack",
        "conversation_id": turn.conversation_id,
        "user_message_id": turn.user_message_id,
        "message_id": turn.message_id,
    }
    outbox.offer(ack)  # before the answer's first event
    service.launch(runtime, turn)
