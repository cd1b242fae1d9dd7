"""The OpenAI chat-completions shapes this API takes and gives (the subset it honours), plus the
``helpline`` extension fields. Requests are lenient as OpenAI's own API is: fields it does not use
(temperature, max_tokens, tools, ...) are accepted and ignored, since the organisation's settings
choose the model's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from helpline.chat.schemas import GuardAction, Source
from helpline.core.ids import Id
from helpline.core.schemas import Language


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class InputMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Annotated[str, Field(max_length=20, examples=["user"])]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class HelplineOptions(BaseModel):
    """Helpline's extension (``extra_body={"helpline": {...}}`` in OpenAI's Python SDK)."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: Id | None = Field(
        default=None,
        description="Continue this conversation of yours: its stored messages are the context and the "
        "request's earlier messages are ignored. Without it, each request starts a new conversation "
        "and the request's earlier user and assistant messages are the context",
    )
    language: Language | None = Field(default=None, description="A new conversation's language (else yours)")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow", str_max_length=100_000)

    model: Annotated[str, Field(max_length=200, examples=["helpline"])]
    messages: Annotated[list[InputMessage], Field(max_length=1000)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, description="Only 1 is supported")
    helpline: HelplineOptions | None = None


class HelplineInfo(BaseModel):
    """Helpline's extension on a completion (on a stream's last chunk)."""

    conversation_id: int
    message_id: int
    sources: list[Source] = Field(default_factory=list, description="The knowledge-base articles the answer rests on")
    related: list[Source] = Field(default_factory=list, description='The closest articles, with an "I don\'t know"')
    guard: GuardAction | None = None
    flagged: bool = Field(default=False, description="Moderation flagged the question or the answer")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "content_filter"]
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: str | None = None
    helpline: HelplineInfo


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
