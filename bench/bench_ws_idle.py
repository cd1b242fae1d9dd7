"""Idle chat WebSockets on one Helpline instance: the server's memory (RSS) with N sockets open,
authenticated and idle, against the floor of a bare FastAPI app under uvicorn holding the same
number (bench/_bare_ws_app.py), measured in the same run with the same client.

Each socket is the real thing: ``WS /api/v1/chat/ws/{user_id}?token=...`` (token checked, the
account loaded from PostgreSQL, a bounded listener queue in the hub, its sender, receiver and
token-expiry tasks), confirmed open by a ping answered with a pong. The sockets are spread over
``--users`` accounts (``HELPLINE_WS_MAX_SOCKETS_PER_USER`` raised to fit) and opened by
``--clients`` client processes (the ``websockets`` library, asyncio, 200 handshakes at a time).

The file-descriptor limit is raised to its hard limit for this process and the servers it starts
(each socket is one descriptor on each side). Target (issue 20): 10,000 idle sockets under 1 GiB.

Run: ``uv run python bench/bench_ws_idle.py [--sockets 10000] [--users 50] [--clients 4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchError,
    bare_server,
    helpline_server,
    install_signal_handlers,
    register_and_login,
)

MIB = 1024 * 1024
HANDSHAKES_AT_ONCE = 200


def raise_fd_limit() -> int:
    """``ulimit -n`` up to the hard limit, for this process and the servers and clients it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the client processes --------------------------------------------------------------------


