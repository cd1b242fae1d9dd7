"""Run deploy/Dockerfile's build steps without a Docker engine, in a clean folder and venv.

The commands are read from the Dockerfile itself (its RUN, COPY, ENV, ARG and WORKDIR lines), so
they cannot drift from what `docker build` runs. The container's paths (/opt/venv, /src, /web, ...)
are mapped into a temporary folder; the build context is the repository's tracked files less what
.dockerignore leaves out. What only a container can do is skipped and said so: installing Debian
packages (apt-get) and the base image's own `pip install uv` when the same uv is on PATH.

    python deploy/build_steps.py --quick   # the Python stages: locked install, then `helpline openapi`
                                           # (68 s here with uv's cache warm, on a busy 2-core machine)
    python deploy/build_steps.py --dry-run # print every stage's steps as they would run (tests/deploy)
    python deploy/build_steps.py           # every stage: also llama-cpp-python's portable wheel
                                           # (about 5 minutes), the web build (npm ci, about 3), and
                                           # the runtime's HEALTHCHECK against a started `helpline serve`
                                           # (9 minutes here with --llama-wheel, on a busy machine)

Each step is printed before it runs; the first failure stops the script with its exit status.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The container paths the Dockerfile uses, mapped under the build folder.
CONTAINER_PATHS = ("/opt/venv", "/openapi.json", "/wheels", "/src", "/web", "/app", "/data")
QUICK_STAGES = ("venv", "openapi")
ALL_STAGES = ("venv", "llama", "venv-full", "openapi", "web")


@dataclass
class Stage:
    name: str
    base: str
    steps: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, continuation lines joined, comments dropped."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in joined.splitlines():
        if not raw.strip():
            continue
        word, _, rest = raw.strip().partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(name=name.strip(), base=base.strip()))
        elif not stages:
            if word == "ARG":
                key, _, value = rest.partition("=")
                global_args[key] = value
        else:
            stages[-1].steps.append((word, rest))
    return global_args, stages


def dockerignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore's rule, for the patterns this repository uses: the last matching pattern wins,
    `!` re-includes, a folder pattern covers what is inside, `**/` also matches at the top."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        candidates = [pat] + ([pat[3:]] if pat.startswith("**/") else [])
        if any(fnmatch.fnmatch(path, c) or fnmatch.fnmatch(path, c + "/*") for c in candidates):
            ignored = not negate
    return ignored


def _which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is needed on PATH")
    return found


def context_files() -> list[str]:
    tracked = subprocess.run(
        [_which("git"), "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    ignore = ROOT / ".dockerignore"
    patterns = [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [f for f in tracked if not dockerignored(f, patterns)]


class Builder:
    def __init__(self, out: Path, global_args: dict[str, str], stages: list[Stage], *, dry_run: bool = False) -> None:
        self.out = out
        self.dry_run = dry_run
        self.global_args = global_args
        self.stages = {s.name: s for s in stages if s.name}
        self.context = context_files()
        self.env: dict[str, dict[str, str]] = {}

    def map_paths(self, text: str) -> str:
        for path in CONTAINER_PATHS:
            text = re.sub(rf"(?<![\w./-]){re.escape(path)}(?=$|[/\s\"':*])", str(self.out) + path, text)
        return text

    def expand(self, text: str, variables: dict[str, str]) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), text)

    def run_stage(self, name: str) -> None:
        stage = self.stages[name]
        parent = stage.base if stage.base in self.stages else None
        env = dict(self.env.get(parent, {})) if parent else {}
        variables = dict(self.global_args)
        workdir = self.out
        print(f"\n== stage {name} (FROM {stage.base})", flush=True)
        for instruction, args in stage.steps:
            if instruction == "ARG":
                key, _, value = args.partition("=")
                variables[key] = self.global_args.get(key, value)
            elif instruction == "ENV":
                for key, value in re.findall(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S*)", args):
                    value = value.strip("\"'")
                    env[key] = self.map_paths(self.expand(value, {**variables, **os.environ, **env}))
            elif instruction == "WORKDIR":
                workdir = Path(self.map_paths(args))
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction == "COPY":
                self.copy(args, workdir)
            elif instruction == "RUN":
                self.run(self.expand(args, variables), env, workdir)
        self.env[name] = env

    def copy(self, args: str, workdir: Path) -> None:
        words = shlex.split(args)
        source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        words = [w for w in words if not w.startswith("--")]
        *sources, dest = words
        target = Path(self.map_paths(dest)) if dest.startswith("/") else workdir / dest
        for source in sources:
            if source_stage:
                src = Path(self.map_paths(source))
                print(f"$ COPY --from={source_stage} {source} {dest}", flush=True)
                if self.dry_run:
                    continue
                if src.is_dir():
                    shutil.copytree(src, target, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target / src.name if dest.endswith("/") else target)
                continue
            prefix = source.rstrip("/")
            files = [f for f in self.context if f == prefix or f.startswith(prefix + "/")]
            if not files:
                raise SystemExit(f"COPY {source}: nothing in the build context")
            print(f"$ COPY {source} {dest}  ({len(files)} files)", flush=True)
            if self.dry_run:
                print("".join(f"   {f}\n" for f in files), end="", flush=True)
                continue
            # As Docker does: a folder's contents go into the destination; a file keeps its name
            # when the destination is a folder.
            folder = files != [prefix]
            for f in files:
                if folder:
                    into = target / Path(f).relative_to(prefix)
                elif dest.endswith("/") or dest == "." or len(sources) > 1:
                    into = target / Path(f).name
                else:
                    into = target
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / f, into)

    def run(self, command: str, env: dict[str, str], workdir: Path) -> None:
        command = re.sub(r"--mount=\S+\s*", "", command).strip()
        if "apt-get" in command:
            print(f"-- skipped (Debian packages, for the container only): {command[:80]}", flush=True)
            return
        uv_install = re.fullmatch(r'pip install --no-cache-dir "uv==([\d.]+)"', command)
        if uv_install and shutil.which("uv") and uv_install.group(1) in _uv_version():
            print(f"-- skipped: uv {uv_install.group(1)} is on PATH ({command})", flush=True)
            return
        command = self.map_paths(command)
        print(f"$ {command}", flush=True)
        if self.dry_run:
            return
        full_env = {**os.environ, **env}
        full_env["PATH"] = f"{self.out / 'tools' / 'bin'}:{full_env.get('PATH', '')}"
        # The image has one Python; here uv is told which one (the one running this script).
        full_env.setdefault("UV_PYTHON", sys.executable)
        started = time.monotonic()
        result = subprocess.run(
            [_which("bash"), "-euo", "pipefail", "-c", command], cwd=workdir, env=full_env, check=False
        )
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        if result.returncode:
            raise SystemExit(result.returncode)

    def tools_venv(self) -> None:
        """A clean venv with pip for the stages that call `pip` (the base image's own pip)."""
        tools = self.out / "tools"
        if not tools.exists():
            subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)

    def healthcheck(self) -> None:
        """The runtime stage's HEALTHCHECK against `helpline serve` from the built venv (embedded
        PostgreSQL, fake model), with the runtime stage's environment."""
        runtime = self.stages["runtime"]
        print("\n== stage runtime (its COPY steps; the user and the system packages are the container's)")
        for instruction, args in runtime.steps:
            if instruction == "COPY":
                self.copy(args, self.out)
        check = next(a for i, a in runtime.steps if i == "HEALTHCHECK")
        argv = eval(check.split("CMD", 1)[1].strip())  # noqa: S307 - the Dockerfile's JSON-array form
        env = {**os.environ}
        env_line = " ".join(a for i, a in runtime.steps if i == "ENV")
        for key, value in re.findall(r"(\w+)=(\S*)", env_line):
            env[key] = self.map_paths(value.replace("$PATH", os.environ["PATH"]))
        env["PATH"] = f"{self.out / 'opt' / 'venv' / 'bin'}:{os.environ['PATH']}"
        # A free port here (the container has 8000 to itself), the health check's URL changed to it.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        argv = [arg.replace("127.0.0.1:8000/", f"127.0.0.1:{port}/") for arg in argv]
        env.update(HELPLINE_HOST="127.0.0.1", HELPLINE_PORT=str(port), HELPLINE_LLM_PROVIDER="fake")
        env["HELPLINE_DEMO_DATA"] = "false"
        (self.out / "data").mkdir(exist_ok=True)
        print(f"\n== runtime: helpline serve, then the HEALTHCHECK: {argv}", flush=True)
        server = subprocess.Popen([str(self.out / "opt" / "venv" / "bin" / "helpline"), "serve"], env=env, cwd=self.out)
        try:
            for _ in range(180):
                if subprocess.run(argv, env=env, capture_output=True, check=False).returncode == 0:
                    print("   healthy", flush=True)
                    # The web app comes from HELPLINE_WEB_DIR, the web stage's build.
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
                        if b'<div id="root">' not in page.read():
                            raise SystemExit("/ does not serve the web build")
                    print("   / serves the web build", flush=True)
                    return
                if server.poll() is not None:
                    raise SystemExit("helpline serve exited before it was healthy")
                time.sleep(1)
            raise SystemExit("no healthy answer within 180 s")
        finally:
            server.terminate()
            server.wait(60)


