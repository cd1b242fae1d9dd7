"""`helpline worker` as a process of its own: it runs what the app queued, counts it on its own
/metrics (behind the metrics token), then stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import httpx
import pytest

from helpline.core.runtime import Runtime
from tests.chat.fakes import FakeProvider, KeywordModerator
from tests.cluster.launcher import HELPLINE, base_env, free_port
from tests.jobs.conftest import jobs_settings
from tests.privacy.conftest import eventually

pytestmark = pytest.mark.slow


async def test_a_separate_worker_runs_the_queued_jobs(
    database_url: str, tmp_path: Path, backend: str, redis_db: object
) -> None:
    settings = jobs_settings(database_url, tmp_path, backend)
    # The app's side: it queues, and runs no worker of its own (HELPLINE_JOBS_IN_SERVER=false).
    runtime = Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())
    port = free_port()
    env = base_env(
        tmp_path / "worker",
        HELPLINE_DATABASE_URL=database_url,
        HELPLINE_LLM_PROVIDER="fake",
        HELPLINE_METRICS_TOKEN="worker-metrics-token",
    )
    if backend == "redis":
        assert settings.redis.url is not None
        env["HELPLINE_REDIS_URL"] = settings.redis.url
    proc = await asyncio.create_subprocess_exec(
        HELPLINE,
        "worker",
        "--no-migrate",
        "--no-schedules",
        "--metrics-port",
        str(port),
        env=env,
        stdout=PIPE,
        stderr=STDOUT,
    )
    try:
        job = await runtime.jobs.enqueue("export_purge", key="purge:by-the-worker")
        assert job is not None

        async def done() -> bool:
            assert proc.returncode is None, "the worker exited"
            found = await runtime.jobs.queue.job("purge:by-the-worker")
            return found is not None and found.status.value == "complete"

        try:
            await eventually(done, timeout=90)  # the process imports and connects first
        except AssertionError:
            found = await runtime.jobs.queue.job("purge:by-the-worker")
            proc.kill()
            out, _ = await proc.communicate()
            raise AssertionError(f"job: {found and found.to_dict()}; worker said: {out.decode()[-2000:]}") from None
        metrics = f"http://127.0.0.1:{port}/metrics"
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(metrics)).status_code == 401
            scraped = await client.get(metrics, headers={"Authorization": "Bearer worker-metrics-token"})
            assert scraped.status_code == 200
            assert 'jobs_processed_total{function="export_purge"} 1.0' in scraped.text
            assert (await client.get(metrics.replace("/metrics", "/"))).status_code == 404
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        output = out.decode()
        assert proc.returncode == 0, output
        assert f"Helpline worker on the {backend} queue" in output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await runtime.close()
