"""Scanned pages, inside the parser process: which pages need text recognition, reading
them within their budgets, and what the reply gains (`ocr_pages`, `ocr_words`,
`ocr_skipped`).

A page needs recognition when its text layer is missing or looks like junk (a bad OCR
layer, a font without a character map): the same test the pipeline applies afterwards.
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Sequence

from ingest.cleaning import check_pages, clean_text
from ingest.reasons import too_much_text
from rag.errors import IngestError

# Writes one JSON message to the parent (`ingest.worker.emit`).
Emit = Callable[[dict], None]
# Word boxes are fractions of the page: four decimals place a box within a tenth of a
# millimetre on an A4 page, and keep the reply small.
_BOX_DECIMALS = 4


def pages_needing_ocr(pages: Sequence[str], unreadable: Sequence[int] = ()) -> list[int]:
    """The 1-based pages whose text layer gives nothing to index. A page the PDF reader
    could not read is left alone: its damage (a bomb, an impossible size) would only be
    met again, in a renderer, at the cost of the whole document."""
    unusable = check_pages([clean_text(page) for page in pages]).unusable
    damaged = set(unreadable)
    return [number for number in unusable if number not in damaged]


def read_scanned_pages(reply: dict, data: bytes, request: dict, emit: Emit) -> dict:
    """Read by text recognition the pages of the PDF reader's `reply` that need it, when
    the request allows; the reply's new and changed fields ({} when nothing was read)."""
    options = request.get("ocr") or {}
    pages = reply["pages"]
    wanted = pages_needing_ocr(pages, reply["unreadable_pages"]) if options.get("enabled") else []
    if not wanted:
        return {}
    _allow_ocr_memory()
    # Imported here: loading the recognition runtime costs time and memory that a PDF
    # with a text layer never needs.
    from ingest.ocr import OcrBudget, ocr_pdf_pages

    budget = OcrBudget(
        page_timeout_s=options["page_timeout_s"],
        document_timeout_s=options["document_timeout_s"],
    )

    def progress(done: int, total: int) -> None:
        if done < len(wanted):
            emit({"progress": [wanted[done], len(pages)]})

    result = ocr_pdf_pages(data, request["password"], wanted, budget, progress)
    return _merge(pages, result, request["max_chars"])


def _merge(pages: list[str], result, max_chars: int) -> dict:
    """The pages with their recognised text in place, and where each word was found."""
    merged = list(pages)
    read = sorted(number for number, page in result.pages.items() if page.text.strip())
    for number in read:
        merged[number - 1] = result.pages[number].text
    total = sum(map(len, merged))
    if total > max_chars:
        raise IngestError(too_much_text(max_chars))
    return {
        "pages": merged,
        "ocr_pages": read,
        "ocr_words": {str(number): _words(result.pages[number].words) for number in read},
        "ocr_skipped": {str(number): why for number, why in result.skipped.items()},
    }


def _words(words) -> list[list]:
    return [[word.text, *(round(x, _BOX_DECIMALS) for x in word.box)] for word in words]


def _allow_ocr_memory() -> None:
    """Raise this process's memory limit to the ceiling set aside for recognition."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
