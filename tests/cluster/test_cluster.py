"""Two Helpline instances behind nginx, sharing PostgreSQL and Redis, with a worker (conftest.py):
what a user of a cluster notices. An answer started on one instance reaches the user's sockets on
the other, and a stop sent there stops it; the API's limits count both instances' requests once;
an answer's event stream resumes on the other instance; an instance told to stop (SIGTERM)
finishes its answer and tells its sockets to reconnect; an instance killed mid-answer loses no
stored message, and the answer is settled and retried on the other one, without duplicates."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.chat.test_stream import parse_sse
from tests.cluster.conftest import API_LIMIT, Cluster, User, close_code, frames_until, recv
from tests.cluster.fake_llm import HELD_AFTER, answer_for

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


async def sse(response: httpx.Response | AsyncIterator[str], until: int | None = None) -> list[dict[str, Any]]:
    """The stream's events (from a response, or its lines read on from an earlier call), up to
    ``until`` tokens or its end."""
    lines: list[str] = []
    try:
        async for line in response.aiter_lines() if isinstance(response, httpx.Response) else response:
            lines.append(line)
            if line == "" and until is not None and sum(1 for e in parse_sse(lines) if e["event"] == "token") >= until:
                break
    except httpx.RemoteProtocolError:
        pass  # the connection dropped: the stream ends here for the client, which resumes
    return parse_sse([*lines, ""])


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["content"] for e in events if e["event"] == "token")


async def conversation(cluster: Cluster, user: User, conversation_id: int) -> list[dict[str, Any]]:
    """The stored messages, read through nginx."""
    async with cluster.client(token=user.token) as http:
        r = await http.get(f"/api/v1/conversations/{conversation_id}")
        assert r.status_code == 200, r.text
        messages: list[dict[str, Any]] = r.json()["messages"]
        return sorted(messages, key=lambda m: m["id"])


async def test_an_answer_started_on_a_reaches_the_socket_on_b_and_a_stop_from_b_stops_it(cluster: Cluster) -> None:
    cluster.ensure_running()
    user = await cluster.user()
    async with cluster.socket(user, cluster.a) as tab_a, cluster.socket(user, cluster.b) as tab_b:
        # A whole answer: the second tab, on the other instance, gets every event once, in order.
        question = "Where is my parcel?"
        await tab_a.send(json.dumps({"type": "message", "content": question}))
        ack = await recv(tab_a)
        assert ack["type"] == "ack"
        on_b = await frames_until(tab_b, "response")
        assert [f["seq"] for f in on_b] == list(range(1, len(on_b) + 1))
        assert {f["message_id"] for f in on_b} == {ack["message_id"]}
        tokens = "".join(f["content"] for f in on_b if f["type"] == "token")
        assert tokens == on_b[-1]["content"] == answer_for(question)
        assert (await frames_until(tab_a, "response"))[-1]["content"] == answer_for(question)

        # Held after its first words: the Stop button pressed in the tab on B stops it on A.
        await tab_a.send(json.dumps({"type": "message", "content": "Track it please hold:stopme",
                                     "conversation_id": ack["conversation_id"]}))  # fmt: skip
        held = (await recv(tab_a))["message_id"]
        got: list[dict[str, Any]] = []
        while sum(1 for f in got if f["type"] == "token") < HELD_AFTER:
            got.append(await recv(tab_b))
        await tab_b.send(json.dumps({"type": "stop", "message_id": held}))
        final_b = (await frames_until(tab_b, "response"))[-1]
        final_a = (await frames_until(tab_a, "response"))[-1]
        for final in (final_a, final_b):
            assert final["message_id"] == held
            assert final["stopped"] is True
            assert final["content"] == "".join(f["content"] for f in got if f["type"] == "token")
    cluster.llm.release("stopme")
    stored = await conversation(cluster, user, ack["conversation_id"])
    assert [(m["message_type"], m["status"]) for m in stored] == [
        ("user", "sent"), ("assistant", "sent"), ("user", "sent"), ("assistant", "sent"),
    ]  # fmt: skip
    assert stored[3]["metadata"]["stopped"] is True


async def test_api_limits_count_both_instances_requests_once(cluster: Cluster) -> None:
    cluster.ensure_running()
    user = await cluster.user()
    remaining: list[int] = []
    async with cluster.client(cluster.a, user.token) as on_a, cluster.client(cluster.b, user.token) as on_b:
        for i in range(API_LIMIT):
            r = await (on_a if i % 2 == 0 else on_b).get("/api/v1/users/me")
            assert r.status_code == 200, r.text
            assert r.headers["RateLimit-Limit"] == str(API_LIMIT)
            remaining.append(int(r.headers["RateLimit-Remaining"]))
        assert remaining == list(range(API_LIMIT - 1, -1, -1))  # one count for both
        for http in (on_a, on_b):
            refused = await http.get("/api/v1/users/me")
            assert refused.status_code == 429
            assert refused.json()["error"] == "rate_limited"
            assert refused.headers["RateLimit-Remaining"] == "0"
            assert 0 < int(refused.headers["Retry-After"]) <= 60
    async with cluster.client(token=user.token) as front:  # and through nginx, whichever serves it
        assert (await front.get("/api/v1/users/me")).status_code == 429


async def test_an_event_stream_resumes_on_the_other_instance(cluster: Cluster) -> None:
    cluster.ensure_running()
    user = await cluster.user()
    question = "How do refunds work? hold:resume"
    async with (
        cluster.client(cluster.a, user.token) as on_a,
        on_a.stream("POST", "/api/v1/chat/stream", json={"message": question}) as r,
    ):
        assert r.status_code == 200
        first = await sse(r, until=HELD_AFTER)  # then the connection drops
    last_id = first[-1]["id"]
    message_id = first[-1]["data"]["message_id"]
    async with cluster.client(cluster.b, user.token) as on_b:
        resume = on_b.stream("GET", f"/api/v1/chat/stream/{message_id}", headers={"Last-Event-ID": last_id})
        async with resume as r:
            assert r.status_code == 200
            cluster.llm.release("resume")
            rest = await sse(r)
    seqs = [int(e["id"].split(":")[1]) for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, nothing twice
    assert rest[-1]["event"] == "response"
    assert text_of(first + rest) == rest[-1]["data"]["content"] == answer_for(question)


async def test_the_worker_runs_what_an_instance_queued(cluster: Cluster) -> None:
    cluster.ensure_running()
    user = await cluster.user()
    async with cluster.client(token=user.token) as front:
        r = await front.post("/api/v1/privacy/export")
        assert r.status_code == 202, r.text
        export = r.json()
        async with asyncio.timeout(60):
            while export["status"] not in ("done", "failed"):
                await asyncio.sleep(0.2)
                export = (await front.get(f"/api/v1/privacy/export/{export['id']}")).json()
    assert export["status"] == "done"
    async with cluster.client(cluster.b, user.token) as on_b:  # written by the worker, served by B
        archive = await on_b.get(export["download_url"])
        assert archive.status_code == 200
        assert archive.content[:2] == b"PK"


async def test_an_instance_told_to_stop_finishes_its_answer_and_sends_its_sockets_elsewhere(cluster: Cluster) -> None:
    cluster.ensure_running()
    user = await cluster.user()
    question = "Can I change the address? hold:drain"
    async with (
        cluster.socket(user, cluster.a) as tab_a,
        cluster.socket(user, cluster.b) as tab_b,
        cluster.client(cluster.a, user.token) as on_a,
    ):
        async with on_a.stream("POST", "/api/v1/chat/stream", json={"message": question}) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            first = await sse(lines, until=HELD_AFTER)
            cluster.a.signal(signal.SIGTERM)  # mid-answer: the model is still writing it
            first += await sse(lines)  # the stream ends: the client is to resume elsewhere
        assert first[-1]["event"] == "token"
        # A's socket is closed with 1012 (service restart): the client reconnects, through nginx.
        assert await close_code(tab_a) == 1012  # after the frames sent before
        async with cluster.socket(user) as tab_again, cluster.client(token=user.token) as front:
            resume = front.stream(
                "GET", f"/api/v1/chat/stream/{first[-1]['data']['message_id']}",
                headers={"Last-Event-ID": first[-1]["id"]},
            )  # fmt: skip
            async with resume as r:
                assert r.status_code == 200
                cluster.llm.release("drain")  # A, stopping, finishes the answer it was writing
                rest = await sse(r)
            assert (await frames_until(tab_again, "response"))[-1]["content"] == answer_for(question)
        assert (await frames_until(tab_b, "response"))[-1]["content"] == answer_for(question)
    assert text_of(first + rest) == rest[-1]["data"]["content"] == answer_for(question)
    seqs = [int(e["id"].split(":")[1]) for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    # A clean stop; uvicorn ends one by raising the signal again, as a process stopped by it.
    assert await asyncio.to_thread(cluster.a.wait, 30) in (0, -signal.SIGTERM)
    stored = await conversation(cluster, user, rest[-1]["data"]["conversation_id"])
    assert [(m["message_type"], m["status"], m["content"]) for m in stored] == [
        ("user", "sent", question),
        ("assistant", "sent", answer_for(question)),
    ]


async def test_an_instance_killed_mid_answer_loses_no_stored_message(cluster: Cluster) -> None:
    cluster.ensure_running()
    user = await cluster.user()
    question = "Is my parcel insured? hold:kill"
    async with cluster.socket(user, cluster.a) as tab:
        await tab.send(json.dumps({"type": "message", "content": question}))
        ack = await recv(tab)
        got: list[dict[str, Any]] = []
        while sum(1 for f in got if f["type"] == "token") < HELD_AFTER:
            got.append(await recv(tab))
        cluster.a.signal(signal.SIGKILL)
        with pytest.raises(ConnectionClosed):
            await recv(tab)
    assert cluster.a.wait() == -signal.SIGKILL
    message_id, conversation_id = ack["message_id"], ack["conversation_id"]
    async with cluster.socket(user) as tab, cluster.client(token=user.token) as front:  # reconnected: to B
        # The client resumes the answer it was reading: nobody will finish it, so it is settled
        # (its instance stopped beating) as failed and retryable, not left "streaming".
        last = f"{message_id}:{got[-1]['seq']}"
        resume = front.stream("GET", f"/api/v1/chat/stream/{message_id}", headers={"Last-Event-ID": last})
        async with asyncio.timeout(20), resume as r:
            assert r.status_code == 200
            rest = await sse(r)
        assert [e["event"] for e in rest] == ["error"]
        assert rest[0]["data"]["status"] == "failed"
        stored = await conversation(cluster, user, conversation_id)
        assert [(m["id"], m["message_type"], m["status"]) for m in stored] == [
            (ack["user_message_id"], "user", "sent"),
            (message_id, "assistant", "failed"),
        ]
        assert stored[0]["content"] == question
        # Retried on the instance left: the same answer, now whole; the socket gets it too.
        cluster.llm.release("kill")
        retried = await front.post(f"/api/v1/chat/messages/{message_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["content"] == answer_for(question)
        assert (await frames_until(tab, "response"))[-1]["message_id"] == message_id
    stored = await conversation(cluster, user, conversation_id)
    assert [(m["id"], m["message_type"], m["status"], m["content"]) for m in stored] == [
        (ack["user_message_id"], "user", "sent", question),
        (message_id, "assistant", "sent", answer_for(question)),
    ]
