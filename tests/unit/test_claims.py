"""Each sentence of an answer checked against the sources it cites: splitting, numbers,
content words, every verdict, the summary and quotes."""

from __future__ import annotations

import pytest

from rag.answers import Answer, AnswerKind
from rag.chat.claims import (
    SUPPORT_THRESHOLD,
    ClaimsTrace,
    SentenceCheck,
    Verdict,
    check_claims,
    claim_words,
    claims_trace,
    quoted,
    support_summary,
)
from rag.chat.export import conversation_json, conversation_markdown
from rag.chat.extractive import extractive_answer
from rag.chat.numbers import find_numbers
from rag.chat.sentences import sentence_spans
from rag.chat.words import content_words, word_support
from rag.results import ScoredChunk

RUST = "Tantivy is a full-text search engine library written in Rust."
REVENUE = "Total revenue was $1,600 million in fiscal 2023, against $1,420 million in 2022."


def chunk(rank: int, text: str, header: str = "") -> ScoredChunk:
    return ScoredChunk(
        rank, f"doc-{rank:05d}", "doc", "a.pdf", 1, 1, text, None, None, None, header=header
    )


SOURCES = (chunk(1, RUST), chunk(2, REVENUE, header="Annual report 2023 › Results"))


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def test_sentences_keep_decimals_abbreviations_and_their_citation_markers():
    text = (
        "Revenue rose to $1.6 billion in the U.S. market [1]. Apple Inc. sold more, e.g."
        " phones.[2] Costs fell 3.5%. [3] Is that all? Yes!"
    )
    assert sentences(text) == [
        "Revenue rose to $1.6 billion in the U.S. market [1].",
        "Apple Inc. sold more, e.g. phones.[2]",
        "Costs fell 3.5%. [3]",
        "Is that all?",
        "Yes!",
    ]


def test_list_items_and_headings_are_sentences_without_their_bullets():
    text = "## Results\n- Revenue rose [1]\n* Costs fell [2].\n1. First step. Second step.\n"
    assert sentences(text) == [
        "Results",
        "Revenue rose [1]",
        "Costs fell [2].",
        "First step.",
        "Second step.",
    ]


def test_markers_alone_after_a_quote_stay_with_their_sentence():
    assert sentences('Mice made with "artificial spermatids." [1]. Next.') == [
        'Mice made with "artificial spermatids." [1].',
        "Next.",
    ]


def test_spans_point_into_the_answer_text():
    text = "  First claim [1].\n\n- Second claim [2]."
    checks = check_claims(text, SOURCES)
    assert [text[c.start : c.end] for c in checks] == [c.text for c in checks]
    assert [c.citations for c in checks] == [(1,), (2,)]


@pytest.mark.parametrize(
    ("stated", "source", "found"),
    [
        ("1.6 billion", "1,600 million", True),
        ("$1.6 billion", "USD 1.6bn", True),
        ("1.6 billion", "Revenue | $1,600 | $1,420", True),  # a table in millions
        ("1.6 billion", "1,577 million", True),  # the source rounds to what is stated
        ("1.7 billion", "1,577 million", False),
        ("1,577 million", "1.6 billion", False),  # more precise than the source
        ("12.5%", "12.5 percent", True),
        ("12.5 percent", "a margin of 12.5", True),
        ("12.6%", "12.5%", False),
        ("a loss of 1,234", "(1,234)", True),
        ("€3m", "3,000 thousand", True),
        ("2019", "in fiscal 2019.", True),
        ("2019", "in fiscal 2018.", False),
        ("the 3rd quarter", "quarter 3", True),
        ("5 employees", "$4.7 million", False),  # a bare figure in prose is taken as written
        ("2 sites", "2,400 staff", False),
        ("1'600 million", "1,600 million", True),
        ("1\u00a0600 million", "$1.6 billion", True),
    ],
)
def test_numbers_match_whatever_way_they_are_written(stated, source, found):
    [number] = find_numbers(stated)
    assert number.found_in(find_numbers(source)) is found


def test_numbers_are_parsed_with_sign_scale_and_precision():
    parsed = find_numbers("(1,234) fell -5% to $1.6bn in 2023 [12].")
    assert [(n.value, n.negative) for n in parsed] == [
        (1234, True),
        (5, True),
        (1.6e9, False),
        (2023, False),
    ]
    assert parsed[2].step == pytest.approx(1e8)


def test_content_words_drop_stopwords_numbers_and_suffixes():
    assert content_words("The company's studies reduced reductions in 2023") == [
        "compa",
        "study",
        "reduc",
        "reduc",
    ]
    assert claim_words("Revenue was $1.6 billion, up 5 percent") == ["reven"]
    assert word_support(["reven", "rise"], frozenset({"reven"})) == 0.5
    assert word_support([], frozenset({"reven"})) is None


def verdict_of(text: str) -> SentenceCheck:
    [check] = check_claims(text, SOURCES)
    return check


def test_a_sentence_whose_numbers_and_words_are_in_its_source_is_supported():
    check = verdict_of("Total revenue was $1.6 billion in fiscal 2023 [2].")
    assert check.verdict is Verdict.SUPPORTED and check.citations == (2,)
    assert check.reason.startswith("its numbers and most of its words are in [2]")
    assert check.support == 1.0


def test_a_number_missing_from_the_cited_source_is_named():
    check = verdict_of("Total revenue was 1,577 in fiscal 2023 [2].")
    assert check.verdict is Verdict.UNSUPPORTED
    assert check.reason == "1,577 not found in [2]"


