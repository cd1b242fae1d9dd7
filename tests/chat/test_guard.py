"""The guard's checks on their own: which facts an answer states, which the material supports,
and which answers are loops, cut off or in another language; and the honest replies."""

from __future__ import annotations

import pytest

from helpline.chat import guard
from helpline.chat.grounding import Bar, Grounding, Source
from helpline.chat.guard import Fact, Support, check, facts, repetitive, unsupported, used_sources, wrong_language
from helpline.chat.honest import fallback
from helpline.chat.smalltalk import small_talk

ARTICLE = (
    "Go to app.parcelo.example/signup and sign up with your work email. The confirmation link is valid "
    "for 24 hours. Refunds are possible within thirty days. Call +1 (555) 010-2000 or write to "
    "Help@Parcelo.example. The Pro plan costs $29 per month (1,200 parcels included); order numbers "
    "look like PX-4821. Pay with PayPal."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to help@parcelo.example today.", [Fact("email", "help@parcelo.example")]),
        ("See https://parcelo.example/pricing.", [Fact("url", "https://parcelo.example/pricing")]),
        ("Open app.parcelo.example/signup", [Fact("url", "app.parcelo.example/signup")]),
        ("Call 1-800-463-3339 now", [Fact("phone", "1-800-463-3339")]),
        ("It costs €49 or 49 EUR", [Fact("money", "€49"), Fact("money", "49 EUR")]),
        ("A 15% discount", [Fact("percent", "15%")]),
        ("Within 3-5 business days", [Fact("duration", "3-5 business days")]),
        ("En 48 horas", [Fact("duration", "48 horas")]),
        ("Shipped on March 3rd, 2024", [Fact("date", "March 3rd, 2024")]),
        ("Order ORD-55123 is late", [Fact("reference", "ORD-55123")]),
        ("Use ParceloPro for that", [Fact("name", "ParceloPro")]),
        ("We have 1200 lockers", [Fact("number", "1200")]),
        ("A fee of 1% applies", [Fact("percent", "1%")]),
        ("Parcels up to 30 kg", [Fact("quantity", "30 kg")]),
        ("Exports hold 2 GB", [Fact("quantity", "2 GB")]),
        ("It takes 24h", [Fact("duration", "24h")]),
        ("Deleted on 2018-03-24", [Fact("date", "2018-03-24")]),
        ("Our CEO is Elena Pareja.", [Fact("name", "Elena Pareja")]),
        ("Contact Royal Mail or DHL", [Fact("name", "Royal Mail"), Fact("name", "DHL")]),
        ("Open Settings, then Security. It is an API and a PDF.", []),
    ],
)
def test_the_facts_an_answer_states(text: str, expected: list[Fact]) -> None:
    assert facts(text) == expected


def test_citations_list_numbers_and_small_counts_are_not_facts() -> None:
    answer = "You can do it in two ways [1][2]:\n1. Open Settings\n2) Click Billing\nIt takes 3 clicks."
    assert facts(answer) == []


def test_the_material_supports_the_same_values_however_written() -> None:
    support = Support([ARTICLE])
    answer = (
        "Sign up at https://www.app.parcelo.example/signup/ [1]; the link lasts 24 hours. Refunds within "
        "30 days. Call +1 555 010 2000 or email help@parcelo.example. Pro is $29/month with 1200 parcels. "
        "Orders are like PX-4821; PayPal works."
    )
    assert facts(answer)  # there are facts, and every one is in the article
    assert unsupported(answer, support) == []


@pytest.mark.parametrize(
    "invented",
    [
        "Call the carrier at 1-800-463-3339.",
        "Write to refunds@parcelo.example.",
        "See parcelo.example/refund-form.",
        "The Pro plan costs $39 per month.",
        "Refunds take 14 days.",
        "Your order ORD-55123 is on its way.",
        "Use ParceloPlus for that.",
        "We have 5000 lockers.",
    ],
)
def test_an_invented_fact_is_unsupported(invented: str) -> None:
    assert len(unsupported(invented, Support([ARTICLE]))) == 1


