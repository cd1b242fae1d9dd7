"""Staff accounts and a known dataset for the analytics tests."""

from __future__ import annotations

from tests.admin.conftest import Account, account, admin, audit_rows, member, mod  # noqa: F401 - fixtures
from tests.analytics.seed import Seeded, seed  # noqa: F401
