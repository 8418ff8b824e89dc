"""Every format end to end, as a user runs it: `python -m ingest add --json` on a folder,
then a search that finds a phrase of each file, cited in the format's own terms."""

from __future__ import annotations

import pytest

from tests.conftest import pdf
from tests.support import office_files
from tests.support.helpers import run_json
from tests.support.scans import scanned_pdf

SCANNED_TEXT = "The lighthouse keeper logged forty ships passing the northern cape."
FILES = {
    "handbook.docx": office_files.docx_file,
    "beekeeping.pptx": office_files.pptx_file,
    "harvest.xlsx": office_files.xlsx_file,
    "harvest-macros.xlsm": office_files.xlsm_file,
    "prices.csv": office_files.csv_file,
    "lavender.html": office_files.html_file,
    "apiary.epub": office_files.epub_file,
    "garden.odt": office_files.odt_file,
    "logbook-scan.pdf": lambda: scanned_pdf([SCANNED_TEXT], seed=7, dpi=200),
}
# (query, file, where its chunk is, as citations say it). A small document is one chunk,
# cited by the section it starts in.
FINDS = [
    ("Prune the leaders with loppers in March", "handbook.docx", "section Orchard Handbook"),
    ("inspect every ten days", "beekeeping.pptx", "slide 2"),
    ("Queen replaced in May", "harvest.xlsx", "sheet Notes, rows 1-2"),
    ("Queen replaced in May", "harvest-macros.xlsm", "sheet Notes, rows 1-2"),
    ("Reine des reinettes golden", "prices.csv", "rows 1-"),
    ("cut the lavender stems at dawn", "lavender.html", "section Lavender harvest"),
    ("Swarms leave the hive in early June", "apiary.epub", "chapter 2"),
    ("Weed the carrots stake the tomatoes", "garden.odt", "section Garden Diary"),
    ("lighthouse keeper logged forty ships", "logbook-scan.pdf", "p. 1"),
]


@pytest.fixture(scope="module")
def library_folder(tmp_path_factory):
    """A data folder holding one file of every format, added by the command line."""
    folder = tmp_path_factory.mktemp("documents")
    for name, make in FILES.items():
        (folder / name).write_bytes(make())
    (folder / "typed.pdf").write_bytes(pdf("sf_minimal-document.pdf").read_bytes())
    data_dir = tmp_path_factory.mktemp("data")
    report = run_json("ingest", "add", str(folder), data_dir=data_dir)
    return data_dir, {entry["path"].rsplit("/", 1)[-1]: entry for entry in report["files"]}


def test_every_file_is_reported_with_what_was_found(library_folder):
    _, report = library_folder
    assert {name: entry["status"] for name, entry in report.items()} == dict.fromkeys(
        [*FILES, "typed.pdf"], "ingested"
    )
    assert report["beekeeping.pptx"]["unit"] == "slide" and report["beekeeping.pptx"]["pages"] == 3
    assert report["harvest.xlsx"]["unit"] == "sheet" and report["harvest.xlsx"]["pages"] == 3
    assert report["apiary.epub"]["unit"] == "chapter" and report["apiary.epub"]["pages"] == 2
    assert report["handbook.docx"]["tables"] == 1 and report["beekeeping.pptx"]["tables"] == 1
    assert report["logbook-scan.pdf"]["pages_ocr"] == [1]
    assert report["typed.pdf"]["pages_ocr"] == [] and report["typed.pdf"]["unit"] == "page"


@pytest.mark.parametrize(("query", "name", "where"), FINDS, ids=[f[1] for f in FINDS])
def test_a_search_finds_each_file_with_its_citation(library_folder, query, name, where):
    data_dir, _ = library_folder
    found = run_json("rag.search", query, "-k", "10", data_dir=data_dir)["results"]
    hits = [r for r in found if r["source"] == name]
    assert hits, f"{name} not among {[r['source'] for r in found]}"
    assert hits[0]["location"].startswith(where)
    assert hits[0]["ocr"] is (name == "logbook-scan.pdf")


def test_nothing_from_a_page_s_noise_or_a_macro_is_indexed(library_folder):
    data_dir, _ = library_folder
    for noise in ("script text must not show", "Copyright footer text", "AutoOpen"):
        found = run_json("rag.search", noise, "--mode", "bm25", data_dir=data_dir)["results"]
        assert not any(noise.lower() in r["text"].lower() for r in found), noise