@pytest.mark.parametrize(
    ("invented", "material"),
    [
        # The trial's miss: "1" is in the material (a citation, a step), "1%" is not.
        ("A fee of 1% applies to refunds.", "See [1]. Step 1: open Billing. Refunds are free."),
        ("A restocking fee of 10% applies.", "Each workspace has 10 seats."),
        ("It costs $10 per month.", "Each workspace has 10 seats."),
        ("Refunds take 10 days.", "Each workspace has 10 seats."),
        ("The link is valid for 24 days.", "The link is valid for 24 hours."),
        ("Parcels up to 30 kg.", "Claims within 30 days."),
        ("The Pro plan costs €29.", "The Pro plan costs $29 per month."),
        ("Exports are limited to 5 GB.", "Exports are limited to 5,000 rows."),
        ("Our CEO is Elena Pareja.", "Parcelo was founded in 2019."),
        ("Your parcel goes with DHL.", "We ship with UPS and Royal Mail."),
    ],
)
def test_a_value_of_another_kind_does_not_support_a_fact(invented: str, material: str) -> None:
    assert len(unsupported(invented, Support([material]))) == 1


@pytest.mark.parametrize(
    ("answer", "material"),
    [
        ("The link is valid for one day.", "The link is valid for 24 hours."),
        ("The link is valid for 1 day.", "The link is valid for 24 hours."),
        ("Refunds within 30 days.", "Refunds are possible within thirty days."),
        ("Parcels up to 2 kg.", "Parcels up to 2000 g."),
        ("Pro costs 29 dollars.", "Pro costs $29 per month."),
        ("A 15 % discount for 3-5 business days.", "15% off; delivery in 3 to 5 business days."),
        ("We ship with Royal Mail and UPS.", "We ship with UPS and royal mail."),
        ("Contact our Customer Support Team.", "The support team answers customer questions."),
        ("Es una tarifa del 2 por ciento.", "Una tarifa del 2 %."),
    ],
)
def test_the_same_value_of_the_same_kind_is_supported(answer: str, material: str) -> None:
    assert unsupported(answer, Support([material])) == []


NAMES_MATERIAL = (
    "We ship with UPS and Royal Mail. Create a return label from the Returns page; Parcelo Protect "
    "covers loss, plus damage in transit. Contact support from the dashboard."
)


@pytest.mark.parametrize(
    "answer",
    [
        # Title Case of generic words, courtesies and UI nouns: no name a customer acts on.
        "Contact our Customer Support Team from the Help Center.",
        "Happy Shipping! Best Regards, The Parcelo Support Team",
        # The material's words, singular or plural.
        "Open the Return Labels page and choose Parcelo Protect.",
        # A made-up link text run together from a name the material has.
        "Yes, we support Royal Mail [RoyalMail].",
        # The web's vocabulary and common abbreviations.
        "The webhook sends a POST with a Content-Type header; reply to a GET with JSON. Any ATM in the UK.",
    ],
)
def test_title_case_of_known_or_generic_words_is_no_invented_name(answer: str) -> None:
    assert unsupported(answer, Support([NAMES_MATERIAL])) == []


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("Upgrade to Parcelo Premium Plus today.", "Parcelo Premium Plus"),
        ("Try ParceloPlus for that.", "ParceloPlus"),  # "Parcelo" and "plus" are in the material, apart
        ("Our CEO is Elena Pareja.", "Elena Pareja"),
        ("Our office is in New York City.", "New York City"),
        ("Get it on the Apple App Store.", "Apple App Store"),
        ("Ask the DHL Support Team.", "DHL"),
        # The customer named the watch; an app for it is the answer's own invention.
        ("Track it in the Apple Watch App.", "Apple Watch App"),
        ("Ask our Refund Service.", "Refund Service"),
    ],
)
def test_an_invented_name_is_caught_among_generic_words(answer: str, name: str) -> None:
    material = [NAMES_MATERIAL, "Can I track my parcel on my Apple Watch?"]
    assert [f.text for f in unsupported(answer, Support(material))] == [name]


