"""A long PDF is embedded while it is read: the parser process streams its pages, and the
chunks before the last page read are embedded early, with the same outcome as before."""

from __future__ import annotations

import time

import numpy as np

from ingest.chunked import Source, chunk_document
from ingest.files import FileStatus, Step
from ingest.parsing import parse_file, parse_limits
from ingest.queue.worker import JobCancelledError
from tests.conftest import pdf

WITH_OUTLINE = "cl_constitucion_es.pdf"  # 96 pages, bookmarks
WITHOUT_OUTLINE = "pdfminer_irs_i1040nr.pdf"  # 50 pages, sections from headings


def _stream(library, name: str):
    data = pdf(name).read_bytes()
    messages: list[dict] = []
    parsed = parse_file(name, data, None, parse_limits(library.settings), None, messages.append)
    return parsed, messages


def test_the_parser_sends_the_document_then_each_page_as_read(library):
    parsed, messages = _stream(library, WITH_OUTLINE)
    first, *rest = messages
    assert first["document"]["title"] == parsed.title
    assert [tuple(entry) for entry in first["document"]["outline"]] == [
        (page, list(path)) for page, path in parsed.outline
    ]
    pages = [m["page"] for m in rest if "page" in m]
    assert [number for number, _, _ in pages] == list(range(1, 97))
    assert {total for _, total, _ in pages} == {96}
    assert tuple(text for _, _, text in pages) == parsed.pages  # no page was scanned
    assert not any("headings" in m for m in messages)  # the outline gives the sections


def test_without_an_outline_headings_come_as_pages_are_read(library):
    parsed, messages = _stream(library, WITHOUT_OUTLINE)
    assert messages[0]["document"]["outline"] == []
    headings = [m["headings"] for m in messages if "headings" in m]
    assert [through for through, _ in headings] == [32]  # then 64, 128... pages had there been
    assert len([m for m in messages if "page" in m]) == len(parsed.pages) == 50


def test_a_long_pdf_is_embedded_while_read_with_the_same_chunks(ingestor, library):
    data = pdf(WITH_OUTLINE).read_bytes()
    reported: list[tuple[int, int, Step]] = []

    def slowly(*progress) -> None:  # pages come as from a slower disk: the test's pace
        reported.append(progress)
        time.sleep(0.04 if progress[2] is Step.READ else 0)

    prepared = ingestor.prepare(WITH_OUTLINE, data, None, slowly)
    # The same chunks as reading the file in one go.
    parsed = parse_file(WITH_OUTLINE, data, None, parse_limits(library.settings))
    source = Source(WITH_OUTLINE, len(data), prepared.record.doc_id, prepared.record.sha256)
    plain = chunk_document(library.settings, library.tokenizer, source, parsed)
    assert [c.indexed_text() for c in prepared.document.chunks] == [
        c.indexed_text() for c in plain.chunks
    ]
    # Some were embedded while the later pages were read, and are the final chunks' vectors.
    early = [c.indexed_text() for c in plain.chunks if c.indexed_text() in prepared.vectors]
    assert len(early) >= 32
    assert len(early) >= 0.9 * len(prepared.vectors)  # little was embedded in vain
    fresh = library.embed_passages(early[:16])
    got = np.vstack([prepared.vectors[text] for text in early[:16]])
    assert np.min(np.sum(fresh * got, axis=1)) > 0.99  # int8 moves a little with its batch
    # Pages read were reported as they came.
    assert (96, 96, Step.READ) in reported
    assert ingestor.commit(prepared).status is FileStatus.INGESTED
    assert library.documents()[0].chunks == len(plain.chunks)


def test_a_file_stopped_while_read_leaves_nothing_and_no_work_behind(ingestor, library):
    def stop_at_page_40(done: int, total: int, step: Step) -> None:
        if step is Step.READ and done >= 40:
            raise JobCancelledError("cancelled")

    data = pdf(WITH_OUTLINE).read_bytes()
    outcome = ingestor.prepare(WITH_OUTLINE, data, None, stop_at_page_40)
    assert outcome.status is FileStatus.FAILED and outcome.reason == "cancelled"
    assert library.documents() == []
    prepared = ingestor.prepare(WITH_OUTLINE, data)  # and the file still reads in full
    assert prepared.record.pages == 96
