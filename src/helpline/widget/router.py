from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from helpline.core.deps import RuntimeDep
from helpline.widget.access import check_widget
from helpline.widget.schemas import WidgetConfig

router = APIRouter(prefix="/api/v1/widget", tags=["widget"])

# Public and the same for every visitor: browsers and CDNs may keep it a minute.
CACHE_CONTROL = "public, max-age=60"


@router.get(
    "/config",
    response_model=WidgetConfig,
    responses={
        403: {"description": "A site key is configured and this one is missing or wrong"},
        404: {"description": "The widget is disabled"},
    },
)
async def widget_config(
    runtime: RuntimeDep,
    response: Response,
    key: Annotated[str | None, Query(max_length=200, description="The site's public widget key")] = None,
) -> WidgetConfig:
    cfg = runtime.settings.widget
    check_widget(cfg, key)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return WidgetConfig(
        enabled=cfg.enabled,
        guests_allowed=cfg.allow_guests,
        title=cfg.title,
        greeting=cfg.greeting,
        accent_color=cfg.accent_color,
        image_origins=runtime.settings.image_origins,
    )
