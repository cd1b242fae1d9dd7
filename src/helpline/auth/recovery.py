"""Password recovery by email. Asking gives the same answer whether or not the email has an
account (nobody learns who has one here); an account gets a mail with a link carrying a single-use
token that lives HELPLINE_MAIL_RESET_LINK_MINUTES. The token is stored hashed in the runtime's
one-time store (Redis when configured, so any instance redeems it) and sits in the link's fragment,
which browsers never send to a server nor write to access logs. A new password signs every session
out and lifts the account's failed-login lockout; a link asked for before a password change (by
any means) no longer works."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.auth.service import revoke_all_sessions
from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import BadRequest, Unprocessable
from helpline.core.runtime import Runtime
from helpline.models import User, UserStatus
from helpline.notifications.mail import mail_to
from helpline.platform.throttle import AuthThrottles, account_key

RESET_ACCEPTED = (
    "If an account uses this email, a link to choose a new password is on its way. "
    "Check your inbox (and spam folder) in a minute."
)


class InvalidResetToken(BadRequest):
    code = "invalid_reset_token"

    def __init__(self) -> None:
        super().__init__("This password-reset link has expired or was already used: ask for a new one.")


def _key(token: str) -> str:
    # A fast hash is enough: the token is 256 random bits, there is nothing to guess offline.
    return "reset:" + hashlib.sha256(token.encode()).hexdigest()


def _stamp(user: User) -> str | None:
    return user.password_changed_at.isoformat() if user.password_changed_at else None


async def request_reset(session: AsyncSession, throttles: AuthThrottles, email: str, client: Client) -> User | None:
    """The account to mail a reset link to, or None when the email has no active account (the
    caller answers the same either way). Limited per client address and per email (429)."""
    email = email.strip().lower()
    await throttles.reset_per_ip.hit(client.ip or "unknown")
    await throttles.reset_per_email.hit(email)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or user.is_guest or user.status != UserStatus.active:
        return None
    audit.record(session, "user.password_reset_requested", actor_user_id=None, target_id=user.id, client=client)
    return user


async def reset_mail(runtime: Runtime, user: User, language: str | None) -> EmailMessage:
    """The reset mail, with a new link (made by the mail job, so no link ever sits in the queue)."""
    minutes = runtime.settings.mail.reset_link_minutes
    token = secrets.token_urlsafe(32)
    value = {"user_id": user.id, "stamp": _stamp(user), "until": time.time() + minutes * 60}
    await runtime.one_time.put(_key(token), json.dumps(value), minutes * 60)
    return mail_to(
        runtime,
        "password_reset",
        user,
        language,
        link=f"{runtime.settings.base_url}/reset-password#token={token}",
        minutes=minutes,
    )


def _password_problem(user: User, password: str) -> str | None:
    pw = password.lower()
    local = user.email.split("@", 1)[0].lower()
    if (len(local) >= 4 and local in pw) or user.username.lower() in pw:
        return "must not contain your email name or username"
    return None


async def reset_password(
    session: AsyncSession, runtime: Runtime, throttles: AuthThrottles, token: str, new_password: str, client: Client
) -> User:
    """Set the password of the token's account and use the token up (400 if it is unknown, used,
    expired, or the password changed since it was sent). A password the rules refuse is a 422
    that leaves the token usable."""
    raw = await runtime.one_time.take(_key(token))
    if raw is None:
        raise InvalidResetToken
    data = json.loads(raw)
    user = await session.get(User, int(data["user_id"]))
    if user is None or user.is_guest or user.status != UserStatus.active or _stamp(user) != data["stamp"]:
        raise InvalidResetToken
    problem = _password_problem(user, new_password)
    if problem is not None:
        # Give the token back for the rest of its life: a refused password must not cost a new mail.
        left = int(float(data["until"]) - time.time())
        if left > 0:
            await runtime.one_time.put(_key(token), raw, left)
        raise Unprocessable(f"new_password: {problem}")
    user.hashed_password = await runtime.hasher.hash(new_password)
    user.password_changed_at = datetime.now(UTC)
    await revoke_all_sessions(session, user.id, access_tokens=True)
    await throttles.login.succeeded(account_key(user.id, user.email))
    audit.record(session, "user.password_reset", actor_user_id=user.id, client=client)
    return user