def _uv_version() -> str:
    return subprocess.run([_which("uv"), "--version"], capture_output=True, text=True, check=False).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the Python stages (venv, openapi)")
    parser.add_argument(
        "--llama-wheel",
        type=Path,
        help="use this llama-cpp-python wheel (the Makefile's cached one) instead of building it again",
    )
    parser.add_argument("--dry-run", action="store_true", help="print every stage's steps, run none")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    global_args, stages = parse(DOCKERFILE.read_text())
    out = args.keep or Path(tempfile.mkdtemp(prefix="helpline-build-"))
    out.mkdir(parents=True, exist_ok=True)
    builder = Builder(out.resolve(), global_args, stages, dry_run=args.dry_run)
    started = time.monotonic()
    try:
        if args.dry_run:
            for name in ALL_STAGES:
                builder.run_stage(name)
            return
        if not args.quick:
            builder.tools_venv()
        for name in QUICK_STAGES if args.quick else ALL_STAGES:
            if name == "llama" and args.llama_wheel:
                print(f"\n== stage llama: using {args.llama_wheel} instead of building it", flush=True)
                (out / "wheels").mkdir(exist_ok=True)
                shutil.copy2(args.llama_wheel, out / "wheels")
                continue
            builder.run_stage(name)
        helpline = out / "opt" / "venv" / "bin" / "helpline"
        subprocess.run([str(helpline), "--help"], check=True, capture_output=True)
        if not (out / "openapi.json").read_text().count('"/health"'):
            raise SystemExit("openapi.json lacks /health")
        if not args.quick:
            if not (out / "web" / "dist" / "index.html").exists():
                raise SystemExit("the web build made no index.html")
            builder.healthcheck()
        print(f"\nbuild steps passed in {time.monotonic() - started:.0f} s ({out})", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
