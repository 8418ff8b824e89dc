"""The format readers on generated files: the Markdown each writes, its units, names and row
numbers; and every hostile file refused with its reason, quickly, in bounded memory, and
without anything fetched from the network."""

from __future__ import annotations

import re
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module

import pytest

from ingest.formats import SUFFIXES, read_document
from ingest.formats.archive import parse_xml
from ingest.formats.extracted import ReadLimits
from ingest.formats.markdown import escape_cell, heading, list_item, table_lines
from rag.errors import IngestError
from tests.support import hostile_office, office_files
from tests.support.hostile_office import HostileCase, hostile_cases

LIMITS = ReadLimits()
TIME_BOUND_S = 5.0
MEMORY_BOUND = 64 * 1024 * 1024


def read(suffix: str, data: bytes, limits: ReadLimits = LIMITS):
    return read_document(suffix, data, limits)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


class _Recorder(BaseHTTPRequestHandler):
    """Records the path of every request made to its server, and answers 404."""

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_error(404)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[ThreadingHTTPServer]:
    """An HTTP server on 127.0.0.1: `.url` to point files at, `.paths` what was asked."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.paths, server.url = [], f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_docx_keeps_headings_lists_and_the_table_in_document_order():
    extracted = read(".docx", office_files.docx_file())
    lines = lines_of(extracted.pages[0])
    assert (extracted.unit, extracted.title, extracted.tables) == ("section", "Orchard Handbook", 1)
    assert len(extracted.pages) == 1
    assert lines[0] == "# Orchard Handbook"
    assert "# Planting" in lines and "## Pruning schedule" in lines
    items = lines.index("- Dig a hole twice as wide as the roots")
    assert lines[items + 1] == "- Water the roots deeply"
    header = lines.index("| Month | Task | Tool |")
    assert lines[header + 1 : header + 4] == [
        "| --- | --- | --- |",
        "| March | Prune the leaders | Loppers |",
        "| July | Thin the fruit | Saw \\| ladder hook |",
    ]
    closing = "Harvest begins when the seeds turn brown. See the harvest calendar"
    assert lines.index("## Pruning schedule") < header < lines.index(closing)
    # A tracked insertion, and a paragraph inside a content control, are text too.
    assert "Plant apple saplings in early spring once the frost has passed." in lines
    assert lines[-1] == "Keep a ladder by every tree."


@pytest.mark.parametrize(
    ("suffix", "title"), [(".docx", "Orchard Handbook"), (".pptx", "Beekeeping Basics")]
)
def test_without_properties_the_title_comes_from_the_text(suffix, title):
    build = office_files.docx_file if suffix == ".docx" else office_files.pptx_file
    parts = dict(office_files.members(build()))
    del parts["docProps/core.xml"]
    relation = rb'<Relationship [^>]*Target="docProps/core.xml"/>'
    parts["_rels/.rels"] = re.sub(relation, b"", parts["_rels/.rels"])
    # The libraries invent "Word Document" and "PowerPoint Presentation": not titles.
    assert read(suffix, office_files.zip_file(list(parts.items()))).title == title


def test_pptx_gives_a_page_per_slide_named_by_its_title():
    extracted = read(".pptx", office_files.pptx_file())
    assert extracted.unit == "slide"
    assert extracted.page_names == ("Beekeeping Basics", "Hive inspection", "Honey yields")
    assert extracted.title == "Beekeeping Basics"
    assert [lines_of(page)[0] for page in extracted.pages] == [
        f"# {name}" for name in extracted.page_names
    ]


def test_pptx_reads_shapes_top_to_bottom_groups_in_place_and_notes_last():
    text = read(".pptx", office_files.pptx_file()).pages[1]
    order = [
        "Top note: inspect every ten days",
        "- Check the brood pattern\n  - Look for fresh eggs",
        "Grouped smoker tip",
        "Grouped veil tip",
        "Bottom note: close the hive gently",
        "Notes:\nMention the veil and gloves.",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert text.endswith("Notes:\nMention the veil and gloves.")


def test_pptx_reads_a_hidden_slide_and_its_table():
    extracted = read(".pptx", office_files.pptx_file())
    table = "| Year | Kilograms |\n| --- | --- |\n| 2022 | 41 |\n| 2023 | 57 |"
    assert extracted.pages[2] == "# Honey yields\n\n" + table
    assert extracted.tables == 1


HARVEST = [
    "| Month | Hive | Kilograms | Picked on |",
    "| --- | --- | --- | --- |",
    "| March | East \\| row A | 12.5 | 2024-03-14 |",
    "| April | West | 20 | 2024-04-02 09:30 |",
    "| Total | | 32.5 |",
]


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_sheets_are_tables_with_their_sheet_row_numbers(suffix):
    build = office_files.xlsx_file if suffix == ".xlsx" else office_files.xlsm_file
    extracted = read(suffix, build())
    assert (extracted.unit, extracted.title, extracted.tables) == ("sheet", "Harvest log", 3)
    assert extracted.page_names == ("Harvest", "Notes", "Lookup")
    assert lines_of(extracted.pages[0]) == HARVEST  # "32.5": the formula's cached value
    assert extracted.row_numbers == ((2, 2, 3, 4, 6), (1, 1, 2), (1, 1))
    assert "Hidden lookup value" in extracted.pages[2]  # a hidden sheet is read
    for page, numbers in zip(extracted.pages, extracted.row_numbers, strict=True):
        assert len(lines_of(page)) == len(numbers)


def test_the_xlsm_fixture_really_holds_a_macro_project():
    parts = dict(office_files.members(office_files.xlsm_file()))
    assert parts["xl/vbaProject.bin"].startswith(b"\xd0\xcf\x11\xe0")
    assert b"macroEnabled.main+xml" in parts["[Content_Types].xml"]


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(",", "utf-8-sig"), (";", "cp1252"), ("\t", "utf-16"), ("|", "utf-8")],
)
def test_csv_is_decoded_and_split_by_its_own_delimiter(delimiter, encoding):
    extracted = read(".csv", office_files.csv_file(delimiter, encoding))
    quoted = f"sweet{delimiter} crisp".replace("\t ", " ").replace("|", "\\|")
    assert lines_of(extracted.pages[0]) == [
        "| Variety | Colour | Price | Note |",
        "| --- | --- | --- | --- |",
        f"| Gala | red | 1.20 | {quoted} |",
        "| Reine des reinettes | golden | 2.05 | crème brûlée taste |",
    ]
    assert extracted.row_numbers == ((1, 1, 2, 4),)  # record 3 is the empty line
    assert (extracted.unit, extracted.page_names) == ("sheet", ("",))


NOISE = ("script text", "Menu entry", "Site banner", "Advertisement", "Copyright", "Subscribe")


@pytest.mark.parametrize("charset", ["utf-8", "windows-1252"])
def test_html_keeps_the_main_content_and_drops_the_rest(charset, listener):
    extracted = read(".html", office_files.html_file(charset, listener.url))
    text = extracted.pages[0]
    assert (extracted.title, extracted.tables) == ("Lavender Farm Journal", 1)
    opening = "# Lavender harvest\n\nWe cut the lavender stems at dawn, when the oil is strongest."
    assert text.startswith(opening + "\n\n## Drying\n\n")
    assert "- Bundle fifty stems\n- Hang them upside down\n  - in a dark barn" in text
    assert "| Variety | Days |\n| --- | --- |\n| Grosso | 10 |\n| Hidcote \\| blue | 14 |" in text
    assert text.endswith("Café owners buy the first bundles.\nOrders open in June.")
    assert not [word for word in (*NOISE, "Enable scripts", "color: red") if word in text]
    assert listener.url not in text and listener.paths == []


def test_an_article_keeps_its_own_header_while_the_page_header_goes():
    page = (
        "<body><header>Site name</header><article><header><h1>Hives in winter</h1></header>"
        "<p>Feed them fondant.</p><footer>By the keeper</footer></article>"
        "<article><p>Second story</p></article><footer>Page footer</footer></body>"
    )
    text = read(".htm", page.encode()).pages[0]
    assert text == "# Hives in winter\n\nFeed them fondant.\n\nBy the keeper\n\nSecond story"


def test_epub_gives_a_page_per_chapter_with_text_in_spine_order(listener):
    extracted = read(".epub", office_files.epub_file(remote=listener.url))
    assert (extracted.unit, extracted.title) == ("chapter", "The Quiet Apiary")
    assert extracted.page_names == ("Chapter One: Spring", "Chapter Two: Summer")
    assert extracted.pages == (
        "# Chapter One: Spring\n\nThe bees wake when the willows bloom.",
        "# Chapter Two: Summer\n\nSwarms leave the hive in early June.",
    )
    assert listener.paths == []


def test_odt_writes_headings_spaces_lists_and_tables():
    extracted = read(".odt", office_files.odt_file())
    assert (extracted.title, extracted.tables) == ("Garden Diary 2024", 1)
    assert extracted.pages[0] == (
        "# Garden Diary\n\nSow   beans\tafter the\nlast frost.\n\n## Tasks\n\n"
        "- Weed the carrots\n- Stake the tomatoes\n  - use soft twine\n\n"
        "| Bed | Crop |\n| --- | --- |\n| North | Leeks \\| onions |\n\n"
        "Water deeply twice a week."
    )


def test_every_suffix_has_a_reader_and_case_does_not_matter():
    expected = {".docx", ".pptx", ".xlsx", ".xlsm", ".csv"} | {".html", ".htm", ".epub", ".odt"}
    assert set(SUFFIXES) == expected
    assert read(".DOCX", office_files.docx_file()).title == "Orchard Handbook"
    with pytest.raises(IngestError, match=r"unsupported file type \.doc"):
        read(".doc", b"anything")


def test_page_and_text_limits_name_their_settings():
    with pytest.raises(IngestError, match=r"too many slides: 3 \(the limit is 2, RAG_MAX_PAGES\)"):
        read(".pptx", office_files.pptx_file(), ReadLimits(max_pages=2))
    with pytest.raises(IngestError, match="RAG_MAX_CHARS"):
        read(".xlsx", office_files.xlsx_file(), ReadLimits(max_chars=100))


def test_markdown_pieces():
    assert escape_cell(" a | b\n c \\ ") == "a \\| b c \\\\"
    assert heading("  Deep\nheading ", 9) == "###### Deep heading"
    assert list_item("item", 50) == " " * 16 + "- item"
    # Rows are not padded to the widest: the header decides the separator.
    assert table_lines([["", ""], ["a", "b", ""], ["c", "d", "e"], ["f"]]) == [
        "| a | b |",
        "| --- | --- |",
        "| c | d | e |",
        "| f |",
    ]


def test_package_xml_with_entities_is_refused():
    xml = hostile_office.billion_laughs("root", "", "&lol9;").encode()
    with pytest.raises(IngestError, match="declares XML entities"):
        parse_xml(xml, "content.xml", "OpenDocument text")


def test_no_entity_of_a_refused_file_is_fetched(listener):
    data = hostile_office.external_entity_docx(f"{listener.url}/entity")
    with pytest.raises(IngestError, match="declares XML entities"):
        read(".docx", data)
    assert listener.paths == []


@pytest.fixture(scope="module", autouse=True)
def _readers_imported() -> None:
    # Importing a library the first time costs up to a second: not the reading's time.
    for module in ("docx", "pptx", "xlsx", "csv", "html", "epub", "odt"):
        import_module(f"ingest.formats.{module}")


def _outcome(case: HostileCase, data: bytes) -> str:
    try:
        extracted = read(case.suffix, data, case.limits)
    except IngestError as exc:
        return f"refused: {exc}"
    text = "\n".join(extracted.pages)
    assert len(text) <= 2 * len(data), "the text must not grow past its file"
    return f"read: {text}"


@pytest.mark.parametrize("case", hostile_cases(), ids=lambda case: case.name)
def test_hostile_file_is_handled_quickly_in_bounded_memory(case: HostileCase):
    data = case.build()
    started = time.monotonic()
    outcome = _outcome(case, data)
    elapsed = time.monotonic() - started
    if case.reason is None:
        assert outcome.startswith("read: ") and case.keeps in outcome
    else:
        assert outcome.startswith("refused: ") and case.reason in outcome, outcome[:300]
    assert elapsed < TIME_BOUND_S
    # Memory in a second run: tracing allocations slows Python code several times over.
    tracemalloc.start()
    try:
        assert _outcome(case, data) == outcome
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MB"
