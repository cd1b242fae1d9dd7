"""HELPLINE_LOG_JSON unset: JSON lines for a machine (stderr not a terminal), plain lines for a
person at a terminal; set, it wins."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog

from helpline.core.config import Settings
from helpline.core.logging import configure_logging


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _line(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, json_setting: bool | None) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", json_setting)
    try:
        structlog.get_logger("t").info("hello", n=1)
    finally:
        for handler in logging.getLogger().handlers:
            handler.flush()
    return stream.getvalue().strip().splitlines()[-1]


@pytest.fixture(autouse=True)
def _restore() -> object:
    yield
    structlog.reset_defaults()
    configure_logging("INFO", False)


def test_the_default_is_unset() -> None:
    assert Settings.model_fields["log_json"].default is None


def test_json_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert json.loads(_line(monkeypatch, io.StringIO(), None))["event"] == "hello"


def test_plain_lines_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _line(monkeypatch, _Terminal(), None)
    assert "hello" in line
    assert not line.startswith("{")


def test_the_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert json.loads(_line(monkeypatch, _Terminal(), True))["event"] == "hello"
    assert not _line(monkeypatch, io.StringIO(), False).startswith("{")


def test_job_library_lines_only_when_something_goes_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    """saq's three INFO lines per job (a cron every minute) stay out; its errors come through."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", True)
    saq = logging.getLogger("saq.worker")
    saq.info("Processing %s", "Job<abandoned_answers>")
    saq.error("Error processing job %s", "Job<export>")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert "Error processing job" in json.loads(lines[0])["event"]
