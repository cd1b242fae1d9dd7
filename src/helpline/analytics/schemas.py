"""The analytics reports as the API returns them (and, flattened, as CSV)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Granularity = Literal["day", "week", "month"]
# What a drill-down lists: the conversations behind one figure of the dashboard.
Figure = Literal["thumbs_down", "helpful", "refused", "faq", "model", "failed", "agent", "flagged"]


class PeriodRead(BaseModel):
    start: date = Field(description="First local day of the report (inclusive)")
    end: date = Field(description="Last local day of the report (inclusive)")
    timezone: str
    granularity: Granularity
    refreshed_until: datetime | None = Field(description="The roll-ups count everything before this moment")


class Origins(BaseModel):
    faq: int = Field(description="Answers taken straight from a FAQ (no model)")
    model: int = Field(description="Answers the model wrote")
    refused: int = Field(description='Refusals and honest "I don\'t know" answers')
    failed: int = Field(description="Answers that failed")
    agent: int = Field(description="Replies a person wrote after a hand-over (not the model's)")


class ResponseTimes(BaseModel):
    p50_ms: float | None
    p95_ms: float | None
    answers: int = Field(description="Answers with a response time")


class DashboardTotals(BaseModel):
    active_users: int
    new_users: int
    new_guests: int
    conversations: int
    messages: int
    questions: int
    answers: int
    answers_by_origin: Origins
    response_time: ResponseTimes
    input_tokens: int
    output_tokens: int
    estimated_cost: float
    currency: str
    helpful: int
    not_helpful: int
    helpful_rate: float | None = Field(description="helpful / (helpful + not_helpful); none without feedback")
    flags: int = Field(description="Users' messages the moderation flagged")


class DashboardBucket(BaseModel):
    bucket: date = Field(description="First local day of the bucket")
    active_users: int
    new_users: int
    conversations: int
    messages: int
    answers_faq: int
    answers_model: int
    answers_refused: int
    answers_failed: int
    answers_agent: int = Field(description="Replies written by a person after a hand-over")
    helpful: int
    not_helpful: int
    flags: int
    tokens: int


class ModelUsage(BaseModel):
    model: str
    answers: int
    input_tokens: int
    output_tokens: int
    estimated_cost: float


class FAQFigure(BaseModel):
    faq_id: int
    question: str | None = Field(description="None when the FAQ was deleted since")
    count: int


class UnansweredGroupRead(BaseModel):
    representative: str
    count: int
    language: str
    last_seen: datetime
    examples: list[str]
    ids: list[int] = Field(description="Its open questions (up to 50): POST them to /api/v1/faqs/unanswered/draft")


class DashboardRead(BaseModel):
    period: PeriodRead
    totals: DashboardTotals
    series: list[DashboardBucket]
    models: list[ModelUsage]
    top_faqs: list[FAQFigure] = Field(description="FAQs most used as an answer's source")
    thumbs_down_faqs: list[FAQFigure] = Field(description="FAQs cited by answers rated not helpful")
    unanswered: list[UnansweredGroupRead] = Field(description="Open unanswered questions, same words grouped")
    handoff: HandoffFigures = Field(description="Hand-overs to a person that started in the period")


class HandoffFigures(BaseModel):
    escalations: int = Field(description="Hand-overs to a person that started in the period")
    escalation_rate: float | None = Field(description="Conversations handed over / conversations started")
    first_reply_p50_seconds: float | None = Field(description="Median time from hand-over to a person's first reply")
    resolution_p50_seconds: float | None = Field(description="Median time from hand-over to resolution")
    resolved: int
    open: int = Field(description="Still waiting for or with a person")


class Resolutions(BaseModel):
    helpful: int
    not_helpful: int
    abandoned: int = Field(description="No feedback, and the last answer was a refusal or failed")
    escalated: int = Field(description="Handed to a person (human handoff); 0 until handoff exists")
    unrated: int


class CountRead(BaseModel):
    key: str
    count: int


class ConversationBucket(BaseModel):
    bucket: date
    conversations: int


class ConversationsRead(BaseModel):
    period: PeriodRead
    conversations: int
    series: list[ConversationBucket]
    length: list[CountRead] = Field(description="Conversations by number of messages")
    languages: list[CountRead]
    resolution: Resolutions


class UserBucket(BaseModel):
    bucket: date
    messages: int
    questions: int
    tokens: int


class UserTotals(BaseModel):
    messages: int
    questions: int
    tokens: int
    active_days: int
    conversations: int = Field(description="All the user's conversations (not only this period's)")
    feedback_given: int
    helpful_given: int


class UserAnalyticsRead(BaseModel):
    user_id: int
    period: PeriodRead
    totals: UserTotals
    series: list[UserBucket]
    first_active: datetime | None
    last_active: datetime | None


class DrillItem(BaseModel):
    conversation_id: int
    started_at: datetime
    language: str
    message_count: int
    last_message_at: datetime | None
    readable: bool = Field(description="It got a thumbs-down: an administrator may read it (audited)")


class DrillPage(BaseModel):
    figure: Figure
    items: list[DrillItem]
    next_cursor: str | None


class TranscriptMessage(BaseModel):
    id: int
    role: str
    content: str
    created_at: datetime
    origin: str | None = Field(description="For an answer: faq, model, refused or failed")
    helpful: bool | None = Field(description="The user's feedback on this answer, if any")


class TranscriptRead(BaseModel):
    conversation_id: int
    language: str
    started_at: datetime
    messages: list[TranscriptMessage]
