"""The floor for idle WebSockets (bench_ws_idle.py): FastAPI under uvicorn holding each socket
open, answering a ping frame with a pong and otherwise waiting, nothing else per socket."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.websocket("/ws/{user_id}")
async def hold(ws: WebSocket, user_id: int) -> None:
    await ws.accept()
    try:
        while True:
            await ws.receive_text()
            await ws.send_json({"type": "pong"})
    except WebSocketDisconnect:
        return
