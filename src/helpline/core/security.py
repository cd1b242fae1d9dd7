"""Password hashing (bcrypt) and JWTs (PyJWT, algorithm pinned)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import anyio.to_thread
import bcrypt
import jwt

TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["sub", "email", "role", "type", "exp", "iat", "jti"]
# A device cookie's audience: PyJWT refuses a token with an audience where none is expected, so a
# device cookie can never pass for an access token, and an access token (no audience) never for it.
DEVICE_AUDIENCE = "helpline:device"


class PasswordHasher:
    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        # Verified against when the account does not exist, so that a login for an
        # unknown email costs the same time as one for a known email.
        self._dummy = bcrypt.hashpw(b"helpline-timing-equaliser", bcrypt.gensalt(rounds))

    def hash_sync(self, password: str) -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.rounds)).decode()

    async def hash(self, password: str) -> str:
        # bcrypt is CPU-bound by design: keep it off the event loop.
        return await anyio.to_thread.run_sync(self.hash_sync, password)

    def needs_rehash(self, hashed: str) -> bool:
        """True when the hash was made with another cost than the configured one."""
        try:
            return int(hashed.split("$")[2]) != self.rounds
        except (IndexError, ValueError):
            return True

    async def verify(self, password: str, hashed: str | None) -> bool:
        target = hashed.encode() if hashed else self._dummy
        try:
            ok = await anyio.to_thread.run_sync(bcrypt.checkpw, password.encode(), target)
        except ValueError:
            return False
        return ok and hashed is not None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: str
    email: str
    role: str
    type: TokenType
    exp: datetime
    iat: datetime
    jti: uuid.UUID
    # The login (refresh-token family) the token belongs to: logout revokes every token of it.
    # Optional so tokens issued before the claim existed stay valid until they expire.
    sid: uuid.UUID | None = None

    @property
    def user_id(self) -> int:
        return int(self.sub)


@dataclass(frozen=True, slots=True)
class DeviceCookie:
    """A browser that signed in to ``user_id`` (OWASP "device cookie"); ``nonce`` tells it apart."""

    user_id: int
    nonce: str


class InvalidToken(Exception):
    pass


class TokenCodec:
    def __init__(self, secret: str, algorithm: str) -> None:
        self._secret = secret
        self._algorithm = algorithm

    def encode(
        self,
        *,
        user_id: int,
        email: str,
        role: str,
        type: TokenType,
        ttl: timedelta,
        jti: uuid.UUID,
        sid: uuid.UUID | None = None,
    ) -> tuple[str, TokenClaims]:
        now = datetime.now(UTC).replace(microsecond=0)
        claims = TokenClaims(
            sub=str(user_id), email=email, role=role, type=type, exp=now + ttl, iat=now, jti=jti, sid=sid
        )
        payload: dict[str, str | int] = {
            "sub": claims.sub,
            "email": email,
            "role": role,
            "type": type,
            "exp": int(claims.exp.timestamp()),
            "iat": int(now.timestamp()),
            "jti": str(jti),
        }
        if sid is not None:
            payload["sid"] = str(sid)
        return jwt.encode(payload, self._secret, algorithm=self._algorithm), claims

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],  # pinned: "none" and other algorithms are refused
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token has expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("Invalid token") from None
        if payload.get("type") != expected_type:
            raise InvalidToken(f"Expected an {expected_type} token")
        try:
            return TokenClaims(
                sub=str(int(payload["sub"])),
                email=str(payload["email"]),
                role=str(payload["role"]),
                type=expected_type,
                exp=datetime.fromtimestamp(payload["exp"], UTC),
                iat=datetime.fromtimestamp(payload["iat"], UTC),
                jti=uuid.UUID(str(payload["jti"])),
                sid=uuid.UUID(str(payload["sid"])) if "sid" in payload else None,
            )
        except (TypeError, ValueError):
            raise InvalidToken("Invalid token") from None

    def encode_device(self, user_id: int, ttl: timedelta) -> str:
        """A signed device cookie for ``user_id`` with a fresh random nonce."""
        now = datetime.now(UTC)
        payload = {
            "sub": str(user_id),
            "nonce": secrets.token_urlsafe(16),
            "aud": DEVICE_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(payload, self._secret, algorithm=self._algorithm)

    def decode_device(self, value: str) -> DeviceCookie | None:
        """The device cookie's account and nonce, or None when it is not one of ours or expired."""
        try:
            payload = jwt.decode(
                value,
                self._secret,
                algorithms=[self._algorithm],
                audience=DEVICE_AUDIENCE,
                options={"require": ["sub", "nonce", "aud", "exp"]},
            )
            return DeviceCookie(user_id=int(payload["sub"]), nonce=str(payload["nonce"]))
        except (jwt.PyJWTError, TypeError, ValueError):
            return None
