"""FAQ files: JSON, CSV and Markdown with front matter, read into plain rows and written back.

JSON: a list of FAQ objects, or ``{"categories": [...], "faqs": [...]}`` (what export writes).
CSV: one FAQ per line; ``keywords`` separated by ``;``, ``phrasings`` one per line of the cell
(or separated by ``;``). Markdown: one FAQ per document, each
``---`` front matter ``---`` then ``# Question`` and the answer; a line of just ``---`` inside
an answer would end it, so use ``***`` for a rule there."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any, Literal

Format = Literal["json", "csv", "md"]
FORMATS: tuple[Format, ...] = ("json", "csv", "md")
MEDIA_TYPES: dict[Format, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}
COLUMNS = (
    "slug", "question", "answer", "category", "language", "status", "priority", "keywords",
    "meta_title", "meta_description", "published_at", "phrasings",
)  # fmt: skip
# Spreadsheet apps run cells starting with these as formulas; exports defuse them with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# An FAQ file needs four levels ({"faqs": [{"keywords": [...]}]}); the limit leaves room and stops a
# document nested thousands of levels deep (the parser's RecursionError, a 500) at a clear 400.
MAX_DEPTH = 32


class FileError(ValueError):
    """The file as a whole cannot be read (not a row's problem)."""


def load_json(text: str) -> Any:
    """json.loads, refusing documents nested deeper than MAX_DEPTH (FileError); a syntax error is
    the usual JSONDecodeError. The depth is checked after parsing, iteratively: the C parser
    itself stops at Python's recursion limit with a RecursionError, caught here."""
    too_deep = FileError(f"the JSON is nested too deeply (more than {MAX_DEPTH} levels)")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise too_deep from None
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise too_deep
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return doc


@dataclass
class Parsed:
    faqs: list[dict[str, Any]]
    categories: list[dict[str, Any]] = field(default_factory=list)


def guess_format(filename: str | None, content_type: str | None) -> Format | None:
    name = (filename or "").lower()
    suffixes: dict[Format, tuple[str, ...]] = {"json": (".json",), "csv": (".csv",), "md": (".md", ".markdown")}
    for fmt, endings in suffixes.items():
        if name.endswith(endings):
            return fmt
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/json", "text/json"):
        return "json"
    if media in ("text/csv", "application/csv", "application/vnd.ms-excel"):
        return "csv"
    if media in ("text/markdown", "text/x-markdown"):
        return "md"
    return None


def parse(data: bytes, fmt: Format) -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError("the file is not UTF-8 text") from None
    if fmt == "json":
        return _parse_json(text)
    if fmt == "csv":
        return Parsed(_parse_csv(text))
    return Parsed(_parse_markdown(text))


def _parse_json(text: str) -> Parsed:
    try:
        doc = load_json(text)
    except json.JSONDecodeError as exc:
        raise FileError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if isinstance(doc, list):
        return Parsed([r if isinstance(r, dict) else {"_invalid": r} for r in doc])
    if isinstance(doc, dict) and isinstance(doc.get("faqs"), list):
        cats = doc.get("categories") or []
        if not isinstance(cats, list):
            raise FileError("'categories' must be a list")
        return Parsed(
            [r if isinstance(r, dict) else {"_invalid": r} for r in doc["faqs"]],
            [c if isinstance(c, dict) else {"_invalid": c} for c in cats],
        )
    raise FileError('expected a list of FAQs or an object with a "faqs" list')


def _unescape(value: str) -> str:
    """_escape undone: one quote off a cell whose quotes are followed by a formula's start."""
    if value.startswith("'") and value.lstrip("'").startswith(_FORMULA_START):
        return value[1:]
    return value


def _parse_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "question" not in header or "answer" not in header:
        raise FileError("the CSV header must name at least the 'question' and 'answer' columns")
    reader.fieldnames = header
    rows = []
    try:
        for raw in reader:
            row: dict[str, Any] = {}
            for key, value in raw.items():
                if key is None:  # more cells than headers
                    row["_extra_cells"] = value
                    continue
                value = _unescape(value or "").strip()
                if key in ("question", "answer"):
                    row[key] = value
                elif value:
                    row[key] = _split_cell(key, value)
                else:
                    row[key] = None
            rows.append(row)
    except csv.Error as exc:
        raise FileError(f"not valid CSV (line {reader.line_num}): {exc}") from None
    return rows


def _split_cell(key: str, value: str) -> Any:
    if key == "keywords":
        return split_keywords(value)
    if key == "phrasings":
        return split_phrasings(value)
    return value


def split_phrasings(value: str) -> list[str]:
    """A cell's phrasings: one per line (as exports write them), else separated by ``;``
    (questions often hold commas)."""
    sep = "\n" if "\n" in value else ";"
    return [p.strip() for p in value.split(sep) if p.strip()]


def split_keywords(value: str) -> list[str]:
    sep = ";" if ";" in value else ","
    return [k.strip() for k in value.split(sep) if k.strip()]


def _front_matter_value(raw: str) -> Any:
    # A deliberately small subset of YAML (strings, quoted strings, [lists]): FAQ front matter
    # needs no more, and full YAML would turn `language: no` into False.
    raw = raw.strip()
    if raw.startswith(("[", '"')):
        try:
            return load_json(raw)
        except json.JSONDecodeError:
            if raw.startswith("["):
                return [p.strip().strip("'\"") for p in raw.strip("[]").split(",") if p.strip()]
    if len(raw) > 1 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return None if raw in ("", "~", "null") else raw


def _parse_markdown(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    rows: list[dict[str, Any]] = []
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i].strip() != "---":
        raise FileError("Markdown FAQs start with a '---' front matter block")
    while i < len(lines):
        if lines[i].strip() != "---":
            i += 1
            continue
        meta: dict[str, Any] = {}
        i += 1
        while i < len(lines) and lines[i].strip() != "---":
            line = lines[i]
            if line.strip() and not line.lstrip().startswith("#"):
                key, sep, value = line.partition(":")
                if not sep:
                    meta["_invalid_front_matter"] = line.strip()
                else:
                    meta[key.strip().lower()] = _front_matter_value(value)
            i += 1
        i += 1  # closing ---
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "---":
            body.append(lines[i])
            i += 1
        question, answer = _question_and_answer(body)
        meta.setdefault("question", question)
        meta.setdefault("answer", answer)
        rows.append(meta)
    return rows


def _question_and_answer(body: list[str]) -> tuple[str, str]:
    for n, line in enumerate(body):
        if line.strip():
            if line.lstrip().startswith("#"):
                return line.strip().lstrip("#").strip(), "\n".join(body[n + 1 :]).strip()
            break
    return "", "\n".join(body).strip()


# Writing


def _escape(value: str) -> str:
    """A quote before a cell a spreadsheet would run as a formula, and before one that already
    starts with quotes and then a formula's start (so "'=" comes back as written, not as "=")."""
    return "'" + value if value.lstrip("'").startswith(_FORMULA_START) else value


def write_json(categories: Iterable[Mapping[str, Any]], faqs: Iterable[Mapping[str, Any]], exported_at: str) -> bytes:
    doc = {
        "format": "helpline-faqs",
        "version": 1,
        "exported_at": exported_at,
        "categories": list(categories),
        "faqs": list(faqs),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()


def write_csv(faqs: Iterable[Mapping[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for faq in faqs:
        cells = []
        for column in COLUMNS:
            value = faq.get(column)
            if column == "keywords":
                value = "; ".join(value or [])
            elif column == "phrasings":
                value = "\n".join(value or [])
            cells.append(_escape(str(value)) if value is not None else "")
        writer.writerow(cells)
    # A BOM so spreadsheet apps read the UTF-8 correctly; the importer skips it.
    return ("\ufeff" + out.getvalue()).encode()


def write_markdown(faqs: Iterable[Mapping[str, Any]]) -> bytes:
    parts = []
    for faq in faqs:
        lines = ["---"]
        for column in COLUMNS:
            if column in ("question", "answer"):
                continue
            value = faq.get(column)
            if value is None or value == []:
                continue
            lines.append(f"{column}: {json.dumps(value, ensure_ascii=False)}")
        # A '---' line would end the document: write the same rule as '***'.
        answer = "\n".join("***" if ln.strip() == "---" else ln for ln in str(faq["answer"]).strip().splitlines())
        lines += ["---", "# " + " ".join(str(faq["question"]).split()), "", answer, ""]
        parts.append("\n".join(lines))
    return "\n".join(parts).encode()


def file_from_multipart(body: bytes, content_type: str) -> tuple[bytes, str | None, str | None]:
    """The uploaded file of a multipart/form-data body: (bytes, filename, its content type).
    Read with the standard library's MIME parser: FastAPI's own form parsing needs
    python-multipart, which Helpline does not otherwise depend on."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    try:
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    except RecursionError:
        # The parser recurses into each nested multipart part: a body nested a thousand deep.
        raise FileError("the multipart body is nested too deeply") from None
    parts = message.get_payload() if message.is_multipart() else None
    if not isinstance(parts, list):
        raise FileError("the multipart body could not be read")
    for part in parts:
        if not isinstance(part, Message):
            continue
        filename = part.get_filename()
        if filename is not None or part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            return data, filename, part.get_content_type()
    raise FileError("the form has no file: send it in a field named 'file'")
