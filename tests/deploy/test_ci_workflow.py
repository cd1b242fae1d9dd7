""".github/workflows/ci.yml, checked offline against GitHub's workflow schema (vendored by
check-jsonschema) and against .ci/run, which it mirrors."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import yaml

from tests.deploy.tools import DEPLOY, ROOT, tool

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def workflow() -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); the schema check below reads it as GitHub does.
    doc: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return doc


def test_workflow_matches_githubs_schema() -> None:
    r = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_it_runs_what_ci_runs() -> None:
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci_run, re.M)
    job = workflow()["jobs"]["test"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "make test" in runs
    # .ci/run's Redis, as a service container the tests reach through HELPLINE_TEST_REDIS_URL.
    assert job["services"]["redis"]["image"].startswith("redis:7.")
    assert job["env"]["HELPLINE_TEST_REDIS_URL"].startswith("redis://redis:6379/")
    assert job["services"]["postgres"]["image"].startswith("pgvector/pgvector:")
    assert job["container"]["image"].endswith("-bookworm")  # Debian 12, as the machines


def test_images_match_the_compose_stack_and_are_pinned() -> None:
    stack = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    services = workflow()["jobs"]["test"]["services"]
    assert services["postgres"]["image"] == stack["postgres"]["image"]
    assert services["redis"]["image"] == stack["redis"]["image"]
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", step["uses"]), step["uses"]


def test_the_image_job_builds_both_targets() -> None:
    job = workflow()["jobs"]["image"]
    assert set(job["strategy"]["matrix"]["target"]) == {"api", "full"}
    build = next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["file"] == "deploy/Dockerfile"
    assert build["with"]["push"] is False
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert {"api", "full"} <= set(stages)
