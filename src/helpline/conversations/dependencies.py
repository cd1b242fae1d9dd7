"""The conversation a route is about: loaded, checked to be the caller's, or 404 once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from helpline.auth.dependencies import CurrentUser
from helpline.conversations import service
from helpline.core.deps import SessionDep
from helpline.core.ids import PathId
from helpline.core.openapi import documents
from helpline.models import Conversation


@documents({404: "No such conversation (or not yours)"})
async def owned_conversation(conversation_id: PathId, user: CurrentUser, session: SessionDep) -> Conversation:
    return await service.get_owned(session, user.id, conversation_id)


# The conversation of the path's conversation_id, the caller's (else 404).
OwnedConversation = Annotated[Conversation, Depends(owned_conversation)]
