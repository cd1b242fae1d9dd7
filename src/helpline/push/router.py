"""Push: the server's Web Push public key, the signed-in user's browser subscriptions and the
mobile app's Expo push tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from helpline.auth.dependencies import ClientDep, CurrentUser
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.ids import PathId
from helpline.push import service
from helpline.push.schemas import ExpoTokenIn, PushPublicKey, PushSubscriptionIn, PushSubscriptionRead

router = APIRouter(prefix="/api/v1/push", tags=["push"])

_SIGNED_IN: dict[int | str, dict[str, Any]] = {401: {"description": "Not signed in"}}


@router.get("/public-key", response_model=PushPublicKey)
async def public_key(runtime: RuntimeDep) -> PushPublicKey:
    """The VAPID public key browsers subscribe with (`applicationServerKey`)."""
    return PushPublicKey(public_key=runtime.settings.vapid_keys().public_key)


@router.get("/subscriptions", response_model=list[PushSubscriptionRead], responses=_SIGNED_IN)
async def my_subscriptions(user: CurrentUser, session: SessionDep) -> list[PushSubscriptionRead]:
    """The browsers and phones your notifications are pushed to."""
    return [PushSubscriptionRead.model_validate(s) for s in await service.list_mine(session, user)]


@router.post(
    "/subscriptions",
    response_model=PushSubscriptionRead,
    status_code=status.HTTP_201_CREATED,
    responses=_SIGNED_IN
    | {
        403: {"description": "A guest: register first"},
        422: {"description": "Not a PushSubscription, or its endpoint is not a browser push service"},
    },
)
async def subscribe(
    body: PushSubscriptionIn, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> PushSubscriptionRead:
    """Save this browser's PushSubscription (`subscription.toJSON()`); the same endpoint again
    updates it. Which notifications it gets follows your notification settings (channel push)."""
    sub = await service.subscribe(session, runtime.settings.push, user, body, client)
    return PushSubscriptionRead.model_validate(sub)


@router.post(
    "/expo-tokens",
    response_model=PushSubscriptionRead,
    status_code=status.HTTP_201_CREATED,
    responses=_SIGNED_IN
    | {
        403: {"description": "A guest: register first"},
        422: {"description": "Not an Expo push token (ExponentPushToken[...])"},
    },
)
async def register_expo_token(
    body: ExpoTokenIn, user: CurrentUser, session: SessionDep, client: ClientDep
) -> PushSubscriptionRead:
    """Save the mobile app's Expo push token for this phone; the same token again updates it.
    Notifications reach it through Expo's push service (HELPLINE_PUSH_EXPO_URL), as your
    notification settings (channel push) allow. It is listed with the browsers under
    `/push/subscriptions` (provider `expo`) and removed the same way."""
    sub = await service.register_expo_token(session, user, body, client)
    return PushSubscriptionRead.model_validate(sub)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_SIGNED_IN | {404: {"description": "No subscription of yours with this id"}},
)
async def unsubscribe(subscription_id: PathId, user: CurrentUser, session: SessionDep, client: ClientDep) -> Response:
    """Stop pushing to this browser."""
    await service.unsubscribe(session, user, subscription_id, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
