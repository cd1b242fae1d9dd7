"""The load suite's short version (`python -m bench.load` is the long one, `make load`): a few
users chat over REST, SSE and WebSocket through nginx to two instances while instance A is
killed (SIGKILL) and then the model answers 500s. What users would notice is checked, never
timings: no turn hangs, the other instance serves while one is down, answers cut off are resumed
and settled, answers end failed with the reason while the model is down, and turns succeed
again after each fault; then every accepted message is in the database exactly once and no
answer is left streaming (bench/load/ledger.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bench.load.run import Options, print_report, run

from tests.cluster.launcher import NGINX, REDIS_SERVER
from tests.conftest import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def test_no_message_is_lost_and_faults_behave_under_load(pg_server: PgServer, tmp_path: Path) -> None:
    if NGINX is None or REDIS_SERVER is None:
        pytest.skip("nginx and redis-server are needed: `make nginx` installs Debian's nginx")
    database = asyncio.run(pg_server.create_database())
    try:
        opts = Options(
            users=6,
            seconds=8.0,
            faults=("kill", "upstream_500"),
            fault_seconds=3.0,
            think_s=0.5,
            settle_s=90.0,  # a killed instance's answer no client resumed: the every-minute sweep
            root=tmp_path,
            database_url=pg_server.url(database),
        )
        report = run(opts)
    finally:
        asyncio.run(pg_server.drop_database(database))
    print_report(report, opts.users)  # shown when the test fails
    assert not report.setup_errors
    assert report.ledger is not None
    assert report.ledger.accepted > 0
    assert report.ledger.ok, report.ledger.lines()
    assert [f.name for f in report.faults] == ["kill", "upstream_500"]
    for fault in report.faults:
        failed = [f"{c.name}: {c.detail}" for c in fault.checks if not c.passed and not c.timing]
        assert not failed, (fault.name, failed, fault.figures)
