"""The OpenAPI document declares our error bodies and the statuses routes get from their
dependencies, for every route, including ones added later (tests/contract checks it against a
live server)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from helpline.auth.dependencies import AdminUser, CurrentUser
from helpline.core.config import AuthSettings, load_settings
from helpline.core.deps import RuntimeDep
from helpline.core.errors import RETRY_UNAVAILABLE_SECONDS, RateLimited, ServiceUnavailable
from helpline.core.openapi import install_openapi
from helpline.core.ratelimit import RATE_LIMIT_HEADERS
from helpline.faqs.dependencies import OptionalUser
from helpline.main import create_app
from tests.conftest import TEST_SECRET

ERROR_BODIES = {"ErrorResponse", "ValidationErrorResponse", "RateLimitedResponse"}
OPENAI_BODIES = ERROR_BODIES | {"OpenAIErrorResponse"}  # 413s and 422s are still the app's


def _document() -> dict[str, Any]:
    settings = load_settings(auth=AuthSettings(secret_key=TEST_SECRET), log_json=False)
    return create_app(settings).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{m.upper()} {p}", op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_every_error_is_documented_with_the_api_error_body() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert set(schemas["ErrorResponse"]["required"]) == {"error", "detail", "request_id"}
    assert "errors" in schemas["ValidationErrorResponse"]["properties"]
    for name, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            if name == "GET /health/ready":
                assert ref == "HealthStatus"
                continue
            # The OpenAI-compatible API (/v1) answers in OpenAI's error shape (helpline.openai_api).
            assert ref in (OPENAI_BODIES if " /v1/" in name else ERROR_BODIES), (name, status)
            if status in ("429", "503"):
                assert response["headers"]["Retry-After"]["required"] is True, (name, status)
        if any("{" in part for part in name.split("/")):
            assert "404" in operation["responses"], name


def test_optional_and_required_tokens_are_told_apart() -> None:
    operations = dict(_operations(_document()))
    # Anonymous visitors search and read FAQs; guests and visitors register.
    for name in ("GET /api/v1/faqs/search", "GET /api/v1/faqs/{faq_id}", "POST /api/v1/auth/register"):
        assert operations[name]["security"] == [{"HTTPBearer": []}, {}], name
    for name in ("GET /api/v1/users/me", "POST /api/v1/chat/send", "POST /api/v1/auth/guest/handoff"):
        assert operations[name]["security"] == [{"HTTPBearer": []}], name
        assert "401" in operations[name]["responses"], name
    assert "security" not in operations["POST /api/v1/auth/login"]


class Thing(BaseModel):
    name: str


def test_a_new_route_gets_the_statuses_of_its_dependencies() -> None:
    """What a route added later (an admin page, say) gets without declaring anything."""
    app = FastAPI()
    install_openapi(app)
    router = APIRouter(prefix="/api/v1/admin")

    @router.put("/things/{thing_id}")
    async def put_thing(thing_id: int, body: Thing, admin: AdminUser, runtime: RuntimeDep) -> Thing:
        return body

    @router.get("/mine", responses={404: {"description": "Nothing of yours"}})
    async def mine(user: CurrentUser) -> Thing:
        return Thing(name="x")

    @router.get("/public")
    async def public(viewer: OptionalUser) -> Thing:
        return Thing(name="x")

    @router.get("/plain")
    async def plain(q: Annotated[int, Depends(lambda: 1)]) -> Thing:
        return Thing(name="x")

    app.include_router(router)
    paths = app.openapi()["paths"]
    put = paths["/api/v1/admin/things/{thing_id}"]["put"]
    # Every API route counts in a rate limit: a 429, and RateLimit headers on its answers.
    assert sorted(put["responses"]) == ["200", "401", "403", "404", "413", "422", "429", "503"]
    assert sorted(put["responses"]["200"]["headers"]) == sorted(RATE_LIMIT_HEADERS)
    assert put["security"] == [{"HTTPBearer": []}]
    assert put["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert put["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationErrorResponse")
    mine_op = paths["/api/v1/admin/mine"]["get"]
    assert mine_op["responses"]["404"]["description"] == "Nothing of yours"
    assert "422" not in mine_op["responses"]
    public_op = paths["/api/v1/admin/public"]["get"]
    assert public_op["security"] == [{"HTTPBearer": []}, {}]
    assert public_op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert sorted(paths["/api/v1/admin/plain"]["get"]["responses"]) == ["200", "429"]


async def test_a_json_body_that_is_not_utf8_is_a_422_like_any_invalid_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/auth/login", content=b'{"login": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert body["detail"] == "Request body is not valid JSON"
    assert body["errors"] == [{"field": None, "message": "Request body is not valid JSON", "type": "json_invalid"}]
    assert body["request_id"]


def test_every_429_and_503_carries_the_retry_after_the_document_promises() -> None:
    assert RateLimited("slow down", retry_after=0).headers == {"Retry-After": "1"}
    assert ServiceUnavailable("the store is down").headers == {"Retry-After": str(RETRY_UNAVAILABLE_SECONDS)}
