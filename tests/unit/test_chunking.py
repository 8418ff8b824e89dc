"""Token-aware chunking with the real model's tokenizer, on made-up and real page texts."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest

from ingest.chunking import PAGE_SEPARATOR, PagedText, chunk_pages
from ingest.cleaning import clean_text
from rag.documents import Chunk, chunk_id_for
from tests.conftest import PDFS

IRS_PDF = PDFS / "long" / "pdfminer_irs_i1040nr.pdf"
NUMBERS = ["one", "two", "three", "four", "five", "six"]
NUMBERS += ["seven", "eight", "nine", "ten", "eleven", "twelve"]
TOPICS = ["rivers", "taxes", "engines", "gardens", "poems", "bridges", "storms", "maps"]
SENTENCE_ENDS = (".", "!", "?")


def prose_page(number: int, sentences: int) -> str:
    """A page of sentences, each naming its page: "Page seven, line 3, is about maps."."""
    name = NUMBERS[number - 1]
    ends = ".!?"
    return " ".join(
        f"Page {name}, line {i}, is about {TOPICS[(number + i) % len(TOPICS)]}{ends[i % 3]}"
        for i in range(1, sentences + 1)
    )


def make_chunks(pages: Sequence[str], embedder, size: int = 200, overlap: int = 30, doc="doc1"):
    return chunk_pages(
        pages, doc_id=doc, source="a.pdf", embedder=embedder, size=size, overlap=overlap
    )


def page_spans(pages: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) of each page in the joined text, worked out independently."""
    spans, offset = [], 0
    for page in pages:
        spans.append((offset, offset + len(page)))
        offset += len(page) + len(PAGE_SEPARATOR)
    return spans


def page_of(spans: list[tuple[int, int]], offset: int) -> int:
    return next(n for n, (start, end) in enumerate(spans, start=1) if start <= offset < end)


def check_chunks(pages: Sequence[str], chunks: list[Chunk], embedder, size: int, overlap: int):
    """Every property a list of chunks must have; returns the joined text."""
    text = PAGE_SEPARATOR.join(pages)
    spans = page_spans(pages)
    limit = min(size, embedder.max_chunk_tokens)
    assert chunks, "a document with text gives at least one chunk"
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert chunk.chunk_id == chunk_id_for("doc1", index)
        assert chunk.doc_id == "doc1"
        assert chunk.source == "a.pdf"
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert chunk.text.strip() == chunk.text, "chunks begin and end on a token"
        assert 0 < chunk.tokens <= limit
        model_tokens = embedder.count_tokens([chunk.text])[0]
        assert model_tokens <= embedder.identity.max_tokens, (chunk.index, model_tokens)
        assert chunk.page_start == page_of(spans, chunk.char_start)
        assert chunk.page_end == page_of(spans, chunk.char_end - 1)
    for before, after in pairwise(chunks):
        assert before.char_start < after.char_start
        assert before.char_end < after.char_end
        if overlap > 0:
            assert after.char_start < before.char_end, (before.index, after.index)
        else:
            assert after.char_start >= before.char_end, (before.index, after.index)
    check_covered(text, chunks)
    return text


def check_covered(text: str, chunks: list[Chunk]) -> None:
    """No gaps: every visible character of the text is in some chunk."""
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.char_start : chunk.char_end] = b"\x01" * (chunk.char_end - chunk.char_start)
    missing = [i for i, ch in enumerate(text) if not covered[i] and not ch.isspace()]
    assert not missing, f"not in any chunk: {text[missing[0] : missing[0] + 40]!r}"


def shared_tokens(embedder, text: str, before: Chunk, after: Chunk) -> int:
    spans = embedder.token_offsets(text)
    return sum(1 for start, end in spans if after.char_start <= start and end <= before.char_end)


@pytest.fixture(scope="module")
def irs_pages() -> list[str]:
    if not IRS_PDF.is_file():
        pytest.skip(f"{IRS_PDF} not found")
    from pypdf import PdfReader

    reader = PdfReader(IRS_PDF)
    return [clean_text(page.extract_text() or "") for page in reader.pages[:10]]


