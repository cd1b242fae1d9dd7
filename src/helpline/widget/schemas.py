from __future__ import annotations

from pydantic import BaseModel, Field


class WidgetConfig(BaseModel):
    """What the widget script needs to draw itself."""

    enabled: bool
    guests_allowed: bool = Field(description="Visitors may chat without an account (POST /api/v1/auth/guest)")
    title: str
    greeting: str
    accent_color: str = Field(description="#rrggbb")
    image_origins: list[str] = Field(
        default_factory=list,
        description="https origins images in answers may load from (HELPLINE_IMAGE_ORIGINS); others are shown as links",
    )
