from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from helpline.core.ids import Id
from helpline.core.schemas import NOT_NULL, Language, StrictModel
from helpline.faqs.phrasings import MAX_PHRASING_CHARS, MAX_PHRASINGS, clean, normalize
from helpline.faqs.slugs import SLUG_RE
from helpline.faqs.synonyms import MAX_TERM_CHARS, MAX_TERMS, MIN_TERMS, normalise_term
from helpline.models import FAQStatus, PhrasingSuggestionStatus

MAX_QUERY_CHARS = 500
MAX_QUESTION_CHARS = 2000
MAX_ANSWER_CHARS = 20_000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=MAX_ANSWER_CHARS)


def _clean_text(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be empty")
    return v


def _clean_keyword(v: str) -> str:
    v = " ".join(v.split()).lower()
    if not v:
        raise ValueError("must not be empty")
    return v


def _dedupe(v: list[str]) -> list[str]:
    return list(dict.fromkeys(v))


def _clean_phrasing(v: str) -> str:
    v = clean(v)
    if not normalize(v):
        raise ValueError("must not be empty: write the question as a customer would ask it")
    return v


def _dedupe_phrasings(v: list[str]) -> list[str]:
    # One per folded form ("Where is my parcel?" = "where is my parcel"), the first kept.
    kept: dict[str, str] = {}
    for phrasing in v:
        kept.setdefault(normalize(phrasing), phrasing)
    return list(kept.values())


def check_query(v: str) -> str:
    v = " ".join(v.split())
    if not v:
        raise ValueError("must not be empty: give a few words to search for")
    if len(v) > MAX_QUERY_CHARS:
        raise ValueError(f"must be at most {MAX_QUERY_CHARS} characters; shorten the question")
    return v


Question = Annotated[str, Field(max_length=MAX_QUESTION_CHARS), AfterValidator(_clean_text)]
Answer = Annotated[str, Field(max_length=MAX_ANSWER_CHARS), AfterValidator(_clean_text)]
Slug = Annotated[str, Field(min_length=1, max_length=255, pattern=SLUG_RE)]
CategorySlug = Annotated[str, Field(min_length=1, max_length=120, pattern=SLUG_RE)]
Keyword = Annotated[str, Field(max_length=50), AfterValidator(_clean_keyword)]
Keywords = Annotated[list[Keyword], Field(max_length=30), AfterValidator(_dedupe)]
Phrasing = Annotated[str, Field(max_length=MAX_PHRASING_CHARS), AfterValidator(_clean_phrasing)]
Phrasings = Annotated[
    list[Phrasing],
    Field(
        max_length=MAX_PHRASINGS,
        description=f"Other ways customers ask the question (at most {MAX_PHRASINGS}, each at most "
        f"{MAX_PHRASING_CHARS} characters); each is searched like the question. Trimmed; repeats and "
        "the question itself are dropped",
    ),
    AfterValidator(_dedupe_phrasings),
]
Priority = Annotated[int, Field(ge=-1000, le=1000)]
SortOrder = Annotated[int, Field(ge=-100_000, le=100_000)]
MetaTitle = Annotated[str, Field(max_length=255)]
MetaDescription = Annotated[str, Field(max_length=1000)]
SearchText = Annotated[str, Field(max_length=MAX_QUERY_CHARS * 4), AfterValidator(check_query)]
SignalName = Literal["vector_question", "vector_answer", "vector_phrasing", "text"]


# Categories


class CategoryCreate(Model):
    name: Annotated[str, Field(max_length=100), AfterValidator(_clean_text)]
    slug: CategorySlug | None = Field(default=None, description="Made from the name when omitted; never changes")
    description: Annotated[str, Field(max_length=2000)] | None = None
    parent_id: Id | None = Field(default=None, description="A top-level category (one level of nesting)")
    sort_order: SortOrder = 0


class CategoryUpdate(Model):
    # NOT_NULL: leave out to keep; null is refused (400), so the document does not offer it.
    name: Annotated[Annotated[str, Field(max_length=100), AfterValidator(_clean_text)] | None, NOT_NULL] = None
    slug: Annotated[CategorySlug | None, NOT_NULL] = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    parent_id: Id | None = None
    sort_order: Annotated[SortOrder | None, NOT_NULL] = None


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    description: str | None
    parent_id: int | None
    sort_order: int
    created_at: datetime
    updated_at: datetime | None


class CategoryTree(CategoryRead):
    children: list[CategoryRead] = Field(default_factory=list)


class CategoryList(BaseModel):
    items: list[CategoryTree] = Field(description="Top-level categories in order, each with its subcategories")


# FAQs


class FAQCreate(Model):
    question: Question
    answer: Answer
    category_id: Id | None = None
    keywords: Keywords | None = None
    phrasings: Phrasings | None = None
    status: FAQStatus = FAQStatus.draft
    priority: Priority = 0
    language: Language = "en"
    slug: Slug | None = Field(default=None, description="Made from the question when omitted; stable across edits")
    meta_title: MetaTitle | None = None
    meta_description: MetaDescription | None = None


class FAQUpdate(Model):
    """Only the fields sent change; ``null`` clears the optional ones."""

    # NOT_NULL: leave out to keep; null is refused (400), so the document does not offer it.
    question: Annotated[Question | None, NOT_NULL] = None
    answer: Annotated[Answer | None, NOT_NULL] = None
    category_id: Id | None = None
    keywords: Keywords | None = None
    phrasings: Phrasings | None = None
    status: Annotated[FAQStatus | None, NOT_NULL] = None
    priority: Annotated[Priority | None, NOT_NULL] = None
    language: Annotated[Language | None, NOT_NULL] = None
    slug: Annotated[Slug | None, NOT_NULL] = None
    meta_title: MetaTitle | None = None
    meta_description: MetaDescription | None = None


class FAQRead(BaseModel):
    id: int
    category_id: int | None
    question: str
    answer: str
    keywords: list[str]
    phrasings: list[str] = Field(default_factory=list, description="Other ways customers ask the question")
    status: FAQStatus
    priority: int
    language: str
    slug: str | None
    meta_title: str | None
    meta_description: str | None
    view_count: int
    helpful_count: int
    not_helpful_count: int
    created_at: datetime
    updated_at: datetime | None
    published_at: datetime | None
    embedded: bool = Field(description="Vectors exist for the current question and answer")


class PopularFAQ(BaseModel):
    id: int
    question: str
    slug: str | None


class PopularFAQs(BaseModel):
    """Published FAQs most read first (then the knowledge base's own priority): questions to suggest."""

    items: list[PopularFAQ]


class FAQPage(BaseModel):
    items: list[FAQRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end")


class VoteRequest(Model):
    helpful: StrictBool
    device_id: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9_-]{16,64}$",
            description="Without an account: a random id this browser keeps (one vote per device and FAQ)",
        ),
    ] = None