@pytest.fixture(scope="module")
def prose_pages() -> list[str]:
    return [prose_page(number, 8 + 5 * (number % 4)) for number in range(1, 13)]


@pytest.mark.parametrize(("size", "overlap"), [(200, 30), (120, 0), (64, 16), (40, 20)])
def test_generated_pages_hold_every_property(embedder, prose_pages, size, overlap):
    chunks = make_chunks(prose_pages, embedder, size, overlap)
    check_chunks(prose_pages, chunks, embedder, size, overlap)


@pytest.mark.parametrize(("size", "overlap"), [(200, 30), (254, 0), (100, 10)])
def test_real_pdf_pages_hold_every_property(embedder, irs_pages, size, overlap):
    chunks = make_chunks(irs_pages, embedder, size, overlap)
    check_chunks(irs_pages, chunks, embedder, size, overlap)
    assert len(chunks) > 10 * 1000 // size  # about 6,000 tokens a page


def test_size_above_the_model_limit_is_capped(embedder, irs_pages):
    chunks = make_chunks(irs_pages[:3], embedder, size=1000, overlap=50)
    check_chunks(irs_pages[:3], chunks, embedder, 1000, 50)
    assert embedder.max_chunk_tokens == embedder.identity.max_tokens - 2 == 254
    assert 200 < max(chunk.tokens for chunk in chunks) <= 254


def test_overlap_shares_at_most_the_asked_number_of_tokens(embedder, prose_pages):
    chunks = make_chunks(prose_pages, embedder, size=100, overlap=20)
    text = PAGE_SEPARATOR.join(prose_pages)
    shared = [shared_tokens(embedder, text, a, b) for a, b in pairwise(chunks)]
    assert all(0 < count <= 20 for count in shared), shared


def test_chunks_report_the_pages_they_name(embedder, prose_pages):
    chunks = make_chunks(prose_pages, embedder, size=80, overlap=10)
    for chunk in chunks:
        for number, name in enumerate(NUMBERS, start=1):
            if f"Page {name}," in chunk.text:
                assert chunk.page_start <= number <= chunk.page_end, (name, chunk.pages)
    spanning = [chunk for chunk in chunks if chunk.page_end == chunk.page_start + 1]
    assert spanning, "with 80-token chunks some chunk must cross a page break"
    for chunk in spanning:
        assert PAGE_SEPARATOR in chunk.text
    both_named = [
        chunk
        for chunk in spanning
        if f"Page {NUMBERS[chunk.page_start - 1]}," in chunk.text
        and f"Page {NUMBERS[chunk.page_end - 1]}," in chunk.text
    ]
    assert both_named


def test_small_pages_share_one_chunk(embedder):
    pages = ["Page one.", "Page two.", "Page three."]
    (chunk,) = make_chunks(pages, embedder)
    assert (chunk.page_start, chunk.page_end) == (1, 3)
    assert chunk.text == "Page one.\n\nPage two.\n\nPage three."
    assert chunk.tokens == 9


def test_same_input_gives_identical_chunks(embedder, irs_pages):
    first = make_chunks(irs_pages[:4], embedder)
    assert make_chunks(irs_pages[:4], embedder) == first
    other = make_chunks(irs_pages[:4], embedder, doc="doc2")
    assert [c.text for c in other] == [c.text for c in first]
    assert {c.chunk_id for c in other}.isdisjoint(c.chunk_id for c in first)


def test_cuts_prefer_sentence_ends(embedder, prose_pages):
    # One long paragraph, so sentence ends are the strongest boundaries there are.
    page = " ".join(prose_pages)
    chunks = make_chunks([page], embedder, size=100, overlap=20)
    assert len(chunks) > 10
    assert [c.text[-20:] for c in chunks if not c.text.endswith(SENTENCE_ENDS)] == []
    # The overlap begins at a sentence too, not in the middle of one.
    assert [c.text[:20] for c in chunks if not c.text.startswith("Page ")] == []


