"""Any report as CSV, streamed: one row per figure, ``section,key,field,value`` (``key`` is the
bucket, model, FAQ or group a row belongs to). One shape for every report, so a spreadsheet or
a script reads them all the same way."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

HEADER = ("section", "key", "field", "value")
# The field naming a list item (the first found); the others become its rows.
_KEYS = ("bucket", "model", "faq_id", "key", "conversation_id", "representative", "id")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return str(value)


def rows(report: BaseModel) -> Iterator[tuple[str, str, str, str]]:
    def walk(section: str, value: Any) -> Iterator[tuple[str, str, str, str]]:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, dict | list) and not (isinstance(v, list) and all(not isinstance(i, dict) for i in v)):
                    yield from walk(f"{section}.{k}" if section else k, v)
                else:
                    yield (section or "report", "", k, _cell(v))
        elif isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    yield (section, "", "", _cell(item))
                    continue
                label = next((k for k in _KEYS if k in item), None)
                key = _cell(item[label]) if label else ""
                for k, v in item.items():
                    if k != label:
                        yield (section, key, k, _cell(v))

    yield from walk("", report.model_dump(mode="json"))


def _lines(report: BaseModel) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in (HEADER, *rows(report)):
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_response(report: BaseModel, filename: str) -> StreamingResponse:
    return StreamingResponse(
        _lines(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The report (CSV with format=csv)"}
}
