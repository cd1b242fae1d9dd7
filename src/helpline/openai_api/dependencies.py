from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from helpline.apikeys.schemas import Scope
from helpline.apikeys.service import INVALID_KEY, KeyCaller, authenticate
from helpline.core.deps import RuntimeDep
from helpline.core.errors import Unauthorized
from helpline.core.openapi import documents

api_key = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A Helpline API key (hl_…), made in your account page or with POST /api/v1/users/me/api-keys",
)

NO_KEY = "You didn't provide an API key: send 'Authorization: Bearer hl_…' (create one in your account page)."


@documents(
    {401: "No valid API key (revoked, or not one)", 403: "A suspended account, or a key without the chat scope"},
    requires_token=True,
)
async def chat_key(
    runtime: RuntimeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key)]
) -> KeyCaller:
    """The caller of a /v1 request: a valid key with the chat scope, checked on every request."""
    if creds is None:
        raise Unauthorized(NO_KEY)
    if creds.scheme.lower() != "bearer":
        raise Unauthorized(INVALID_KEY)
    return await authenticate(runtime, creds.credentials.strip(), Scope.chat)


ChatKey = Annotated[KeyCaller, Depends(chat_key)]