def test_capitals_in_a_row_are_no_name_in_german() -> None:
    assert facts("Öffnen Sie Ihre Bestellung unter Meine Sendungen.", "de") == []


def test_a_loop_is_seen_while_it_streams() -> None:
    watch = guard.LoopWatch()
    loop = "Your parcel is on its way to you now. " * 12
    pieces = [loop[i : i + 5] for i in range(0, len(loop), 5)]
    seen = next(i for i, piece in enumerate(pieces) if watch.feed(piece))
    assert seen < len(pieces) // 2  # long before the loop ends
    assert watch.looped
    calm = guard.LoopWatch()
    answer = (
        "Open the Orders page and pick the order. Choose Change address, type the new one and save it. "
        "If the parcel has left our warehouse already, the carrier's page lets you redirect it [1]. "
        "You get an email with the new delivery date once the carrier confirms the change."
    )
    assert not any(calm.feed(answer[i : i + 3]) for i in range(0, len(answer), 3))


@pytest.mark.parametrize(
    "message",
    ["Hi!", "hello there", "Who are you?", "Hi, what can you do?", "thanks, bye", "¿Quién eres?", "Merci !", "👋"],
)
def test_small_talk(message: str) -> None:
    assert small_talk(message)


@pytest.mark.parametrize(
    "message",
    ["who won the 1998 world cup?", "What is the capital of Australia?", "Hi, who won the 1998 world cup?"],
)
def test_a_question_is_not_small_talk(message: str) -> None:
    assert not small_talk(message)


def test_loops_are_repetition_and_answers_are_not() -> None:
    assert repetitive("Your parcel is on its way to you now. " * 6)
    assert repetitive("ja " * 200)
    assert not repetitive(
        "Open the Orders page and pick the order. Choose Change address, type the new one and save it. "
        "If the parcel has left our warehouse already, the carrier's page lets you redirect it."
    )


def test_an_answer_in_another_language_is_told_apart() -> None:
    spanish = "Puedes seguir tu pedido en la página de pedidos de tu cuenta en cualquier momento."
    english = "You can track your order on the Orders page of your account at any time."
    assert wrong_language(spanish, "en")
    assert not wrong_language(english, "en-GB")
    assert wrong_language(english, "es")
    assert not wrong_language("Hola, PayPal.", "en")  # too short to tell
    assert not wrong_language(english, "ja")  # a language the guard does not tell apart
    assert guard.detect_language(spanish)[0] == "es"


def test_check_names_the_first_problem() -> None:
    support = Support([ARTICLE])
    assert check("  ", support=support, language="en").problem == "empty"
    assert check("The same words again. " * 8, support=support, language="en").problem == "repetition"
    assert check("Refunds are possible", support=support, language="en", finish_reason="length").problem == "cut_off"
    stopped = check("Refunds are possible", support=support, language="en", finish_reason="repetition")
    assert stopped.problem == "repetition"  # stopped by a LoopWatch
    verdict = check("Call 1-800-463-3339.", support=support, language="en")
    assert verdict.problem == "unsupported_fact"
    assert verdict.public() == {"unsupported": [{"kind": "phone", "text": "1-800-463-3339"}]}
    assert check("Refunds are possible within 30 days [1].", support=support, language="en").ok
    spanish = "Puedes pedir el reembolso en un plazo de treinta días desde la entrega del pedido."
    assert check(spanish, support=support, language="en").problem == "wrong_language"


def test_sources_shown_are_the_ones_used() -> None:
    texts = ["Reset your password from Settings, Security.", ARTICLE, "Parcels to Spain take longer."]
    assert used_sources("Email us, see [2].", 3, texts) == [1]
    assert used_sources("See [7].", 3, texts) == []  # no such source: none shown
    assert used_sources("Sign up with your work email; the confirmation link is valid a day.", 3, texts) == [1]
    assert used_sources("Hello! How can I help you today?", 3, texts) == []


