"""WS /api/v1/chat/ws/{user_id}: the spec's message/response frames, plus typing, token,
error and ping/pong. Every socket of a user receives that user's answers.

Stopping an answer: the client sends ``{"type": "stop", "message_id": <the answer's id, from the
ack>}``; like ``POST /chat/messages/{id}/stop``, the model stops and what it wrote so far is
stored. Every socket of the user then gets the answer's final ``response`` frame with
``"stopped": true`` (or, if no instance was generating it any more, this socket gets the stored
answer as a ``response``/``error`` frame). A stop that cannot be done gets an ``error`` frame
(``not_found``; ``conflict`` once the answer has finished)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from helpline.auth.dependencies import load_caller
from helpline.chat import service
from helpline.chat.hub import TurnEvent
from helpline.chat.schemas import WsIncoming
from helpline.chat.stop import stop as stop_answer
from helpline.core.errors import AppError, ConsentRequired, failure
from helpline.core.runtime import Runtime
from helpline.core.security import InvalidToken, TokenClaims

log = structlog.get_logger(__name__)
router = APIRouter()

AUTH_TIMEOUT_SECONDS = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_FLUSH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket once the frames queued before it are sent (an error frame saying why)."""

    code: int
    reason: str


Outgoing = TurnEvent | dict[str, Any] | Close


def frame(event: TurnEvent) -> dict[str, Any]:
    base = {"message_id": event.message_id, "conversation_id": event.conversation_id, "seq": event.seq}
    if event.kind == "token":
        return {"type": "token", "content": event.data["content"], **base}
    if event.kind == "typing":
        return {"type": "typing", "user_message_id": event.data.get("user_message_id"), **base}
    if event.kind == "response":
        return {"type": "response", **base, **event.data}
    return {"type": "error", "code": "generation_failed", "detail": event.data.get("error"), **base, **event.data}


def error_frame(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


async def _authenticate(ws: WebSocket, runtime: Runtime) -> TokenClaims | None:
    token = ws.query_params.get("token")
    if token is None:
        try:
            first = json.loads(await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_SECONDS))
            token = first.get("token") if isinstance(first, dict) and first.get("type") == "auth" else None
        except TimeoutError:
            await ws.close(CLOSE_AUTH_TIMEOUT, "No auth frame received")
            return None
        except (ValueError, AttributeError):
            token = None
    if not token:
        await ws.close(CLOSE_UNAUTHORIZED, "Send ?token=<access token> or a first frame {type: auth, token}")
        return None
    try:
        return runtime.tokens.decode(str(token), "access")
    except InvalidToken as exc:
        await ws.close(CLOSE_UNAUTHORIZED, str(exc))
        return None


@router.websocket("/api/v1/chat/ws/{user_id}")
async def chat_socket(ws: WebSocket, user_id: int) -> None:
    runtime: Runtime = ws.app.state.runtime
    await ws.accept()
    claims = await _authenticate(ws, runtime)
    if claims is None:
        return
    if claims.user_id != user_id:
        await ws.close(CLOSE_FORBIDDEN, "This socket's user_id is not the token's user")
        return
    try:
        await load_caller(runtime, claims)
    except AppError as exc:
        await ws.close(CLOSE_FORBIDDEN if exc.status_code == 403 else CLOSE_UNAUTHORIZED, exc.detail)
        return

    with runtime.hub.listen(user_id) as queue:
        outbox: asyncio.Queue[Outgoing] = queue
        sender = asyncio.create_task(_send_loop(ws, outbox))
        stops: set[asyncio.Task[None]] = set()
        try:
            await _receive_loop(ws, runtime, claims, outbox, stops)
            await asyncio.wait({sender}, timeout=CLOSE_FLUSH_SECONDS)  # it returns to close: let it
        except WebSocketDisconnect:
            pass
        finally:
            for task in (sender, *stops):
                task.cancel()
            await asyncio.wait({sender, *stops})


async def _send_loop(ws: WebSocket, outbox: asyncio.Queue[Outgoing]) -> None:
    while True:
        item = await outbox.get()
        if isinstance(item, Close):
            await ws.close(item.code, item.reason)
            return
        await ws.send_json(frame(item) if isinstance(item, TurnEvent) else item)


async def _stop(runtime: Runtime, user_id: int, message_id: int, outbox: asyncio.Queue[Outgoing]) -> None:
    """Stop an answer; its final frame reaches the sockets through the hub, unless it was only
    stored (nobody was generating it), when this socket is told here."""
    try:
        stopped = await stop_answer(runtime, user_id=user_id, message_id=message_id)
    except AppError as exc:
        outbox.put_nowait({**error_frame(exc.code, exc.detail), "message_id": message_id})
        return
    except Exception:
        log.exception("ws.stop_failed", message_id=message_id)
        failure = error_frame("internal_error", "The answer could not be stopped")
        outbox.put_nowait({**failure, "message_id": message_id})
        return
    if not stopped.published:
        payload = stopped.payload
        if stopped.kind == "response":
            outbox.put_nowait({"type": "response", **payload})
        else:
            outbox.put_nowait({"type": "error", "code": "generation_failed", "detail": payload.get("error"), **payload})


async def _receive_loop(
    ws: WebSocket,
    runtime: Runtime,
    claims: TokenClaims,
    outbox: asyncio.Queue[Outgoing],
    stops: set[asyncio.Task[None]],
) -> None:
    while True:
        raw = await ws.receive_text()
        try:
            incoming = WsIncoming.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            detail = "Frame is not valid JSON" if first.get("type") == "json_invalid" else f"{where}: {first['msg']}"
            outbox.put_nowait(error_frame("invalid_frame", detail))
            continue
        if incoming.type == "ping":
            outbox.put_nowait({"type": "pong"})
            continue
        if incoming.type == "auth":
            outbox.put_nowait(error_frame("invalid_frame", "Already authenticated"))
            continue
        if incoming.type == "stop" and incoming.message_id is None:
            outbox.put_nowait(error_frame("invalid_frame", "message_id: the answer to stop is required"))
            continue
        try:
            if incoming.type == "stop":
                assert incoming.message_id is not None
                await load_caller(runtime, claims)
                # In a task: the socket keeps answering while the stop waits for the final event.
                task = asyncio.create_task(_stop(runtime, claims.user_id, incoming.message_id, outbox))
                stops.add(task)
                task.add_done_callback(stops.discard)
                continue
            # The turn checks the account (a suspended user or a revoked token is not served).
            turn = await service.begin(
                runtime,
                claims=claims,
                content=incoming.content or "",
                conversation_id=incoming.conversation_id,
                language=incoming.language,
            )
        except AppError as exc:
            outbox.put_nowait(error_frame(exc.code, exc.detail))
            # Without consent the socket stays open: the user may give it again and go on.
            if exc.status_code in (401, 403) and not isinstance(exc, ConsentRequired):
                outbox.put_nowait(Close(CLOSE_UNAUTHORIZED if exc.status_code == 401 else CLOSE_FORBIDDEN, exc.detail))
                return
            continue
        except Exception as exc:
            # The socket outlives a failed turn, answered as HTTP answers a failed request.
            _, code, detail = failure(exc, ws.url.path)
            outbox.put_nowait(error_frame(code, detail))
            continue
        outbox.put_nowait(
            {
                "type": "ack",
                "conversation_id": turn.conversation_id,
                "user_message_id": turn.user_message_id,
                "message_id": turn.message_id,
            }
        )
        service.launch(runtime, turn)
