"""push providers: a push subscription is a browser's (Web Push) or a phone's (Expo push token)

Revision ID: 0027_expo_push
Revises: 0026_message_client_id
Create Date: 2026-12-07 12:40:00.000000

- push_subscriptions.provider: 'webpush' (the existing rows) or 'expo'; an Expo row keeps the
  phone's Expo push token ("ExponentPushToken[...]") in endpoint (still unique: one row per
  device) and has no encryption keys, so p256dh and auth become nullable, required for Web Push
  by a CHECK.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_expo_push"
down_revision: str | None = "0026_message_client_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "push_subscriptions",
        sa.Column("provider", sa.String(10), server_default=sa.text("'webpush'"), nullable=False),
    )
    op.alter_column("push_subscriptions", "p256dh", existing_type=sa.String(200), nullable=True)
    op.alter_column("push_subscriptions", "auth", existing_type=sa.String(100), nullable=True)
    op.create_check_constraint("provider", "push_subscriptions", "provider IN ('webpush', 'expo')")
    op.create_check_constraint(
        "webpush_keys",
        "push_subscriptions",
        "provider <> 'webpush' OR (p256dh IS NOT NULL AND auth IS NOT NULL)",
    )


def downgrade() -> None:
    op.execute("DELETE FROM push_subscriptions WHERE provider <> 'webpush'")
    op.drop_constraint("webpush_keys", "push_subscriptions", type_="check")
    op.drop_constraint("provider", "push_subscriptions", type_="check")
    op.alter_column("push_subscriptions", "auth", existing_type=sa.String(100), nullable=False)
    op.alter_column("push_subscriptions", "p256dh", existing_type=sa.String(200), nullable=False)
    op.drop_column("push_subscriptions", "provider")
