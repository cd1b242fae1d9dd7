from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from helpline.auth import guest, handoff, recovery, service, verification
from helpline.auth.dependencies import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_PATH,
    AccessClaims,
    ClientDep,
    DeviceDep,
    ThrottlesDep,
    bearer,
)
from helpline.auth.schemas import (
    EmailVerified,
    GuestHandoff,
    GuestRequest,
    HandoffAccess,
    HandoffRedeemRequest,
    LoginRequest,
    LogoutRequest,
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterAccepted,
    RegisterRequest,
    TokenResponse,
    UserRead,
    VerifyEmailConfirm,
    VerifyEmailResend,
)
from helpline.chat.sockets import CLOSE_UNAUTHORIZED, close_all, close_login, close_reused_login
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.core.errors import error_response
from helpline.notifications.jobs import send_later
from helpline.platform.hub import Shutdown

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Invalid credentials or token"},
    403: {"description": "Account suspended or inactive"},
    429: {"description": "Too many failed attempts"},
}


def _tokens(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=int(pair.access_ttl.total_seconds()),
        refresh_expires_in=int(pair.refresh_ttl.total_seconds()),
        user=UserRead.model_validate(pair.user),
    )


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegisterAccepted,
    responses={
        401: {"description": "The guest access token sent has expired: refresh it and retry"},
        409: {"description": "Username taken"},
        429: {"description": "Too many registrations from this address, or in total"},
    },
)
async def register(
    body: RegisterRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    creds: BearerDep,
    background: BackgroundTasks,
) -> RegisterAccepted:
    """Create an account, then log in with its email and password. The answer is the same 202
    whether the account was created or the email already had one (so that nobody can learn who
    has an account here): a login that then fails means the email was already registered. A
    taken username is a 409. A new account gets a link to confirm its email; the owner of an email
    that already had one gets a mail saying someone tried to register with it.

    Sent with a guest's access token (the widget), it turns that guest into the account instead,
    keeping its id and conversations; the guest's tokens stop working."""
    await throttles.register.hit(client.ip)
    guest_claims = await guest.guest_to_register(session, runtime, creds.credentials if creds else None)
    if guest_claims is not None:
        user = await guest.register_guest(session, runtime, guest_claims, body, client)
    else:
        user = await service.register(session, runtime, body, client)
    mail = await verification.registration_mail(session, throttles, str(body.email), user)
    if mail is not None:
        send_later(background, runtime, *mail)
    return RegisterAccepted()


@router.post(
    "/guest",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenResponse,
    responses={
        403: {"description": "Guests are not allowed, or the site key is wrong"},
        404: {"description": "The widget is disabled"},
        429: {"description": "Too many guest sessions from this address"},
    },
)
async def start_guest(
    body: GuestRequest, session: SessionDep, runtime: RuntimeDep, throttles: ThrottlesDep, client: ClientDep
) -> TokenResponse:
    """Start a guest session for a visitor of the embeddable widget: a short-lived identity that
    can chat without an account (its refresh token lasts HELPLINE_WIDGET_GUEST_SESSION_HOURS)."""
    pair = await guest.create_guest(
        session, runtime, throttles.guest, site_key=body.site_key, language=body.language, client=client
    )
    await session.refresh(pair.user)
    return _tokens(pair)


