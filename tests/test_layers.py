"""The package layers (pyproject.toml, [tool.importlinter]): core and platform import no domain
package (chat, faqs, auth, ...), so the domains stand on them without an import cycle; and the
knowledge base imports auth only for its caller dependencies, never its schemas or service (the
shared types, Caller and Language, live in core). Checked with import-linter, which reads every
import of the source tree (function-level ones too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_layers_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout
