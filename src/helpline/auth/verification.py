"""Email verification: a link mailed at registration and after a change of email, carrying a
single-use token (stored hashed in the one-time store, in the link's fragment) that confirms the
address it was sent to. HELPLINE_AUTH_EMAIL_VERIFICATION=required makes signing in wait for it.
Also the mail to the owner of an address someone tried to register again: registration answers
the same either way, so that is how the owner learns of it."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpline.core import audit
from helpline.core.audit import Client
from helpline.core.errors import BadRequest
from helpline.core.runtime import Runtime
from helpline.models import User, UserStatus
from helpline.notifications.jobs import MailKind
from helpline.notifications.mail import mail_to
from helpline.platform.throttle import AuthThrottles

RESEND_ACCEPTED = "If this email has an account waiting for confirmation, a new link is on its way."
NOT_VERIFIED = "Confirm your email address first: open the link we mailed to it, or ask for a new one."


class InvalidVerifyToken(BadRequest):
    code = "invalid_verify_token"

    def __init__(self) -> None:
        super().__init__("This confirmation link has expired or was already used: ask for a new one.")


def _key(token: str) -> str:
    return "verify:" + hashlib.sha256(token.encode()).hexdigest()


def _address(email: str) -> str:
    # Which address the link was for, without keeping the address itself in the store: an
    # erased account must leave no email behind in Redis.
    return hashlib.sha256(email.encode()).hexdigest()


async def verification_mail(runtime: Runtime, user: User) -> EmailMessage:
    """A confirmation link for the user's current email."""
    hours = runtime.settings.auth.verify_link_hours
    token = secrets.token_urlsafe(32)
    await runtime.one_time.put(
        _key(token), json.dumps({"user_id": user.id, "address": _address(user.email)}), hours * 3600
    )
    return mail_to(
        runtime, "verify_email", user, link=f"{runtime.settings.base_url}/verify-email#token={token}", hours=hours
    )


def account_exists_mail(runtime: Runtime, user: User) -> EmailMessage:
    """To the owner of an email someone tried to register again."""
    base = runtime.settings.base_url
    return mail_to(runtime, "account_exists", user, login=f"{base}/login", reset=f"{base}/forgot-password")


async def confirm_email(session: AsyncSession, runtime: Runtime, token: str, client: Client) -> User:
    """Mark the address the token was mailed to as confirmed (400 if the token is unknown, used,
    expired, or the account's email has changed since)."""
    raw = await runtime.one_time.take(_key(token))
    if raw is None:
        raise InvalidVerifyToken
    data = json.loads(raw)
    user = await session.get(User, int(data["user_id"]))
    if user is None or user.is_guest or _address(user.email) != data["address"]:
        raise InvalidVerifyToken
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
        audit.record(session, "user.email_verified", actor_user_id=user.id, client=client)
    return user


async def resend(session: AsyncSession, throttles: AuthThrottles, email: str, client: Client) -> User | None:
    """The account to mail a new link to: active, with its email not confirmed yet; None otherwise
    (the caller answers the same). Limited per address and per email, at the password resets' rates."""
    email = email.strip().lower()
    await throttles.verify_per_ip.hit(client.ip or "unknown")
    await throttles.verify_per_email.hit(email)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or user.is_guest or user.status != UserStatus.active or user.email_verified:
        return None
    return user


async def registration_mail(
    session: AsyncSession, throttles: AuthThrottles, email: str, created: User | None
) -> tuple[MailKind, User] | None:
    """After a registration, which mail to send to whom: the confirmation link for a new account,
    or, when the email already had one, a word to its owner (at most as often as confirmation
    links, so nobody floods a mailbox)."""
    if created is not None:
        return "verify_email", created
    email = email.strip().lower()
    existing = await session.scalar(select(User).where(User.email == email))
    if existing is None or existing.is_guest or existing.status != UserStatus.active:
        return None
    if await throttles.verify_per_email.full(email):
        return None
    await throttles.verify_per_email.count(email)
    return "account_exists", existing