def test_cuts_prefer_paragraphs_over_sentences(embedder):
    paragraph = " ".join(f"Sentence {i} of the paragraph ends here." for i in range(6))
    text = "\n\n".join([paragraph] * 12)
    chunks = make_chunks([text], embedder, size=120, overlap=0)
    assert all(chunk.text.startswith("Sentence 0 ") for chunk in chunks)
    assert all(chunk.text.endswith("Sentence 5 of the paragraph ends here.") for chunk in chunks)


def test_most_real_chunks_end_at_a_sentence_or_line(embedder, irs_pages):
    chunks = make_chunks(irs_pages, embedder)
    text = PAGE_SEPARATOR.join(irs_pages)
    natural = [
        chunk.text.endswith((*SENTENCE_ENDS, ";", ":"))
        or text[chunk.char_end : chunk.char_end + 1] == "\n"
        for chunk in chunks[:-1]
    ]
    assert sum(natural) >= 0.8 * len(natural)


JAPANESE = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    "吾輩はここで始めて人間というものを見た。"
)


@pytest.mark.parametrize("text", [JAPANESE * 40, JAPANESE.replace("。", "") * 40])
def test_japanese_without_spaces_is_chunked_within_the_limit(embedder, text):
    pages = [text[: len(text) // 2], text[len(text) // 2 :]]
    for size, overlap in [(200, 30), (254, 30), (60, 10)]:
        chunks = make_chunks(pages, embedder, size, overlap)
        assert len(chunks) > 1
        joined = PAGE_SEPARATOR.join(pages)
        for chunk in chunks:
            assert chunk.text == joined[chunk.char_start : chunk.char_end]
            assert chunk.tokens <= size
            assert embedder.count_tokens([chunk.text])[0] <= embedder.identity.max_tokens
        check_covered(joined, chunks)


def test_japanese_chunks_begin_at_a_sentence_not_at_its_full_stop(embedder):
    # Japanese and Chinese put no space after "。"; it must still count as a sentence end,
    # or chunks would begin with the previous sentence's full stop.
    chunks = make_chunks([JAPANESE * 40], embedder, size=200, overlap=30)
    assert len(chunks) > 3
    assert all(chunk.text.endswith("。") for chunk in chunks)
    assert not [chunk.index for chunk in chunks if chunk.text.startswith("。")]


def test_chunk_starting_inside_a_word_stays_within_the_model_limit(embedder):
    # A cut between two word pieces ("token|izer") re-tokenises into more pieces than were
    # counted ("izer" is "i", "##zer"); at the largest chunk size that must still fit.
    text = "中" * 253 + "tokenizer" + "中" * 400
    chunks = make_chunks([text], embedder, size=254, overlap=30)
    counts = embedder.count_tokens([chunk.text for chunk in chunks])
    assert max(counts) <= embedder.identity.max_tokens, [c.text[:6] for c in chunks]


@pytest.mark.parametrize("pages", [[], [""], ["", "", ""], ["  ", "\n\n", "\t"]])
def test_pages_without_text_give_no_chunks(embedder, pages):
    assert make_chunks(pages, embedder) == []


def test_empty_pages_keep_the_numbering(embedder):
    pages = ["", "Text of page two.", "", "", "Text of page five."]
    chunks = make_chunks(pages, embedder)
    assert len(chunks) == 1
    assert (chunks[0].page_start, chunks[0].page_end) == (2, 5)
    chunks = make_chunks(pages, embedder, size=6, overlap=0)
    assert [(c.page_start, c.page_end) for c in chunks] == [(2, 2), (5, 5)]


def test_paged_text_join_and_page_at():
    paged = PagedText.join(["ab", "cde", "", "f"])
    assert paged.text == "ab\n\ncde\n\n\n\nf"
    assert paged.page_starts == (0, 4, 9, 11)
    assert [paged.page_at(i) for i in range(len(paged.text))] == [
        1, 1, 1, 1,  # "ab" and the separator after it
        2, 2, 2, 2, 2,  # "cde" and its separator
        3, 3,  # the empty page is only its separator
        4,
    ]  # fmt: skip
    assert paged.page_at(100) == 4
    assert paged.page_at(-5) == 1


def test_paged_text_of_no_pages():
    paged = PagedText.join([])
    assert paged.text == ""
    assert paged.page_starts == ()
    assert paged.page_at(0) == 1
