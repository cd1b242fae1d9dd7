"""The browser's PushSubscription (PushSubscription.toJSON()) and the mobile app's Expo push
token as the API takes them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from helpline.core.schemas import StrictModel
from helpline.core.vapid import b64url_decode

# What Expo's getExpoPushTokenAsync() gives: ExponentPushToken[...] (ExpoPushToken[...] is the
# newer spelling of the same).
EXPO_TOKEN_RE = re.compile(r"^(?:ExponentPushToken|ExpoPushToken)\[[A-Za-z0-9_-]{1,200}\]$")


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p256dh: str = Field(max_length=200, description="base64url of the browser's P-256 public key (65 bytes)")
    auth: str = Field(max_length=100, description="base64url of the browser's 16-byte auth secret")

    @field_validator("p256dh")
    @classmethod
    def _point(cls, v: str) -> str:
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(v))
        except ValueError:
            raise ValueError("must be base64url of an uncompressed P-256 public key") from None
        return v.strip().rstrip("=")

    @field_validator("auth")
    @classmethod
    def _secret(cls, v: str) -> str:
        try:
            raw = b64url_decode(v)
        except ValueError:
            raw = b""
        if len(raw) != 16:
            raise ValueError("must be base64url of 16 bytes")
        return v.strip().rstrip("=")


class PushSubscriptionIn(BaseModel):
    """What `PushSubscription.toJSON()` gives in the browser."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(min_length=10, max_length=2048, description="The push service's URL for this browser")
    expirationTime: int | None = Field(default=None, description="Ignored; the push service says when it is gone")  # noqa: N815
    keys: PushKeys


class ExpoTokenIn(StrictModel):
    """The mobile app's Expo push token (expo-notifications' getExpoPushTokenAsync())."""

    token: str = Field(
        max_length=250,
        pattern=EXPO_TOKEN_RE.pattern,
        description="The phone's Expo push token, such as ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]",
    )


class PushSubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: Literal["webpush", "expo"] = Field(
        default="webpush",
        description="webpush: a browser (endpoint is its push service's URL); expo: a phone "
        "running the mobile app (endpoint is its Expo push token)",
    )
    endpoint: str
    created_at: datetime
    updated_at: datetime | None


class PushPublicKey(BaseModel):
    public_key: str = Field(
        description="The VAPID public key: pass it as applicationServerKey to pushManager.subscribe"
    )


class PushMessage(BaseModel):
    """What the service worker receives in a push (JSON), in the user's language."""

    title: str
    body: str
    url: str = Field(description="A path of the web app to open when the notification is clicked")
    kind: str
    tag: str
