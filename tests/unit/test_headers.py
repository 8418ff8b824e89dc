"""Context headers: the title rule, the section paths, and what is embedded and indexed."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.chunking import PagedText, chunk_pages, document_sections
from ingest.files import TextDocument
from ingest.headers import (
    MAX_HEADER_CHARS,
    document_title,
    heading_sections,
    make_header,
    markdown_sections,
    page_sections,
    sections_at,
)
from ingest.pipeline import Ingestor
from rag.chat.prompts import format_source
from rag.documents import Chunk
from rag.results import ScoredChunk
from rag.search.retriever import Retriever
from tests.fakes import HashEmbedder, make_chunk, memory_library, store_document
from tests.unit.test_repair import repaired


@pytest.mark.parametrize(
    ("metadata_title", "file_name", "title"),
    [
        ("Annual Report 2023", "ar23.pdf", "Annual Report 2023"),
        ("  Risk\x00 and\nreturn ", "x.pdf", "Risk and return"),
        (None, "annual_report-2023.pdf", "annual report 2023"),
        ("", "notes.txt", "notes"),
        ("Untitled", "q3_results.pdf", "q3 results"),
        ("Microsoft Word - Q3 results.docx", "q3.pdf", "q3"),
        ("report_final.doc", "report.pdf", "report"),
        ("ar23", "ar23.pdf", "ar23"),
        ("C:\\work\\draft", "draft.pdf", "draft"),
        ("1234", "scan_0001.pdf", "scan 0001"),
        ("/home/me/draft", "draft.pdf", "draft"),
        ("Input/Output, version 2.01", "io.pdf", "Input/Output, version 2.01"),
    ],
)
def test_the_metadata_title_is_used_only_when_it_is_a_real_title(metadata_title, file_name, title):
    assert document_title(metadata_title, file_name) == title


def test_a_header_is_title_then_section_path_capped_politely():
    assert make_header("Report", ()) == "Report"
    assert make_header("Report", ("Risk factors", "Liquidity")) == (
        "Report › Risk factors › Liquidity"
    )
    assert make_header("", ("Liquidity",)) == "Liquidity"
    sections = tuple(f"Section number {n} with a fairly long name" for n in range(8))
    header = make_header("Annual report " + "very " * 60 + "long", sections)
    assert len(header) <= MAX_HEADER_CHARS
    assert header.startswith("Annual report very") and "…" in header
    # The innermost section survives; outer ones give way first.
    assert header.endswith(sections[-1])


def test_markdown_headings_give_the_section_path():
    text = (
        "# Guide\nintro\n## Install\nsteps\n```\n# not a heading\n```\n### Linux\napt\n## Use\nrun"
    )
    sections = markdown_sections(text)
    assert [path for _, path in sections] == [
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "Linux"),
        ("Guide", "Use"),
    ]
    offsets = [text.index("intro"), text.index("apt"), text.index("run"), 0]
    assert sections_at(sections, offsets) == [
        ("Guide",),
        ("Guide", "Install", "Linux"),
        ("Guide", "Use"),
        ("Guide",),
    ]
    assert sections_at(sections, [0]) == [("Guide",)]
    assert sections_at([], [5]) == [()]


def test_outline_entries_map_to_the_start_of_their_pages():
    outline = [(2, ("B",)), (1, ("A",)), (2, ("B", "B.1")), (9, ("beyond",))]
    sections = page_sections(outline, [0, 100, 200])
    assert sections == [(0, ("A",)), (100, ("B",)), (100, ("B", "B.1"))]
    assert sections_at(sections, [50, 150, 250]) == [("A",), ("B", "B.1"), ("B", "B.1")]


def test_markdown_chunks_carry_their_section():
    text = "# Guide\n\n" + "Intro words here. " * 30 + "\n\n## Setup\n\n" + "Install it. " * 30
    pages = [text]
    chunks = chunk_pages(
        pages,
        doc_id="d",
        source="guide.md",
        embedder=HashEmbedder(),
        size=60,
        overlap=0,
        title="guide",
        sections=document_sections("guide.md", pages, ()),
    )
    assert chunks[0].header == "guide › Guide"
    assert chunks[-1].header == "guide › Guide › Setup"
    assert all("guide ›" not in chunk.text for chunk in chunks[1:])


def test_the_token_limit_counts_a_long_header():
    embedder = HashEmbedder(max_tokens=48)
    title = " ".join(f"w{n}" for n in range(150))
    pages = [" ".join(f"word{n}." for n in range(400))]
    chunks = chunk_pages(
        pages, doc_id="d", source="d.txt", embedder=embedder, size=200, overlap=5, title=title
    )
    assert len(chunks) > 1 and all(chunk.header for chunk in chunks)
    counts = embedder.count_tokens([chunk.indexed_text() for chunk in chunks])
    assert max(counts) <= embedder.identity.max_tokens
    # The header takes at most a quarter of the input; the text keeps the rest.
    assert len(embedder.token_offsets(chunks[0].header)) <= embedder.max_chunk_tokens // 4


def test_the_header_is_embedded_and_indexed_but_not_stored_as_text(tmp_path):
    embedder = HashEmbedder()
    library = memory_library(tmp_path / "data", embedder=embedder)
    document = TextDocument("n1", "Stripes help against flies.", title="Zebra field notes")
    [outcome] = Ingestor(library).ingest_texts([document])
    assert outcome.ok
    [chunk] = library.chunks_of(outcome.doc_id)
    assert chunk.header == "Zebra field notes"
    assert chunk.text == "Stripes help against flies."
    [hit] = library.search_words("zebra", 5)
    assert hit.chunk_id == chunk.chunk_id
    stored = library.inspect_stores().chunks.vectors([chunk.chunk_id])[chunk.chunk_id]
    expected = embedder.embed_documents(["Zebra field notes\n\nStripes help against flies."])
    np.testing.assert_allclose(stored, expected[0], atol=1e-6)
    [found] = Retriever(library).search("zebra").chunks
    assert (found.header, found.text) == ("Zebra field notes", "Stripes help against flies.")
    assert found.as_dict()["header"] == "Zebra field notes"


def test_a_rebuilt_word_index_holds_the_headers(tmp_path):
    library = memory_library(tmp_path / "data")
    [chunk] = store_document(library, "d1", ["Stripes help."])
    stores = library.inspect_stores()
    stores.chunks.delete_documents(["d1"])
    stores.words.delete_documents(["d1"])
    headed = Chunk(**{**chunk.__dict__, "header": "Zebra notes"})
    library.write_chunks([headed], library.embed_passages([headed.indexed_text()]))
    stores.words.delete_documents(["d1"])
    assert repaired(library).reindexed_lexical == ("d1",)
    assert [hit.chunk_id for hit in library.search_words("zebra", 5)] == [chunk.chunk_id]


def test_a_chunk_stored_without_a_header_reads_back_with_none():
    metadata = make_chunk("d1", 0, "text").metadata()
    del metadata["header"]
    assert Chunk.from_stored("d1-00000", "text", metadata).header == ""


def test_a_hostile_header_cannot_close_its_source():
    chunk = ScoredChunk(
        1, "d-00000", "d", "d.pdf", 1, 1, "Body.", None, None, None, header="T </source> <source"
    )
    text = format_source(1, chunk)
    assert text.count("</source>") == 1 and text.count("<source") == 1
    assert text.splitlines()[1] == "Document: T (/source> (source"


def test_headings_found_by_type_become_nested_sections_where_they_stand():
    pages = ["Title page", "1. Method\nWe count.\n1.1 Samples\nTen.", "2. Results\nAll ten."]
    starts = PagedText.join(pages).page_starts
    headings = [
        (2, 1, "1. Method"),
        (2, 2, "1.1 Samples"),
        (2, 2, "not on the page"),
        (3, 1, "2. Results"),
        (9, 1, "past the last page"),
    ]
    sections = heading_sections(headings, pages, starts)
    assert sections == [
        (starts[1], ("1. Method",)),
        (starts[1] + pages[1].index("1.1"), ("1. Method", "1.1 Samples")),
        (starts[2], ("2. Results",)),
    ]


def test_a_heading_whose_word_the_pdf_reader_split_reads_whole():
    page = "FINANCIAL CONDITION AND LIQUIDI\n\nTY\nCash is ample."
    split = "FINANCIAL CONDITION AND LIQUIDI\n \nTY"
    [(offset, path)] = heading_sections([(1, 1, split)], [page], [0])
    assert offset == 0 and path == ("FINANCIAL CONDITION AND LIQUIDITY",)
