from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from helpline.models.base import Base, Timestamps


class NotificationSetting(Timestamps, Base):
    """One user's choice for one kind of notification on one channel. No row: the default (on).
    Security mails (password reset, email confirmation) are not settings: they always go out."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)  # email, push
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)  # notifications.settings.Kind
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), nullable=False)


class PushSubscription(Timestamps, Base):
    """One device a user's pushes go to, owned by the user signed in when it subscribed: a
    browser's Web Push subscription (its PushSubscription: the push service's endpoint and the
    keys a push is encrypted with), or a phone's Expo push token (the mobile app). One row per
    endpoint: the same device subscribing again, or for another account, replaces it."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        CheckConstraint("provider IN ('webpush', 'expo')", name="provider"),
        CheckConstraint(
            "provider <> 'webpush' OR (p256dh IS NOT NULL AND auth IS NOT NULL)",
            name="webpush_keys",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    # webpush: a browser (endpoint is its push service's URL, encrypted with p256dh and auth);
    # expo: a phone running the mobile app (endpoint is its Expo push token, no keys).
    provider: Mapped[str] = mapped_column(String(10), server_default=text("'webpush'"), nullable=False)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    p256dh: Mapped[str | None] = mapped_column(String(200))
    auth: Mapped[str | None] = mapped_column(String(100))
