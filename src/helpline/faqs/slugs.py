"""URL slugs: made once from a question or a name, then stable (editing the text keeps them)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

SLUG_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 80) -> str:
    """ASCII, lowercase, words joined by '-', cut at a word boundary. Text with no Latin letters
    or digits (Chinese, Arabic...) gets a short hash so it still has a stable, unique-ish slug."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length]
        slug = slug.rsplit("-", 1)[0] if "-" in slug else slug
    if not slug:
        slug = "faq-" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]
    return slug


def next_free(base: str, taken: Iterable[str], max_length: int) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is first not in ``taken``."""
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: max_length - len(suffix)] + suffix
        if candidate not in used:
            return candidate
        n += 1


def like_prefix(base: str) -> str:
    """A LIKE pattern for ``base`` and its numbered variants."""
    return base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