@router.post("/login", response_model=TokenResponse, responses=_ERRORS)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    device: DeviceDep,
) -> TokenResponse | JSONResponse:
    """Sign in. The answer also sets a device cookie (HttpOnly, for the auth endpoints only): a
    browser sending it back is never locked out by other people's failed attempts on the account."""
    pair = await service.login(session, runtime, throttles.login, body.identifier, body.password, client, device)
    if isinstance(pair, service.LoginRefused):
        # Returned rather than raised so the request's transaction commits the audit entry.
        headers = {"WWW-Authenticate": "Bearer"} if pair.status_code == 401 else None
        return error_response(pair.status_code, pair.error, pair.detail, headers)
    days = runtime.settings.auth.device_cookie_days
    response.set_cookie(
        DEVICE_COOKIE,
        runtime.tokens.encode_device(pair.user.id, timedelta(days=days)),
        max_age=days * 86400,
        path=DEVICE_COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return _tokens(pair)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=_ERRORS | {429: {"description": "Too many refreshes from this address"}},
)
async def refresh(
    body: RefreshRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> TokenResponse | JSONResponse:
    """Rotate the refresh token. One used a second time signs its whole login out, and that
    login's open chat WebSockets are closed (4401)."""
    result = await service.refresh(session, runtime, throttles.refresh, body.refresh_token, client)
    if isinstance(result, service.RefreshReuse):
        # Returned rather than raised so the request's transaction commits the revocation; the
        # sockets close after the commit (background tasks run once the response is sent).
        background.add_task(close_reused_login, runtime, result.user_id, result.family_id)
        return error_response(401, "refresh_token_reused", result.detail)
    return _tokens(result)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def logout(
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    creds: BearerDep,
    background: BackgroundTasks,
    body: LogoutRequest | None = None,
) -> Response:
    """Revoke the login; its open chat WebSockets are closed (4401) on every instance."""
    access, refresh = creds.credentials if creds else None, body.refresh_token if body else None
    await service.logout(session, runtime, access, refresh, client)
    # After the commit (background tasks run once the response is sent): a socket closed sooner
    # could reconnect with a token not revoked yet.
    background.add_task(close_login, runtime, access, refresh)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/guest/handoff",
    status_code=status.HTTP_201_CREATED,
    response_model=GuestHandoff,
    responses={401: {"description": "No valid access token"}, 403: {"description": "The caller is not a guest"}},
)
async def guest_handoff(session: SessionDep, runtime: RuntimeDep, claims: AccessClaims) -> GuestHandoff:
    """A one-time code (5 minutes) for the widget's "create an account" link, so the link carries
    no token: the sign-up page redeems it (POST .../redeem) for the guest's access token."""
    made = await handoff.create_handoff(session, runtime, claims)
    return GuestHandoff(code=made.code, expires_in=made.expires_in)


@router.post(
    "/guest/handoff/redeem",
    response_model=HandoffAccess,
    responses={400: {"description": "Unknown, used or expired code, or its guest is gone or registered"}},
)
async def redeem_guest_handoff(body: HandoffRedeemRequest, session: SessionDep, runtime: RuntimeDep) -> HandoffAccess:
    """Use up a hand-off code: the guest's access token, to register as that guest."""
    access = await handoff.redeem_handoff(session, runtime, body.code)
    return HandoffAccess(access_token=access.access_token, expires_in=access.expires_in)


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    responses={429: {"description": "Too many resets asked from this address or for this email"}},
)
async def request_password_reset(
    body: PasswordResetRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> PasswordResetAccepted:
    """Mail a link to choose a new password. The answer is the same 202 whether or not the email
    has an account; the link works once, for HELPLINE_MAIL_RESET_LINK_MINUTES."""
    user = await recovery.request_reset(session, throttles, str(body.email), client)
    if user is not None:
        send_later(background, runtime, "password_reset", user, language=body.language)
    return PasswordResetAccepted(detail=recovery.RESET_ACCEPTED)


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: {"description": "Unknown, used or expired reset token"}},
)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> Response:
    """Set a new password with a reset link's token: every session of the account is signed out
    (its open chat WebSockets close with 4401), then sign in with the new password."""
    user = await recovery.reset_password(session, runtime, throttles, body.token, body.new_password, client)
    shutdown = Shutdown(CLOSE_UNAUTHORIZED, "Password reset: sign in again", "password_changed")
    background.add_task(close_all, runtime, user.id, shutdown)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/verify-email",
    response_model=EmailVerified,
    responses={400: {"description": "Unknown, used or expired link, or the email has changed since"}},
)
async def verify_email(
    body: VerifyEmailConfirm, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> EmailVerified:
    """Confirm an email address with the token of the link mailed to it."""
    user = await verification.confirm_email(session, runtime, body.token, client)
    return EmailVerified(email=user.email)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    responses={429: {"description": "Too many links asked from this address or for this email"}},
)
async def resend_verification(
    body: VerifyEmailResend,
    session: SessionDep,
    runtime: RuntimeDep,
    throttles: ThrottlesDep,
    client: ClientDep,
    background: BackgroundTasks,
) -> PasswordResetAccepted:
    """Mail a new confirmation link; the same 202 whether or not one was sent."""
    user = await verification.resend(session, throttles, str(body.email), client)
    if user is not None:
        send_later(background, runtime, "verify_email", user)
    return PasswordResetAccepted(detail=verification.RESEND_ACCEPTED)
