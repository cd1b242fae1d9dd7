"""The environment variables Helpline reads (HELPLINE_*), from the settings classes themselves: a
deployment file that sets a misspelt one would otherwise be silently ignored (extra="ignore")."""

from __future__ import annotations

from functools import cache

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from helpline.core.config import _SECTIONS, Settings


def _names(cls: type[BaseSettings], skip: frozenset[str] = frozenset()) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        if name in skip:
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(prefix + name.upper())
    return names


@cache
def known_settings() -> frozenset[str]:
    names = _names(Settings, skip=frozenset(_SECTIONS))
    for cls in _SECTIONS.values():
        names |= _names(cls)
    # Read outside the settings classes: the .env switch (core/config.py) and the metrics folder.
    names |= {"HELPLINE_ENV_FILE"}
    return frozenset(names)