BAR = Bar(similarity=0.5, relevance=0.86)


def source(id_: int, score: float, question: str = "Q", answer: str = "A", relevance: float | None = None) -> Source:
    return Source(id_, question, answer, f"faq-{id_}", score, relevance)


def test_the_best_ranked_article_close_enough_stands_in() -> None:
    reply = fallback("es", [source(2, 0.62, "¿Cómo sigo mi pedido?", "En Pedidos."), source(1, 0.45)], bar=BAR)
    assert reply.action == "article"
    assert reply.content == "Esto es lo que dice nuestro artículo de ayuda «¿Cómo sigo mi pedido?»:\n\nEn Pedidos."
    assert [s.id for s in reply.sources] == [2]
    assert reply.related == []
    assert reply.model == "faq"


def test_a_lower_ranked_article_never_stands_in_for_the_first() -> None:
    # The search ranked the tracking article first (its words match); the claims article is more
    # similar by cosine alone. The stand-in is the search's choice, or none.
    tracking = source(1, 0.58, "¿Cómo hago el seguimiento de un paquete?", "En Envíos.")
    claims = source(2, 0.66, "Mi paquete se ha perdido", "Abre una reclamación.")
    assert [s.id for s in fallback("es", [tracking, claims], bar=BAR).sources] == [1]
    below = fallback("es", [source(1, 0.45), claims], bar=BAR)
    assert below.action == "dont_know"
    assert [s.id for s in below.related] == [1, 2]


def test_the_rerankers_relevance_decides_when_the_search_reranked() -> None:
    # MiniLM (English) puts an unrelated Spanish article at 0.6 and a German one that answers at
    # 0.3; the multilingual reranker reads both right, so its scale decides.
    unrelated = source(1, 0.6, "¿Cómo imprimo una etiqueta de devolución?", "En Envíos.", relevance=0.83)
    assert fallback("es", [unrelated], bar=BAR).action == "dont_know"
    answers = source(2, 0.3, "How do I reset my password?", "Use the link.", relevance=0.9)
    assert fallback("de", [answers], bar=BAR).sources == [answers]
    assert Grounding(ranked=[unrelated]).clears(BAR) is False
    assert Grounding(ranked=[unrelated, answers]).clears(BAR) is True
    assert Grounding(ranked=[source(3, 0.6)]).clears(BAR) is True  # not reranked: the cosine bar


def test_else_an_honest_dont_know_with_the_closest_articles() -> None:
    reply = fallback("fr", [source(i, 0.1 * i) for i in range(1, 5)], bar=BAR)
    assert reply.action == "dont_know"
    assert reply.content.startswith("Désolé, je ne connais pas la réponse")
    assert "articles d'aide les plus proches" in reply.content
    assert [s.id for s in reply.related] == [1, 2, 3]  # in the search's order
    assert reply.sources == []
    assert reply.model == "guard"
    alone = fallback("pt-BR", [], bar=BAR)  # no article at all, and a language without texts
    assert alone.content == "I'm sorry, I don't know the answer to that, and I'd rather not guess. " + (
        "Try asking in other words, or contact our support team."
    )


def test_a_question_plainly_in_another_language_is_answered_in_it() -> None:
    assert guard.question_language("¿Dónde está mi paquete? No llega desde hace una semana", "en") == "es"
    assert guard.question_language("Where is my parcel? It has not come for a week", "es") == "en"
    assert guard.question_language("hola", "en") == "en"  # too short to tell
    assert guard.question_language("Where is my parcel, please tell me", "en-GB") == "en-GB"


def test_a_long_paragraph_said_twice_is_a_loop() -> None:
    paragraph = (
        "As a customer support assistant I am happy to help with any question you may have about "
        "your parcels, labels and invoices. "
    )
    assert not repetitive(paragraph)
    assert repetitive(paragraph * 2)  # the second time, not the third