class VoteRead(BaseModel):
    faq_id: int
    helpful: bool = Field(description="Your vote")
    helpful_count: int
    not_helpful_count: int


# Search


class SearchRequest(Model):
    q: SearchText
    language: Language | None = Field(default=None, description="Only FAQs in this language")
    category: Annotated[str, Field(max_length=120)] | int | None = Field(
        default=None, description="Category id or slug; includes its subcategories"
    )
    limit: Annotated[int, Field(ge=1, le=50)] = 10
    status: FAQStatus | None = Field(default=None, description="Staff only; others see published FAQs")
    suggest: bool = Field(default=False, description='Also a "did you mean" spelling of the query (`suggestion`)')


class SearchHit(BaseModel):
    id: int
    question: str
    answer: str
    slug: str | None
    language: str
    category_id: int | None
    score: float = Field(
        description="Weighted fusion of the cosine similarities and text rank, plus the rerank term: higher is better"
    )
    signals: list[SignalName] = Field(description="Which searches found it")
    similarity: float | None = Field(description="Best cosine similarity of the question, answer or phrasing vectors")
    relevance: float | None = Field(
        default=None,
        description="How well the reranker finds it answers the query, 0-1 like a cosine; null when not reranked",
    )


class SearchResponse(BaseModel):
    query: str
    items: list[SearchHit]
    suggestion: str | None = Field(
        default=None, description='"Did you mean": the query with its unknown words spelled as FAQ questions spell them'
    )


# Import / export


class RejectedRow(BaseModel):
    row: int = Field(description="1-based position of the item in the file (CSV: data row, header excluded)")
    reason: str
    kind: Literal["faq", "category"] = "faq"


class ImportReport(BaseModel):
    created: int
    updated: int
    unchanged: int
    categories_created: int
    rejected: list[RejectedRow]
    dry_run: bool = False


# Unanswered questions


class UnansweredExample(BaseModel):
    id: int
    text: str
    language: str
    created_at: datetime


class UnansweredGroup(BaseModel):
    ids: list[int]
    count: int
    representative: str = Field(description="The question closest to the group's centre")
    language: str = Field(description="The group's most common language")
    examples: list[UnansweredExample]
    first_seen: datetime
    last_seen: datetime


class UnansweredGroups(BaseModel):
    items: list[UnansweredGroup]
    considered: int = Field(description="Open questions looked at (the most recent ones)")


class DraftFromUnanswered(Model):
    ids: Annotated[list[Id], Field(min_length=1, max_length=500)]
    question: Question | None = Field(default=None, description="Default: the group's representative question")
    answer: Annotated[str, Field(max_length=MAX_ANSWER_CHARS)] = ""
    category_id: Id | None = None
    language: Language | None = None


# Phrasings suggested from helpful answers


class PhrasingSuggestionRead(BaseModel):
    id: int
    faq_id: int
    faq_question: str
    faq_slug: str | None
    faq_language: str
    text: str = Field(description="The question as the user asked it")
    status: PhrasingSuggestionStatus
    created_at: datetime
    reviewed_at: datetime | None


class PhrasingSuggestionPage(BaseModel):
    items: list[PhrasingSuggestionRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end")


class ApproveSuggestion(Model):
    text: Phrasing | None = Field(
        default=None, description="The phrasing to add, when staff edit it first; default: the suggestion's text"
    )


# Search synonyms (faqs/synonyms.py)


def _clean_terms(v: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in v:
        term = normalise_term(raw)
        if not term or not any(ch.isalnum() for ch in term):
            raise ValueError("every term needs a letter or digit")
        if len(term) > MAX_TERM_CHARS:
            raise ValueError(f"a term has at most {MAX_TERM_CHARS} characters: {term[:20]}...")
        if term in seen:
            raise ValueError(f"{term!r} is in the set twice (terms are compared in lower case)")
        seen[term] = None
    return list(seen)


SynonymTerms = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    Field(min_length=MIN_TERMS, max_length=MAX_TERMS, description="Equivalent words or phrases, stored lower-case"),
    AfterValidator(_clean_terms),
]


class SynonymSetWrite(StrictModel):
    """A whole synonym set (POST creates one, PUT replaces one)."""

    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = Field(
        default=None, description='A primary language subtag ("en"); null or left out: every language'
    )
    terms: SynonymTerms


class SynonymSetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    language: str | None
    terms: list[str]
    created_by: int | None
    created_at: datetime
    updated_at: datetime | None


class SynonymSetList(BaseModel):
    items: list[SynonymSetRead] = Field(description="Every synonym set: those of every language first, then by id")
