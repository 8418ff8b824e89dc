"""Every hostile Office, EPUB, OpenDocument, CSV and HTML file through the whole pipeline:
the real parser process with its limits, then the library. Each is refused with its reason
within the deadline (or read, within bounds, where it should be), and nothing of a refused
file becomes visible."""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from ingest.files import FileStatus
from ingest.pipeline import Ingestor
from tests.faults.test_hostile_files import assert_left_nothing
from tests.support.hostile_office import HostileCase, hostile_cases

TIMEOUT_S, MEMORY_MB = 20, 512
# Starting the parser process and opening the library's stores.
MARGIN_S = 10


@pytest.mark.parametrize("case", hostile_cases(), ids=lambda case: case.name)
def test_each_hostile_file_is_handled_by_the_pipeline(case: HostileCase, make_library):
    # The case's reading limits, as the settings that set them (the member count has none).
    limits = {k: v for k, v in asdict(case.limits).items() if k != "max_zip_members"}
    library = make_library(parse_timeout_s=TIMEOUT_S, parse_memory_mb=MEMORY_MB, **limits)
    started = time.perf_counter()
    outcome = Ingestor(library).ingest_bytes(f"hostile{case.suffix}", case.build())
    assert time.perf_counter() - started < TIMEOUT_S + MARGIN_S
    if case.reason is None:
        # Read within bounds; what is left may still be too little like words to index.
        if outcome.status is FileStatus.FAILED:
            assert "looks like junk" in outcome.reason or "no text" in outcome.reason
            assert_left_nothing(library, outcome.doc_id)
        else:
            assert outcome.doc_id in {d.doc_id for d in library.documents()}
        return
    assert outcome.status is FileStatus.FAILED
    assert case.reason in outcome.reason, outcome.reason
    assert_left_nothing(library, outcome.doc_id)
