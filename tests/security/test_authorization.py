"""Authorization matrix (issue #17): every route of the OpenAPI document, and the chat WebSocket,
called as each role, against one table of expected outcomes.

Roles: ``anonymous`` (no token), ``guest`` (a widget guest), ``user``, ``other`` (another user:
for owned resources it reaches ``user``'s conversation, message or export), ``moderator`` and
``admin``. Owned resources are always ``user``'s, so every role but ``user`` tries to reach
somebody else's.

A route in the document (or a WebSocket route) without an entry in ``RULES`` fails with its name:
a new route must say who may call it. An entry is one line: a helper (``public``,
``signed_in``, ``staff``, ``admin_only``, ``owner``) with the allowed status, per-role
overrides as keywords, and the request to send (``prepare``) so that "allowed" is really
allowed (a valid body, a resource that exists)."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio
import websockets
from starlette.routing import WebSocketRoute
from websockets.exceptions import ConnectionClosed

from helpline.main import create_app
from tests.conftest import PASSWORD, bearer, make_settings
from tests.notifications.outbox import mailed
from tests.push.pushservice import Browser
from tests.security.conftest import Shared

pytestmark = pytest.mark.asyncio(loop_scope="module")

Role = Literal["anonymous", "guest", "user", "other", "moderator", "admin"]
ROLES: tuple[Role, ...] = ("anonymous", "guest", "user", "other", "moderator", "admin")
SIGNED_IN: tuple[Role, ...] = ROLES[1:]
WS = "WEBSOCKET"
OPEN = 101  # the WebSocket was accepted and answers (the Switching Protocols status)
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}"


# The world the cases act on: one account per role, and resources owned by `user`.


@dataclass
class World:
    shared: Shared
    tokens: dict[Role, dict[str, Any]] = field(default_factory=dict)
    conversation_id: int = 0
    export_id: str = ""
    faq_id: int = 0
    faq_slug: str = ""
    category_id: int = 0
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return self.shared.client

    def token(self, role: Role) -> str | None:
        return None if role == "anonymous" else str(self.tokens[role]["access_token"])

    def user_id(self, role: Role) -> int:
        return int(self.tokens[role]["user"]["id"])

    async def account(self, role: Role, email: str | None = None) -> dict[str, Any]:
        """A new account with this role (or a new guest), signed in."""
        if role == "guest":
            r = await self.client.post("/api/v1/auth/guest", json={})
            assert r.status_code == 201, r.text
            return dict(r.json())
        email = email or f"{unique(role)}@example.com"
        body = {"email": email, "password": PASSWORD, "data_processing_consent": True, "gdpr_consent": True}
        r = await self.client.post("/api/v1/auth/register", json=body)
        assert r.status_code == 202, r.text
        if role in ("moderator", "admin"):
            await self.shared.db.execute("UPDATE users SET role = $1 WHERE email = $2", role, email)
        r = await self.client.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def new_login(self, role: Role) -> str | None:
        """Another login of the role's account (a new guest for a guest): for routes that end it."""
        if role == "anonymous":
            return None
        if role == "guest":
            return str((await self.account("guest"))["access_token"])
        r = await self.client.post("/api/v1/auth/login", json={"login": self.email(role), "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def email(self, role: Role) -> str:
        return f"{role}@example.com"

    async def turn(self, role: Role = "user", conversation_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"message": unique("How do I reset my password? ")}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        r = await self.client.post("/api/v1/chat/send", headers=bearer(self.tokens[role]), json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def answer(self, name: str, status: str | None = None) -> int:
        """An answer of `user`'s, one per route (cases do not disturb each other), in a status."""
        if name not in self.answers:
            self.answers[name] = (await self.turn("user", self.conversation_id))["message_id"]
        message_id = self.answers[name]
        if status is not None:
            await self.shared.db.execute(
                "UPDATE messages SET status = $1, metadata = NULL WHERE id = $2", status, message_id
            )
        return message_id

    async def as_staff(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.as_role("admin", method, path, **kwargs)

    async def as_user(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.as_role("user", method, path, **kwargs)

    async def as_role(self, role: Role, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.client.request(method, path, headers=bearer(self.tokens[role]), **kwargs)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    async def category(self) -> int:
        made = await self.as_staff("POST", "/api/v1/faq-categories", json={"name": unique("Category ")})
        return int(made["id"])

    async def faq(self, status: str = "published") -> dict[str, Any]:
        body = {"question": unique("How do I change my plan? "), "answer": "From the billing page.", "status": status}
        return dict(await self.as_staff("POST", "/api/v1/faqs", json=body))

    async def unanswered(self) -> int:
        return int(
            await self.shared.db.fetchval(
                "INSERT INTO unanswered_questions (text, language) VALUES ($1, 'en') RETURNING id",
                unique("Can I pay with a gift card? "),
            )
        )


async def build_world(shared: Shared) -> World:
    world = World(shared)
    for role in ("user", "other", "moderator", "admin", "guest"):
        world.tokens[role] = await world.account(role, None if role == "guest" else world.email(role))
    first = await world.turn("user")
    world.conversation_id = first["conversation_id"]
    category = await world.category()
    world.category_id = category
    faq = await world.faq()
    world.faq_id, world.faq_slug = faq["id"], faq["slug"]
    r = await world.client.post("/api/v1/privacy/export", headers=bearer(world.tokens["user"]))
    assert r.status_code == 202, r.text
    world.export_id = r.json()["id"]
    for _ in range(500):
        r = await world.client.get(f"/api/v1/privacy/export/{world.export_id}", headers=bearer(world.tokens["user"]))
        if r.json()["status"] == "done":
            break
        assert r.json()["status"] != "failed", r.text
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the export never finished")
    return world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(shared: Shared) -> World:
    return await build_world(shared)


# What a case sends.


@dataclass
class Call:
    path: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    own_token: bool = False  # True: `token` replaces the role's token (a fresh login or account)


Prepare = Callable[[World, Role], Awaitable[Call]]


async def nothing(world: World, role: Role) -> Call:
    return Call()


@dataclass(frozen=True)
class Rule:
    expect: dict[Role, int]
    prepare: Prepare = nothing


def _rule(base: dict[Role, int], prepare: Prepare | None, overrides: dict[str, int]) -> Rule:
    unknown = set(overrides) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return Rule({**base, **overrides}, prepare or nothing)  # type: ignore[dict-item]


def public(code: int = 200, prepare: Prepare | None = None, **overrides: int) -> Rule:
    """Anybody, signed in or not."""
    return _rule(dict.fromkeys(ROLES, code), prepare, overrides)


def signed_in(code: int = 200, prepare: Prepare | None = None, **overrides: int) -> Rule:
    """Any valid access token, a guest's included."""
    return _rule({"anonymous": 401, **dict.fromkeys(SIGNED_IN, code)}, prepare, overrides)


def staff(code: int = 200, prepare: Prepare | None = None, **overrides: int) -> Rule:
    """Moderators and administrators."""
    base: dict[Role, int] = {"anonymous": 401, "guest": 403, "user": 403, "other": 403}
    return _rule({**base, "moderator": code, "admin": code}, prepare, overrides)


def admin_only(code: int = 200, prepare: Prepare | None = None, **overrides: int) -> Rule:
    base: dict[Role, int] = {"anonymous": 401, "guest": 403, "user": 403, "other": 403, "moderator": 403}
    return _rule({**base, "admin": code}, prepare, overrides)


def owner(code: int = 200, prepare: Prepare | None = None, denied: int = 404, **overrides: int) -> Rule:
    """Only ``user``, whose resource it is; everybody else signed in gets ``denied``."""
    return _rule({"anonymous": 401, **dict.fromkeys(SIGNED_IN, denied), "user": code}, prepare, overrides)


# How to call each route.


def body(value: Any) -> Prepare:
    async def prepare(world: World, role: Role) -> Call:
        return Call(json=value)

    return prepare


async def register_body(world: World, role: Role) -> Call:
    call = Call(json={"email": f"{unique('new')}@example.com", "password": PASSWORD, "data_processing_consent": True})
    if role == "guest":  # a guest's token registers that guest: not the shared one
        call.token, call.own_token = await world.new_login("guest"), True
    return call


async def login_body(world: World, role: Role) -> Call:
    return Call(json={"login": world.email("user"), "password": PASSWORD})


async def refresh_body(world: World, role: Role) -> Call:
    r = await world.client.post("/api/v1/auth/login", json={"login": world.email("user"), "password": PASSWORD})
    return Call(json={"refresh_token": r.json()["refresh_token"]})


async def own_login(world: World, role: Role) -> Call:
    """Routes that end the caller's login get a login of their own."""
    return Call(token=await world.new_login(role), own_token=True)


async def handoff_code(world: World, role: Role) -> Call:
    guest = await world.account("guest")
    r = await world.client.post("/api/v1/auth/guest/handoff", headers=bearer(guest))
    assert r.status_code == 201, r.text
    return Call(json={"code": r.json()["code"]})


async def reset_body(world: World, role: Role) -> Call:
    return Call(json={"email": f"{unique('forgot')}@example.com"})


async def reset_token(world: World, role: Role) -> Call:
    """The token of a reset mail for a new account (from the outbox: no mail server here)."""
    email = (await world.account("user"))["user"]["email"]
    r = await world.client.post("/api/v1/auth/password-reset", json={"email": email})
    assert r.status_code == 202, r.text
    [mail, *_] = await mailed(world.shared.runtime.settings.outbox_dir, to=email, kind="password_reset")
    token = mail.text.split("#token=", 1)[1].split()[0]
    return Call(json={"token": token, "new_password": "An0ther-secret-pass"})


async def verify_token(world: World, role: Role) -> Call:
    """The token of the confirmation mail of a new account."""
    email = (await world.account("user"))["user"]["email"]
    [mail, *_] = await mailed(world.shared.runtime.settings.outbox_dir, to=email, kind="verify_email")
    return Call(json={"token": mail.text.split("#token=", 1)[1].split()[0]})


async def erase_me(world: World, role: Role) -> Call:
    """A new account of that role erases itself (a guest has no password: refused)."""
    if role == "anonymous":
        return Call(json={"current_password": PASSWORD})
    return Call(token=(await world.account(role))["access_token"], own_token=True, json={"current_password": PASSWORD})


async def change_password(world: World, role: Role) -> Call:
    call = await erase_me(world, role)
    call.json = {"current_password": PASSWORD, "new_password": "An0ther-secret-pass"}
    return call


async def target_user(world: World, role: Role) -> Call:
    return Call(path={"user_id": (await world.account("user"))["user"]["id"]}, json={"status": "active"})


def answer(name: str, status: str | None = None, json: Any = None) -> Prepare:
    async def prepare(world: World, role: Role) -> Call:
        return Call(path={"message_id": await world.answer(name, status)}, json=json)

    return prepare


def conversation(json: Any = None) -> Prepare:
    async def prepare(world: World, role: Role) -> Call:
        return Call(path={"conversation_id": world.conversation_id}, json=json)

    return prepare


async def fresh_conversation(world: World, role: Role) -> Call:
    return Call(path={"conversation_id": (await world.turn("user"))["conversation_id"]})


def category(json: Any = None, fresh: bool = False) -> Prepare:
    async def prepare(world: World, role: Role) -> Call:
        category_id = await world.category() if fresh else world.category_id
        return Call(path={"category_id": category_id}, json=json)

    return prepare


def faq(json: Any = None, fresh: bool = False) -> Prepare:
    async def prepare(world: World, role: Role) -> Call:
        faq_id = (await world.faq())["id"] if fresh else world.faq_id
        return Call(path={"faq_id": faq_id}, json=json)

    return prepare


async def faq_slug(world: World, role: Role) -> Call:
    return Call(path={"slug": world.faq_slug})


async def new_category(world: World, role: Role) -> Call:
    return Call(json={"name": unique("Billing ")})


def suggestion(json: Any = None) -> Prepare:
    """A new pending phrasing suggestion (of `user`'s) for each case: one review each."""

    async def prepare(world: World, role: Role) -> Call:
        text = unique("how can i switch plans ")
        suggestion_id = await world.shared.db.fetchval(
            "INSERT INTO faq_phrasing_suggestions (faq_id, text, norm, user_id) VALUES ($1, $2, $2, $3) RETURNING id",
            world.faq_id,
            text,
            world.user_id("user"),
        )
        return Call(path={"suggestion_id": suggestion_id}, json=json)

    return prepare


def synonym_set(json: Any = None) -> Prepare:
    """A new synonym set for each case (one change or deletion each)."""

    async def prepare(world: World, role: Role) -> Call:
        synonym_id = await world.shared.db.fetchval(
            "INSERT INTO search_synonyms (terms) VALUES ($1) RETURNING id", [unique("parcel"), unique("package")]
        )
        return Call(path={"synonym_id": synonym_id}, json=json)

    return prepare


async def new_synonym_set(world: World, role: Role) -> Call:
    return Call(json={"language": "en", "terms": [unique("bill"), unique("invoice")]})


async def new_faq(world: World, role: Role) -> Call:
    return Call(json={"question": unique("Where is my invoice? "), "answer": "In the billing page."})


async def draft(world: World, role: Role) -> Call:
    return Call(json={"ids": [await world.unanswered()], "answer": "Not yet."})


async def import_file(world: World, role: Role) -> Call:
    faqs = [{"question": unique("Can I import? "), "answer": "Yes."}]
    return Call(params={"dry_run": "true"}, json=faqs)


def export() -> Prepare:
    async def prepare(world: World, role: Role) -> Call:
        return Call(path={"export_id": world.export_id})

    return prepare


async def failed_job(world: World, role: Role) -> Call:
    """A background job of its own that failed (the one thing a retry accepts)."""
    from saq import Status

    jobs = world.shared.runtime.jobs
    job = await jobs.enqueue("export_purge", key=f"authz:{uuid.uuid4()}", scheduled=int(time.time()) + 3600)
    assert job is not None
    await jobs.queue.finish(job, Status.FAILED, error="RuntimeError: made to fail")
    return Call(path={"key": job.key})


async def fresh_user(world: World, role: Role) -> Call:
    """A new account to act on (a force logout of the shared one would end later cases' tokens)."""
    return Call(path={"user_id": (await world.account("user"))["user"]["id"]})


async def user_message(world: World) -> int:
    """A new message of `user`'s (the one a turn stores before its answer)."""
    return int((await world.turn("user"))["user_message_id"])


async def message_to_flag(world: World, role: Role) -> Call:
    return Call(path={"message_id": await user_message(world)}, json={"category": "spam", "note": "matrix"})


async def flagged_message(world: World, role: Role) -> Call:
    """A new flagged message for each case: a message gets one review."""
    message_id = await user_message(world)
    r = await world.client.post(
        f"/api/v1/admin/moderation/messages/{message_id}/flag",
        headers=bearer(world.tokens["admin"]),
        json={"category": "spam"},
    )
    assert r.status_code == 200, r.text
    return Call(path={"message_id": message_id}, json={"decision": "dismiss"})


async def outbox_mail(world: World, role: Role) -> Call:
    email = (await world.account("user"))["user"]["email"]
    await world.client.post("/api/v1/auth/password-reset", json={"email": email})
    [mail, *_] = await mailed(world.shared.runtime.settings.outbox_dir, to=email, kind="password_reset")
    return Call(path={"mail_id": mail.id})


async def socket(world: World, role: Role) -> Call:
    return Call(path={"user_id": world.user_id("user")})


# Analytics.


async def thumbs_down(world: World, role: Role) -> Call:
    """A new conversation of `user`'s whose answer got a thumbs-down (what an admin may read)."""
    turn = await world.turn("user")
    r = await world.client.post(
        f"/api/v1/messages/{turn['message_id']}/feedback", headers=bearer(world.tokens["user"]), json={"helpful": False}
    )
    assert r.status_code == 200, r.text
    return Call(path={"conversation_id": turn["conversation_id"]})


async def analytics_of_user(world: World, role: Role) -> Call:
    return Call(path={"user_id": world.user_id("user")})


async def drill_figure(world: World, role: Role) -> Call:
    return Call(params={"figure": "thumbs_down"})


# Push subscriptions: a new browser (endpoint) each time, on a push service the server sends to.


def browser_subscription() -> dict[str, Any]:
    return Browser(f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}").subscription()


async def push_subscription_body(world: World, role: Role) -> Call:
    return Call(json=browser_subscription())


async def expo_token_body(world: World, role: Role) -> Call:
    return Call(json={"token": f"ExponentPushToken[{uuid.uuid4().hex}]"})


async def push_subscription(world: World, role: Role) -> Call:
    """A new subscription of `user`'s."""
    made = await world.as_user("POST", "/api/v1/push/subscriptions", json=browser_subscription())
    return Call(path={"subscription_id": made["id"]})


# API keys.


async def new_api_key(world: World, role: Role) -> Call:
    return Call(json={"name": unique("script "), "scopes": ["chat"]})


async def api_key(world: World, role: Role) -> Call:
    """A new key of `user`'s (one each: a revoked key stays revoked)."""
    made = await world.as_user("POST", "/api/v1/users/me/api-keys", json={"name": unique("key ")})
    return Call(path={"key_id": made["id"]})


# The OpenAI-compatible API (/v1) takes API keys, never access tokens: every role's access token
# is refused there as a key that is not one (401), as no token at all. What each role's API key
# gets is in test_an_api_key_acts_as_its_own_user_only.


def completion_request(message: str = "How do I reset my password?", **extra: Any) -> dict[str, Any]:
    return {"model": "helpline", "messages": [{"role": "user", "content": message}], **extra}


async def model_name(world: World, role: Role) -> Call:
    return Call(path={"model": "helpline"})


# Human handoff: the user's side acts on `user`'s conversations; the agents' (moderators and
# admins) on conversations handed over to a person.


async def handed_over(world: World) -> int:
    """A new conversation of `user`'s, waiting for a person."""
    conversation_id = int((await world.turn("user"))["conversation_id"])
    await world.as_user("POST", f"/api/v1/conversations/{conversation_id}/handoff", json={})
    return conversation_id


def fresh_conversation_with(json: Any = None) -> Prepare:
    """A new conversation of `user`'s (asking for a person must not hand the shared one over)."""

    async def prepare(world: World, role: Role) -> Call:
        return Call(path={"conversation_id": (await world.turn("user"))["conversation_id"]}, json=json)

    return prepare


async def seen(world: World, role: Role) -> Call:
    return Call(path={"conversation_id": world.conversation_id}, json={"up_to": await world.answer("seen")})


def waiting(json: Any = None) -> Prepare:
    """A new conversation waiting for a person (claiming, resolving and releasing change it)."""

    async def prepare(world: World, role: Role) -> Call:
        return Call(path={"conversation_id": await handed_over(world)}, json=json)

    return prepare


def claimed(json: Any = None) -> Prepare:
    """A new handed-over conversation claimed by the calling agent (an admin's for non-agents):
    only the agent who claimed it answers."""

    async def prepare(world: World, role: Role) -> Call:
        conversation_id = await handed_over(world)
        agent: Role = role if role in ("moderator", "admin") else "admin"
        path = f"/api/v1/support/conversations/{conversation_id}/claim"
        r = await world.client.post(path, headers=bearer(world.tokens[agent]))
        assert r.status_code == 200, r.text
        return Call(path={"conversation_id": conversation_id}, json=json)

    return prepare


async def canned_query(world: World, role: Role) -> Call:
    return Call(params={"q": "password"})


# The table: (method, path) -> who may call it. One line per route, for example
#     ("GET", "/api/v1/admin/audit"): admin_only(),
#     ("POST", "/api/v1/admin/moderation/{item_id}/hide"): staff(200, some_item({"reason": "spam"})),
# with a `prepare` when the route needs a body or a resource to act on.

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): public(),
    ("GET", "/health/ready"): public(),
    ("POST", "/api/v1/auth/register"): public(202, register_body),
    ("POST", "/api/v1/auth/guest"): public(201, body({})),
    ("POST", "/api/v1/auth/login"): public(200, login_body),
    ("POST", "/api/v1/auth/refresh"): public(200, refresh_body),
    ("POST", "/api/v1/auth/logout"): signed_in(204, own_login),
    ("POST", "/api/v1/auth/guest/handoff"): signed_in(201, user=403, other=403, moderator=403, admin=403),
    ("POST", "/api/v1/auth/guest/handoff/redeem"): public(200, handoff_code),
    ("POST", "/api/v1/auth/password-reset"): public(202, reset_body),
    ("POST", "/api/v1/auth/password-reset/confirm"): public(204, reset_token),
    ("POST", "/api/v1/auth/verify-email"): public(200, verify_token),
    ("POST", "/api/v1/auth/verify-email/resend"): public(202, reset_body),
    ("GET", "/api/v1/users/me"): signed_in(),
    ("DELETE", "/api/v1/users/me"): signed_in(204, erase_me, guest=403),
    ("PATCH", "/api/v1/users/me"): signed_in(200, body({"timezone": "Europe/Paris"})),
    ("POST", "/api/v1/users/me/password"): signed_in(204, change_password, guest=403),
    ("GET", "/api/v1/users/me/notifications"): signed_in(),
    ("PUT", "/api/v1/users/me/notifications"): signed_in(
        200, body({"settings": [{"channel": "push", "kind": "human_reply", "enabled": True}]}), guest=403
    ),
    ("GET", "/api/v1/users"): staff(),
    ("PATCH", "/api/v1/users/{user_id}"): admin_only(200, target_user),
    ("POST", "/api/v1/chat/send"): signed_in(200, body({"message": "Hello"})),
    ("POST", "/api/v1/chat/stream"): signed_in(200, body({"message": "Hello"})),
    ("GET", "/api/v1/chat/stream/{message_id}"): owner(200, answer("resume")),
    ("POST", "/api/v1/chat/messages/{message_id}/retry"): owner(200, answer("retry", "failed")),
    ("POST", "/api/v1/chat/messages/{message_id}/stop"): owner(200, answer("stop", "streaming")),
    ("POST", "/api/v1/messages/{message_id}/feedback"): owner(200, answer("feedback", json={"helpful": True})),
    ("GET", "/api/v1/conversations"): signed_in(),
    ("GET", "/api/v1/conversations/{conversation_id}"): owner(200, conversation()),
    ("GET", "/api/v1/conversations/{conversation_id}/export"): owner(200, conversation()),
    ("PUT", "/api/v1/conversations/{conversation_id}"): owner(200, conversation({"title": "Renamed"})),
    ("DELETE", "/api/v1/conversations/{conversation_id}"): owner(204, fresh_conversation),
    ("GET", "/api/v1/faq-categories"): public(),
    ("POST", "/api/v1/faq-categories"): staff(201, new_category),
    ("GET", "/api/v1/faq-categories/{category_id}"): public(200, category()),
    ("PUT", "/api/v1/faq-categories/{category_id}"): staff(200, category({"description": "Bills"})),
    ("DELETE", "/api/v1/faq-categories/{category_id}"): staff(204, category(fresh=True)),
    ("GET", "/api/v1/faqs"): public(),
    ("POST", "/api/v1/faqs"): staff(201, new_faq),
    ("GET", "/api/v1/faqs/search"): public(200, body(None)),
    ("GET", "/api/v1/faqs/popular"): public(200, body(None)),
    ("POST", "/api/v1/faqs/search"): public(200, body({"q": "password"})),
    ("GET", "/api/v1/faqs/export"): staff(),
    ("POST", "/api/v1/faqs/import"): staff(200, import_file),
    ("GET", "/api/v1/faq-phrasing-suggestions"): staff(),
    ("GET", "/api/v1/admin/search-synonyms"): staff(),
    ("POST", "/api/v1/admin/search-synonyms"): staff(201, new_synonym_set),
    ("PUT", "/api/v1/admin/search-synonyms/{synonym_id}"): staff(200, synonym_set({"terms": ["order", "purchase"]})),
    ("DELETE", "/api/v1/admin/search-synonyms/{synonym_id}"): staff(204, synonym_set()),
    ("POST", "/api/v1/faq-phrasing-suggestions/{suggestion_id}/approve"): staff(200, suggestion()),
    ("POST", "/api/v1/faq-phrasing-suggestions/{suggestion_id}/reject"): staff(200, suggestion()),
    ("GET", "/api/v1/faqs/unanswered"): staff(),
    ("POST", "/api/v1/faqs/unanswered/draft"): staff(201, draft),
    ("GET", "/api/v1/faqs/by-slug/{slug}"): public(200, faq_slug),
    ("GET", "/api/v1/faqs/{faq_id}"): public(200, faq()),
    ("PUT", "/api/v1/faqs/{faq_id}"): staff(200, faq({"priority": 3})),
    ("DELETE", "/api/v1/faqs/{faq_id}"): staff(204, faq(fresh=True)),
    # Without an account, one vote per device (device_id); an account's vote is its own.
    ("POST", "/api/v1/faqs/{faq_id}/vote"): public(200, faq({"helpful": True, "device_id": "device-0123456789abcdef"})),
    ("GET", "/api/v1/widget/config"): public(),
    ("GET", "/api/v1/privacy/consents"): signed_in(),
    ("PUT", "/api/v1/privacy/consents"): signed_in(200, body({"analytics": False})),
    ("POST", "/api/v1/privacy/export"): signed_in(202),
    ("GET", "/api/v1/privacy/export/{export_id}"): owner(200, export()),
    ("GET", "/api/v1/privacy/export/{export_id}/download"): owner(200, export()),
    ("DELETE", "/api/v1/admin/users/{user_id}"): admin_only(204, target_user),
    ("GET", "/api/v1/privacy/retention"): admin_only(),
    ("GET", "/api/v1/admin/users"): staff(),
    ("GET", "/api/v1/admin/users/{user_id}"): staff(200, fresh_user),
    ("PATCH", "/api/v1/admin/users/{user_id}"): admin_only(200, target_user),
    ("POST", "/api/v1/admin/users/{user_id}/logout"): admin_only(204, fresh_user),
    ("GET", "/api/v1/admin/audit"): admin_only(),
    ("GET", "/api/v1/admin/outbox"): admin_only(),
    ("GET", "/api/v1/admin/outbox/{mail_id}"): admin_only(200, outbox_mail),
    ("GET", "/api/v1/admin/jobs"): admin_only(),
    ("GET", "/api/v1/admin/jobs/{key}"): admin_only(200, failed_job),
    ("POST", "/api/v1/admin/jobs/{key}/retry"): admin_only(200, failed_job),
    ("GET", "/api/v1/admin/moderation/queue"): staff(),
    ("GET", "/api/v1/admin/moderation/categories"): staff(),
    ("POST", "/api/v1/admin/moderation/messages/{message_id}/flag"): staff(200, message_to_flag),
    ("POST", "/api/v1/admin/moderation/messages/{message_id}/review"): staff(200, flagged_message),
    ("GET", "/api/v1/analytics/dashboard"): staff(),
    ("GET", "/api/v1/analytics/conversations"): staff(),
    ("GET", "/api/v1/analytics/conversations/list"): staff(200, drill_figure),
    ("GET", "/api/v1/analytics/conversations/{conversation_id}"): admin_only(200, thumbs_down),
    ("GET", "/api/v1/analytics/user/{user_id}"): owner(200, analytics_of_user, admin=200),
    ("GET", "/api/v1/push/public-key"): public(),
    ("GET", "/api/v1/push/subscriptions"): signed_in(),
    ("POST", "/api/v1/push/subscriptions"): signed_in(201, push_subscription_body, guest=403),
    ("POST", "/api/v1/push/expo-tokens"): signed_in(201, expo_token_body, guest=403),
    ("DELETE", "/api/v1/push/subscriptions/{subscription_id}"): owner(204, push_subscription),
    ("GET", "/api/v1/users/me/api-keys"): signed_in(),
    ("POST", "/api/v1/users/me/api-keys"): signed_in(201, new_api_key, guest=403),
    ("DELETE", "/api/v1/users/me/api-keys/{key_id}"): owner(204, api_key),
    ("GET", "/api/v1/admin/api-keys"): admin_only(),
    ("POST", "/api/v1/admin/api-keys/{key_id}/revoke"): admin_only(200, api_key),
    ("POST", "/v1/chat/completions"): public(401, body(completion_request())),
    ("GET", "/v1/models"): public(401),
    ("GET", "/v1/models/{model}"): public(401, model_name),
    ("GET", "/api/v1/conversations/{conversation_id}/handoff"): owner(200, conversation()),
    ("POST", "/api/v1/conversations/{conversation_id}/handoff"): owner(200, fresh_conversation_with({})),
    ("POST", "/api/v1/conversations/{conversation_id}/handoff/seen"): owner(204, seen),
    # An event stream: on the shared conversation (no person has it) it ends after `ready`.
    ("GET", "/api/v1/conversations/{conversation_id}/events"): owner(200, conversation()),
    ("GET", "/api/v1/support/inbox"): staff(),
    ("GET", "/api/v1/support/canned"): staff(200, canned_query),
    ("GET", "/api/v1/support/conversations/{conversation_id}"): staff(200, waiting()),
    ("POST", "/api/v1/support/conversations/{conversation_id}/claim"): staff(200, waiting()),
    ("POST", "/api/v1/support/conversations/{conversation_id}/reply"): staff(201, claimed({"content": "On it."})),
    ("POST", "/api/v1/support/conversations/{conversation_id}/notes"): staff(201, waiting({"body": "Refund?"})),
    ("POST", "/api/v1/support/conversations/{conversation_id}/resolve"): staff(200, claimed()),
    ("POST", "/api/v1/support/conversations/{conversation_id}/release"): staff(200, claimed()),
    (WS, "/api/v1/chat/ws/{user_id}"): owner(OPEN, socket, denied=4403, anonymous=4401),
}

# Query strings some routes need to be called at all.
QUERIES: dict[tuple[str, str], dict[str, str]] = {("GET", "/api/v1/faqs/search"): {"q": "password"}}


def websocket_paths(routes: list[Any], prefix: str = "") -> list[str]:
    """WebSocket routes, through the routers FastAPI includes lazily."""
    found = []
    for route in routes:
        if isinstance(route, WebSocketRoute):
            found.append(prefix + route.path)
        included = getattr(route, "original_router", None)
        if included is not None:
            found += websocket_paths(included.routes, prefix + route.include_context.prefix)
    return found


def documented_routes() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every operation of the OpenAPI document and every WebSocket route; those with a JSON body."""
    app = create_app(make_settings("postgresql+asyncpg://postgres@/unused?host=/tmp", Path(tempfile.gettempdir())))
    paths = app.openapi()["paths"]
    found = [(m.upper(), p) for p, ops in paths.items() for m in ops]
    found += [(WS, path) for path in websocket_paths(app.routes)]
    with_json = [
        (m.upper(), p)
        for p, ops in paths.items()
        for m, op in ops.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    return sorted(found, key=lambda k: (k[1], k[0])), sorted(with_json, key=lambda k: (k[1], k[0]))


ROUTES, JSON_ROUTES = documented_routes()


async def test_every_rule_names_a_route_that_exists() -> None:
    stale = sorted(set(RULES) - set(ROUTES))
    assert not stale, f"RULES has entries for routes the app no longer has: {stale}"


async def call_socket(world: World, role: Role, call: Call) -> int:
    """OPEN if the socket was accepted and answers a ping, else the server's close code."""
    url = f"ws://{world.shared.server}/api/v1/chat/ws/{call.path['user_id']}"
    token = call.token if call.own_token else world.token(role)
    try:
        async with websockets.connect(url) as ws:
            if token is not None:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert reply["type"] == "authenticated", reply
            await ws.send(json.dumps({"type": "ping"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else 1006  # 1006: closed without a close frame
    assert reply == {"type": "pong"}, reply
    return OPEN


async def call_route(
    world: World, method: str, path: str, role: Role, change: Callable[[Call], None] | None = None
) -> tuple[int, str]:
    rule = RULES[(method, path)]
    call = await rule.prepare(world, role)
    if change is not None:
        change(call)
    if method == WS:
        return await call_socket(world, role, call), ""
    token = call.token if call.own_token else world.token(role)
    headers = {**call.headers, **(bearer(token) if token else {})}
    url = path.format(**call.path)
    params = {**QUERIES.get((method, path), {}), **call.params}
    r = await world.client.request(method, url, headers=headers, params=params, json=call.json, content=call.content)
    return r.status_code, r.text[:300]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_route_answers_each_role_as_the_table_says(world: World, method: str, path: str) -> None:
    rule = RULES.get((method, path))
    if rule is None:
        pytest.fail(f"{method} {path} is not in tests/security/test_authorization.py RULES: say who may call it")
    wrong = []
    for role in ROLES:
        got, text = await call_route(world, method, path, role)
        if got != rule.expect[role]:
            wrong.append(f"{role}: expected {rule.expect[role]}, got {got} {text}")
    assert not wrong, f"{method} {path}\n  " + "\n  ".join(wrong)


# -- references to somebody else's things inside a request, and fields nobody may set


async def test_chat_requests_cannot_reach_another_users_conversation_or_answer(world: World) -> None:
    answer_id = await world.answer("cross-owner")
    count = "SELECT count(*) FROM messages WHERE conversation_id = $1"
    before = await world.shared.db.fetchval(count, world.conversation_id)
    for role in ("other", "guest", "moderator", "admin"):
        auth = bearer(world.tokens[role])
        for path in ("/api/v1/chat/send", "/api/v1/chat/stream"):
            body = {"message": "Let me in", "conversation_id": world.conversation_id}
            r = await world.client.post(path, headers=auth, json=body)
            assert r.status_code == 404, (role, path, r.text)
        # Resuming another user's answer's stream by its event id.
        headers = {**auth, "Last-Event-ID": f"{answer_id}:0"}
        r = await world.client.post("/api/v1/chat/stream", headers=headers, json={"message": "x"})
        assert r.status_code == 404, (role, r.text)
        r = await world.client.get(f"/api/v1/chat/stream/{answer_id}", params={"last_event_id": f"{answer_id}:0"})
        assert r.status_code == 401
        # The same over the WebSocket: an error frame, nothing stored, nothing stopped.
        url = f"ws://{world.shared.server}/api/v1/chat/ws/{world.user_id(role)}?token={world.token(role)}"
        async with websockets.connect(url) as ws:
            frames = [
                {"type": "message", "content": "Let me in", "conversation_id": world.conversation_id},
                {"type": "stop", "message_id": answer_id},
            ]
            for frame in frames:
                await ws.send(json.dumps(frame))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (reply["type"], reply["code"]) == ("error", "not_found"), (role, frame, reply)
    assert await world.shared.db.fetchval(count, world.conversation_id) == before


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/users/me", {"role": "admin"}),
        ("/api/v1/users/me", {"status": "active"}),
        ("/api/v1/users/me", {"is_guest": False}),
        ("/api/v1/users/me", {"id": 1}),
        ("/api/v1/users/me", {"hashed_password": "x"}),
        ("/api/v1/auth/register", {"role": "admin"}),
        ("/api/v1/auth/register", {"is_guest": True}),
        ("/api/v1/auth/register", {"status": "active"}),
    ],
)
async def test_nobody_sets_their_own_role_or_status(world: World, path: str, field: dict[str, Any]) -> None:
    admins = "SELECT count(*) FROM users WHERE role = 'admin'"
    before = await world.shared.db.fetchval(admins)
    if path == "/api/v1/auth/register":
        body = {"email": f"{unique('climber')}@example.com", "password": PASSWORD, "data_processing_consent": True}
        r = await world.client.post(path, json={**body, **field})
    else:
        r = await world.client.patch(path, headers=bearer(world.tokens["user"]), json=field)
    assert r.status_code == 422, r.text
    assert await world.shared.db.fetchval(admins) == before


async def test_draft_faqs_stay_with_staff(world: World) -> None:
    draft = await world.faq(status="draft")
    for role in ROLES:
        auth = bearer(world.tokens[role]) if role != "anonymous" else {}
        staff_role = role in ("moderator", "admin")
        r = await world.client.get(f"/api/v1/faqs/{draft['id']}", headers=auth)
        assert r.status_code == (200 if staff_role else 404), (role, r.text)
        r = await world.client.get(f"/api/v1/faqs/by-slug/{draft['slug']}", headers=auth)
        assert r.status_code == (200 if staff_role else 404), (role, r.text)
        r = await world.client.get("/api/v1/faqs", headers=auth, params={"status": "draft", "limit": 100})
        ids = [f["id"] for f in r.json()["items"]] if r.status_code == 200 else []
        assert (draft["id"] in ids) == staff_role, (role, r.status_code)
        r = await world.client.post(
            "/api/v1/faqs/search", headers=auth, json={"q": draft["question"], "status": "draft"}
        )
        ids = [h["id"] for h in r.json()["items"]] if r.status_code == 200 else []
        assert staff_role or draft["id"] not in ids, role
        r = await world.client.post(f"/api/v1/faqs/{draft['id']}/vote", headers=auth, json={"helpful": True})
        assert r.status_code in ((200,) if staff_role else (400, 404)), (role, r.text)
    r = await world.client.get(f"/help/{draft['slug']}")
    assert r.status_code == 404


async def key_of(world: World, role: Role, scopes: tuple[str, ...] = ("chat",)) -> dict[str, str]:
    """A new API key of the role's account, as the Authorization header of a /v1 request."""
    made = await world.as_role(role, "POST", "/api/v1/users/me/api-keys", json={"name": "m", "scopes": list(scopes)})
    return {"Authorization": f"Bearer {made['key']}"}


async def owner_of_conversation(world: World, conversation_id: int) -> int:
    return int(await world.shared.db.fetchval("SELECT user_id FROM conversations WHERE id = $1", conversation_id))


async def extra_fields_on_a_push_subscription(world: World, extra: dict[str, Any]) -> None:
    """A browser's PushSubscription.toJSON() may grow fields: unknown ones are ignored, not
    refused; none of them makes the subscription somebody else's."""
    r = await world.client.post(
        "/api/v1/push/subscriptions", headers=bearer(world.tokens["user"]), json={**browser_subscription(), **extra}
    )
    assert r.status_code == 201, r.text
    owner = await world.shared.db.fetchval("SELECT user_id FROM push_subscriptions WHERE id = $1", r.json()["id"])
    assert owner == world.user_id("user")


async def extra_fields_on_a_completion(world: World, extra: dict[str, Any]) -> None:
    """OpenAI's API takes fields it does not use (temperature, tools, user, ...), so this one
    does too (with an API key: the route takes no access token); none of them makes the
    conversation somebody else's. The `helpline` extension itself refuses unknown fields."""
    key = await key_of(world, "user")
    r = await world.client.post("/v1/chat/completions", headers=key, json=completion_request(**extra))
    assert r.status_code == 200, r.text
    conversation_id = r.json()["helpline"]["conversation_id"]
    assert await owner_of_conversation(world, conversation_id) == world.user_id("user")
    body = completion_request(helpline={"conversation_id": conversation_id, **extra})
    r = await world.client.post("/v1/chat/completions", headers=key, json=body)
    assert r.status_code in (400, 422), r.text


# Bodies that take unknown fields by design (they follow another party's format).
LENIENT_BODIES: dict[str, Callable[[World, dict[str, Any]], Awaitable[None]]] = {
    "/api/v1/push/subscriptions": extra_fields_on_a_push_subscription,
    "/v1/chat/completions": extra_fields_on_a_completion,
}


async def test_an_api_key_acts_as_its_own_user_only(world: World) -> None:
    """The /v1 API with each role's API key: every key gets the models and its own
    conversations, never `user`'s; a key without the chat scope is refused; a key is no access
    token, nor an access token a key (a guest has no key: POST /api/v1/users/me/api-keys)."""
    for role in ("user", "other", "moderator", "admin"):
        key = await key_of(world, role)
        r = await world.client.get("/v1/models", headers=key)
        assert r.status_code == 200, (role, r.text)
        assert (await world.client.get("/v1/models/helpline", headers=key)).status_code == 200, role
        body = completion_request(helpline={"conversation_id": world.conversation_id})
        r = await world.client.post("/v1/chat/completions", headers=key, json=body)
        assert r.status_code == (200 if role == "user" else 404), (role, r.text)
        r = await world.client.post("/v1/chat/completions", headers=key, json=completion_request())
        assert r.status_code == 200, (role, r.text)
        assert await owner_of_conversation(world, r.json()["helpline"]["conversation_id"]) == world.user_id(role)
        assert (await world.client.get("/api/v1/users/me", headers=key)).status_code == 401, role
        search_only = await key_of(world, role, ("search",))
        assert (await world.client.get("/v1/models", headers=search_only)).status_code == 403, role
    admin_read = await world.client.post(
        "/api/v1/users/me/api-keys",
        headers=bearer(world.tokens["user"]),
        json={"name": "climber", "scopes": ["admin_read"]},
    )
    assert admin_read.status_code == 403, admin_read.text


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=[f"{m} {p}" for m, p in JSON_ROUTES])
async def test_a_body_with_fields_the_route_does_not_take_is_refused(world: World, method: str, path: str) -> None:
    """Mass assignment: an allowed caller's valid body, plus an owner and a role, is a 422."""
    rule = RULES[(method, path)]
    extra = {"user_id": world.user_id("other"), "role": "admin", "is_guest": False}
    if path in LENIENT_BODIES:
        await LENIENT_BODIES[path](world, extra)
        return
    candidates: tuple[Role, ...] = ("user", "guest", "admin", "anonymous")
    role = next(r for r in candidates if 200 <= rule.expect[r] < 300)

    def add_fields(call: Call) -> None:
        if isinstance(call.json, dict):
            call.json = {**call.json, **extra}
        elif call.json is None and method != "GET":
            call.json = extra

    status, text = await call_route(world, method, path, role, add_fields)
    if method == "POST" and path == "/api/v1/faqs/import":
        assert status < 500, text  # a file: its rows' unknown columns are reported, not refused
        return
    assert status == 422, (role, status, text)