def test_a_sentence_citing_a_source_without_its_words_is_unsupported():
    check = verdict_of("Tantivy is a search library written in Rust [2].")
    assert check.verdict is Verdict.UNSUPPORTED
    assert check.support < SUPPORT_THRESHOLD
    assert check.reason == f"few of its words are in [2] (support 0.00 < {SUPPORT_THRESHOLD:.2f})"
    # Either of two cited sources may hold the words.
    assert verdict_of("Tantivy is a search library written in Rust [2][1].").verdict is (
        Verdict.SUPPORTED
    )


def test_a_citation_of_no_source_makes_the_sentence_unsupported():
    check = verdict_of("Tantivy is written in Rust [7].")
    assert check.verdict is Verdict.UNSUPPORTED
    assert check.reason == "cites [7], which is not a source"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Revenue reached $1.6 billion.", "states $1.6 billion but cites no source"),
        ("Chroma stores vectors for similarity search.", "states a fact but cites no source"),
    ],
)
def test_a_claim_without_a_citation_is_uncited(text, reason):
    check = verdict_of(text)
    assert check.verdict is Verdict.UNCITED and check.reason == reason


@pytest.mark.parametrize(
    "text",
    [
        "The sources do not say who maintains Tantivy.",
        "This is not mentioned in the documents [1].",
        "I hope this helps!",
        "In summary:",
        "Which year do you mean?",
    ],
)
def test_sentences_without_a_claim_are_not_counted(text):
    check = verdict_of(text)
    assert check.verdict is Verdict.NO_CLAIM and check.reason
    assert support_summary([check]) == "No sentence states a claim to check"


def test_a_run_of_digits_too_long_for_a_number_is_none():
    # As a float it would be infinite, and infinity is within any tolerance of itself.
    assert find_numbers("4" * 400) == []


def test_a_sentence_stating_a_number_is_always_a_claim():
    check = verdict_of("Revenue was $9.7 billion, with no details on margins [1].")
    assert check.verdict is Verdict.UNSUPPORTED and "$9.7 billion not found" in check.reason


def test_a_negative_statement_about_the_world_is_still_a_claim():
    check = verdict_of("Tantivy did not provide any guidance on Rust [1].")
    assert check.verdict is Verdict.UNSUPPORTED and "guida" not in RUST
    assert verdict_of("The company did not record a loss last year.").verdict is Verdict.UNCITED


def test_the_summary_counts_supported_claims_and_leaves_out_the_rest():
    text = (
        "Total revenue was $1.6 billion in fiscal 2023 [2]. Tantivy is written in Rust [1]."
        " Revenue was 1,577 in 2023 [2]. Chroma stores embeddings for search. Hope this helps!"
    )
    checks = check_claims(text, SOURCES)
    assert [c.verdict for c in checks] == [
        Verdict.SUPPORTED,
        Verdict.SUPPORTED,
        Verdict.UNSUPPORTED,
        Verdict.UNCITED,
        Verdict.NO_CLAIM,
    ]
    assert support_summary(checks) == "2 of 4 sentences supported by their sources"
    step = claims_trace(checks, 0.0)
    assert isinstance(step, ClaimsTrace) and step.title == "Claim check"
    labelled = step.labelled()
    assert labelled["sentences"] == 5 and labelled["supported"] == 2
    assert labelled["unsupported"] == labelled["uncited"] == 1
    assert labelled["word support threshold"] == SUPPORT_THRESHOLD
    assert support_summary([]) == ""


def test_a_retrieval_only_answer_is_all_quotes():
    sources = [chunk(1, RUST + " It is fast. It indexes U.S. text."), chunk(2, REVENUE)]
    text = extractive_answer("tantivy rust fast revenue", sources)
    checks = quoted(text, sources)
    assert len(checks) == 3 and {c.verdict for c in checks} == {Verdict.QUOTE}
    assert all(text[c.start : c.end] == c.text and c.text.startswith("“") for c in checks)
    assert checks[0].reason == "quoted as it stands in [1]"
    assert support_summary(checks) == "All 3 sentences are quoted from the sources"
    assert support_summary(checks[:1]) == "The sentence is quoted from the sources"


def test_the_answer_carries_its_checks_into_json_and_markdown():
    text = "Total revenue was $1.6 billion in fiscal 2023 [2]. Revenue was 1,577 in 2023 [2]."
    checks = check_claims(text, SOURCES)
    answer = Answer("q", "q", text, AnswerKind.GENERATED, sources=SOURCES, sentences=checks)
    assert answer.support_summary == "1 of 2 sentences supported by their sources"
    assert answer.flagged == checks[1:]
    data = answer.as_dict()
    assert [s["verdict"] for s in data["sentences"]] == ["supported", "unsupported"]
    assert data["sentences"][1]["reason"] == "1,577 not found in [2]"
    assert set(data["sentences"][0]) >= {"text", "citations", "verdict", "reason", "start"}
    assert '"verdict": "unsupported"' in conversation_json([answer])
    markdown = conversation_markdown([answer])
    assert "**Claim check:** 1 of 2 sentences supported by their sources." in markdown
    assert "- *unsupported:* “Revenue was 1,577 in 2023 [2].” (1,577 not found in [2])" in (
        markdown
    )
    assert "Total revenue was $1.6 billion in fiscal 2023 [2].”" not in markdown
