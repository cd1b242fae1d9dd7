"""The baseline for bench_auth.py: a bare FastAPI app with no middleware, database or auth.

Served by bench_auth.py as ``python -m uvicorn bench._bare_app:app`` with the uvicorn
settings Helpline uses, so the gap to Helpline's endpoints is the app's own cost.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI(title="bench-bare", docs_url=None, redoc_url=None, openapi_url=None)


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=0, le=1_000_000)
    tags: list[str] = Field(default_factory=list, max_length=10)


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok", "service": "bench-bare"}


@app.post("/items")
async def create_item(item: Item) -> dict[str, object]:
    return {"name": item.name, "quantity": item.quantity, "tags": item.tags}