async def _client(urls: list[str]) -> None:
    """Open every socket (ping, pong), say how many, then hold them until stdin closes."""
    import websockets

    held = []
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    failed = 0

    async def one(url: str) -> None:
        nonlocal failed
        async with gate:
            try:
                ws = await websockets.connect(url, proxy=None, open_timeout=60, ping_interval=None, max_queue=4)
                await ws.send(json.dumps({"type": "ping"}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if reply.get("type") != "pong":
                    raise RuntimeError(f"not a pong: {reply}")
                held.append(ws)
            except Exception as exc:
                failed += 1
                if failed <= 3:
                    print(f"error {exc!r}"[:300], file=sys.stderr, flush=True)

    await asyncio.gather(*(one(url) for url in urls))
    print(f"open {len(held)} failed {failed}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)


def open_sockets(urls: list[str], clients: int) -> tuple[list[subprocess.Popen[str]], int, float]:
    """Start the client processes; wait until each has opened its share. (procs, opened, seconds)"""
    started = time.perf_counter()
    procs = []
    for i in range(clients):
        share = urls[i::clients]
        proc = subprocess.Popen(
            [sys.executable, __file__, "--client-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(share) + "\n")
        proc.stdin.flush()
        procs.append(proc)
    opened = 0
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) < 4 or line[0] != "open":
            raise BenchError(f"a client process failed: {line}")
        opened += int(line[1])
        if int(line[3]):
            print(f"  {line[3]} sockets failed to open in one client", file=sys.stderr)
    return procs, opened, time.perf_counter() - started


def close_sockets(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.close()
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def client_main() -> None:
    urls = json.loads(sys.stdin.readline())
    raise_fd_limit()
    asyncio.run(_client(urls))


# -- measuring -------------------------------------------------------------------------------


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def settle_rss(pid: int, seconds: float = 3.0) -> int:
    """RSS once it has stopped growing (sampled every 0.5 s for ``seconds``): the largest sample."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss(pid))
        time.sleep(0.5)
    return max(samples)


def measure(label: str, pid: int, urls: list[str], clients: int) -> dict[str, float]:
    # One socket first: the code paths are warm (imports, pools) before the baseline is taken.
    procs, opened, _ = open_sockets(urls[:1], 1)
    close_sockets(procs)
    before = settle_rss(pid)
    procs, opened, seconds = open_sockets(urls, clients)
    try:
        after = settle_rss(pid)
        fds = psutil.Process(pid).num_fds()
    finally:
        close_sockets(procs)
    per_socket = (after - before) / max(1, opened)
    print(
        f"  {label}: {opened:,} sockets open in {seconds:.1f} s; RSS {before / MIB:.0f} MiB before, "
        f"{after / MIB:.0f} MiB with them open ({fds:,} descriptors); {per_socket / 1024:.1f} KiB a socket",
        flush=True,
    )
    return {"opened": opened, "before": before, "after": after, "per_socket": per_socket, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4, help="client processes opening the sockets")
    args = parser.parse_args()
    install_signal_handlers()
    limit = raise_fd_limit()
    need = args.sockets + 512
    if limit < need:
        raise SystemExit(f"the descriptor limit is {limit}: {need} are needed (raise the hard limit: ulimit -Hn)")
    per_user = -(-args.sockets // args.users)
    caps = str(args.sockets * 2)
    print(f"{args.sockets:,} idle WebSockets over {args.users} users, {args.clients} client processes "
          f"(descriptor limit {limit:,})", flush=True)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="helpline-bench-ws-"))

    # Without permessage-deflate, as `helpline serve` runs uvicorn (core/server.py): the same
    # WebSocket implementation and options, nothing of Helpline's.
    floor_args = ["--ws-per-message-deflate", "false"]
    with bare_server(
        workdir, app="bench._bare_ws_app:app", label="bare FastAPI WebSocket app", uvicorn_args=floor_args
    ) as bare:
        host = bare.base.removeprefix("http://")
        floor = measure("bare", bare.pid, [f"ws://{host}/ws/{i}" for i in range(args.sockets)], args.clients)

    settings = {
        "HELPLINE_DEMO_DATA": "false",
        "HELPLINE_LLM_PROVIDER": "fake",
        "HELPLINE_EMBEDDING_PROVIDER": "fake",
        "HELPLINE_MODERATION_PROVIDER": "off",
        "HELPLINE_SEARCH_RERANK": "off",
        "HELPLINE_GUARD_ENABLED": "false",
        "HELPLINE_AUTH_BCRYPT_ROUNDS": "4",
        "HELPLINE_AUTH_REGISTER_LIMIT_PER_IP": "100000/hour",
        "HELPLINE_SERVER_MAX_CONNECTIONS": caps,
        "HELPLINE_SERVER_MAX_CONNECTIONS_PER_IP": caps,
        "HELPLINE_WS_MAX_UNAUTHENTICATED": caps,
        "HELPLINE_WS_MAX_UNAUTHENTICATED_PER_IP": caps,
        "HELPLINE_WS_MAX_SOCKETS_PER_USER": str(per_user),
    }
    with helpline_server("Helpline", settings) as server:
        users = []
        for i in range(args.users):
            token = register_and_login(server.base, email=f"ws{i}@example.com")
            users.append(token)
        host = server.base.removeprefix("http://")
        import jwt  # the user id is the token's subject

        urls = []
        for i in range(args.sockets):
            token = users[i % args.users]
            uid = jwt.decode(token, options={"verify_signature": False})["sub"]
            urls.append(f"ws://{host}/api/v1/chat/ws/{uid}?token={token}")
        helpline = measure("Helpline", server.pid, urls, args.clients)

    print()
    print("| idle WebSockets | sockets | RSS before | RSS with them open | per socket |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in (("bare FastAPI + uvicorn (floor)", floor), ("Helpline chat socket", helpline)):
        print(f"| {name} | {int(r['opened']):,} | {r['before'] / MIB:.0f} MiB | {r['after'] / MIB:.0f} MiB "
              f"| {r['per_socket'] / 1024:.1f} KiB |")  # fmt: skip
    ratio = helpline["per_socket"] / max(1.0, floor["per_socket"])
    verdict = "met" if helpline["after"] < 1024 * MIB else "MISSED"
    print(f"\nHelpline per socket: {ratio:.1f}x the floor's. Target under 1 GiB RSS with "
          f"{int(helpline['opened']):,} sockets: {verdict} ({helpline['after'] / MIB:.0f} MiB).")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:] == ["--client-worker"]:
        client_main()
    else:
        main()
