"""Well-formed documents of every format, generated: each function returns one file's bytes.

Office files come from python-docx, python-pptx and xlsxwriter; EPUB and OpenDocument files
are put together by hand. Each holds known phrases; archives get fixed timestamps, so the
same call gives the same bytes.
"""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Sequence
from io import BytesIO

import xlsxwriter
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from pptx import Presentation
from pptx.util import Inches

FIXED_TIME = (2024, 1, 1, 0, 0, 0)
# A remote address for pictures and frames: nothing may ever ask it for anything.
NOWHERE = "http://127.0.0.1:9"


def zip_file(members: Sequence[tuple[str, bytes | str]], stored: Sequence[str] = ()) -> bytes:
    """A ZIP of the members in order, deflated except those named in `stored`."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return out.getvalue()


def members(data: bytes) -> list[tuple[str, bytes]]:
    """The members of a ZIP, in order, with their bytes."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _saved(document) -> bytes:
    """A python-docx or python-pptx document's bytes, with fixed timestamps."""
    out = BytesIO()
    document.save(out)
    return zip_file(members(out.getvalue()))


def docx_file() -> bytes:
    """Title, headings, a bulleted list, a table between paragraphs, a tracked insertion,
    a hyperlink and a paragraph inside a content control."""
    document = Document()
    document.core_properties.title = "Orchard Handbook"
    document.add_paragraph("Orchard Handbook", style="Title")
    document.add_heading("Planting", level=1)
    intro = document.add_paragraph("Plant apple saplings in early spring")
    intro._p.append(parse_xml(_INSERTED_RUN))
    document.add_paragraph("Dig a hole twice as wide as the roots", style="List Bullet")
    document.add_paragraph("Water the roots deeply", style="List Bullet")
    document.add_heading("Pruning schedule", level=2)
    cells = [cell for row in document.add_table(rows=3, cols=3).rows for cell in row.cells]
    for cell, value in zip(cells, DOCX_CELLS, strict=True):
        cell.text = value
    closing = document.add_paragraph("Harvest begins when the seeds turn brown. ")
    closing._p.append(parse_xml(_HYPERLINK))
    document.element.body.insert(-1, parse_xml(_CONTENT_CONTROL))
    return _saved(document)


DOCX_CELLS = (
    *("Month", "Task", "Tool", "March", "Prune the leaders", "Loppers"),
    *("July", "Thin the fruit", "Saw | ladder\nhook"),
)
_W = nsdecls("w")
_INSERTED_RUN, _HYPERLINK, _CONTENT_CONTROL = (
    f'<w:ins {_W} w:id="1" w:author="Editor"><w:r><w:t xml:space="preserve"> once the frost'
    " has passed.</w:t></w:r></w:ins>",
    f'<w:hyperlink {_W} w:anchor="top"><w:r><w:t>See the harvest calendar</w:t></w:r>'
    "</w:hyperlink>",
    f"<w:sdt {_W}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Keep a ladder by every tree.</w:t>"
    "</w:r></w:p></w:sdtContent></w:sdt>",
)


def pptx_file() -> bytes:
    """Three slides: a title slide, bullets with boxes placed out of order and a group,
    and a hidden slide with a table; the first two have speaker notes."""
    deck = Presentation()
    deck.core_properties.title = "Beekeeping Basics"
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Beekeeping Basics"
    first.placeholders[1].text = "A field guide for new keepers"
    first.notes_slide.notes_text_frame.text = "Welcome everyone and introduce the apiary."
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Hive inspection"
    second.placeholders[1].text_frame.text = "Check the brood pattern"
    deeper = second.placeholders[1].text_frame.add_paragraph()
    deeper.text, deeper.level = "Look for fresh eggs", 1
    _text_box(second.shapes, "Bottom note: close the hive gently", top=6.5)
    _text_box(second.shapes, "Top note: inspect every ten days", top=0.1)
    group = second.shapes.add_group_shape()
    _text_box(group.shapes, "Grouped smoker tip", top=5.0)
    _text_box(group.shapes, "Grouped veil tip", top=5.5)
    second.notes_slide.notes_text_frame.text = "Mention the veil and gloves."
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Honey yields"
    frame = third.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2))
    for cell, value in zip(frame.table.iter_cells(), SLIDE_CELLS, strict=True):
        cell.text = value
    third._element.set("show", "0")  # a hidden slide is still read
    return _saved(deck)


SLIDE_CELLS = ("Year", "Kilograms", "2022", "41", "2023", "57")


def _text_box(shapes, text: str, top: float) -> None:
    shapes.add_textbox(Inches(1), Inches(top), Inches(6), Inches(0.5)).text_frame.text = text


HARVEST_ROWS = (("Month", "Hive", "Kilograms", "Picked on"), ("March", "East | row\nA", 12.5))
PICKED = (datetime.datetime(2024, 3, 14), datetime.datetime(2024, 4, 2, 9, 30))


def xlsx_file(rows: int = 0) -> bytes:
    """Sheets "Harvest" (row 1 empty, the header on row 2, dates, a gap, then a SUM with its
    cached value 32.5), "Notes" (with `rows` more rows) and a hidden "Lookup"."""
    out = BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"title": "Harvest log", "created": datetime.datetime(2024, 1, 1)})
    dates = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    harvest = book.add_worksheet("Harvest")
    for row, values in enumerate([*HARVEST_ROWS, ("April", "West", 20)], start=1):
        harvest.write_row(row, 0, values)
    harvest.write_column(2, 3, PICKED, dates)
    harvest.write(5, 0, "Total")
    harvest.write_formula(5, 2, "=SUM(C3:C4)", None, 32.5)
    notes = book.add_worksheet("Notes")
    notes.write_column(0, 0, ["Remark", "Queen replaced in May"])
    for number in range(rows):
        notes.write_row(2 + number, 0, [f"Extra row {number}", number, number * 2])
    book.add_worksheet("Lookup").write(0, 0, "Hidden lookup value")
    book.worksheets()[-1].hide()
    book.close()
    return zip_file(members(out.getvalue()))


def xlsm_file() -> bytes:
    """The workbook of `xlsx_file` saved as macro-enabled: a VBA project part included."""
    parts = dict(members(xlsx_file()))
    types = parts["[Content_Types].xml"].decode()
    macro_type = '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
    types = types.replace("spreadsheetml.sheet.main+xml", "sheet.macroEnabled.main+xml")
    types = types.replace(
        "vnd.openxmlformats-officedocument.sheet.macroEnabled", "vnd.ms-excel.sheet.macroEnabled"
    )
    types = types.replace("<Default ", macro_type + "<Default ", 1)
    vba = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
    relation = f'<Relationship Id="rIdVba" Target="vbaProject.bin" Type="{vba}"/>'
    relations = parts["xl/_rels/workbook.xml.rels"].decode()
    relations = relations.replace("</Relationships>", relation + "</Relationships>")
    parts |= {"[Content_Types].xml": types.encode(), "xl/_rels/workbook.xml.rels": relations}
    parts["xl/vbaProject.bin"] = b'\xd0\xcf\x11\xe0 Sub AutoOpen(): Shell "calc" End Sub'
    return zip_file(list(parts.items()))


def csv_file(delimiter: str = ",", encoding: str = "utf-8-sig") -> bytes:
    """A price list: header, rows with a quoted delimiter, an accented word, an empty line."""
    rows = [
        ["Variety", "Colour", "Price", "Note"],
        ["Gala", "red", "1.20", f"sweet{delimiter} crisp"],
        [],
        ["Reine des reinettes", "golden", "2.05", "crème brûlée taste"],
    ]
    lines = [
        delimiter.join(f'"{cell}"' if delimiter in cell else cell for cell in row) for row in rows
    ]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def html_file(charset: str = "utf-8", remote: str = NOWHERE) -> bytes:
    """A page whose article sits among navigation, scripts, styles, an aside, a footer,
    and pictures, frames, scripts and styles fetched from `remote`."""
    page = f"""<!DOCTYPE html><html><head><meta charset="{charset}">
<title>Lavender Farm Journal</title><style>body {{ color: red }}</style>
<link rel="stylesheet" href="{remote}/style.css"><script src="{remote}/track.js"></script>
<script>var secret = "script text must not show";</script></head>
<body><header><a href="/">Home</a> Site banner text</header>
<nav><ul><li>Menu entry one</li><li>Menu entry two</li></ul></nav>
<main><h1>Lavender harvest</h1><p>We cut the  lavender
stems at dawn, when the oil is strongest.</p><img src="{remote}/field.jpg" alt="field">
<h2>Drying</h2><ul><li>Bundle fifty stems</li><li>Hang them upside down<ul>
<li>in a dark barn</li></ul></li></ul><table><thead><tr><th>Variety</th><th>Days</th></tr>
</thead><tbody><tr><td>Grosso</td><td>10</td></tr><tr><td>Hidcote | blue</td><td>14</td>
</tr></tbody></table><p>Café owners buy the first bundles.<br>Orders open in June.</p>
<iframe src="{remote}/video"></iframe><form><button>Subscribe now</button></form></main>
<aside>Advertisement aside text</aside><noscript>Enable scripts</noscript>
<footer>Copyright footer text</footer></body></html>"""
    return page.encode("cp1252" if charset == "windows-1252" else charset)


_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="{opf}" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""
_OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">apiary-1
</dc:identifier><dc:title>The Quiet Apiary</dc:title><dc:language>en</dc:language>
</metadata><manifest>{items}</manifest><spine>{spine}</spine></package>"""


XHTML = (  # a chapter: .format(title=..., body=...)
    '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999'
    '/xhtml"><head><title>{title}</title></head><body>{body}</body></html>'
)


def epub_chapters(remote: str = NOWHERE) -> list[tuple[str, str]]:
    """(href, XHTML) of a cover with no text and two chapters, one name percent-encoded."""
    spring = "<h1>Chapter One: Spring</h1><p>The bees wake when the willows bloom.</p>"
    summer = "<h1>Chapter Two: Summer</h1><p>Swarms leave the hive in early June.</p>"
    picture = f'<img src="{remote}/swarm.png" alt="swarm"/><iframe src="{remote}/a"></iframe>'
    cover = f'<img src="{remote}/cover.jpg" alt=""/>'
    return [
        ("cover.xhtml", XHTML.format(title="Cover", body=cover)),
        ("chapter%201.xhtml", XHTML.format(title="One", body=spring)),
        ("chapter2.xhtml", XHTML.format(title="Two", body=summer + picture)),
    ]


def epub_file(
    hrefs: Sequence[str] | None = None,
    opf_path: str = "OEBPS/content.opf",
    extra: Sequence[tuple[str, bytes | str]] = (),
    remote: str = NOWHERE,
) -> bytes:
    """A book of `epub_chapters`, whose pictures point at `remote`. `hrefs` replaces the
    spine's targets, `opf_path` where the container says the package file is, `extra`
    adds members."""
    chapters = epub_chapters(remote)
    hrefs = list(hrefs if hrefs is not None else [name for name, _ in chapters])
    items = "".join(
        f'<item id="c{n}" href="{href}" media-type="application/xhtml+xml"/>'
        for n, href in enumerate(hrefs)
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(hrefs)))
    package = [
        ("mimetype", "application/epub+zip"),
        ("META-INF/container.xml", _CONTAINER.format(opf=opf_path)),
        ("OEBPS/content.opf", _OPF.format(items=items, spine=spine)),
    ]
    files = [(f"OEBPS/{name.replace('%20', ' ')}", text) for name, text in chapters]
    return zip_file([*package, *files, *extra], stored=("mimetype",))


_ODT_MIME = "application/vnd.oasis.opendocument.text"
ODT_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)
ODT_BODY = """<text:h text:outline-level="1">Garden Diary</text:h>
<text:p>Sow<text:s text:c="3"/>beans<text:tab/>after the<text:line-break/>last frost.</text:p>
<text:h text:outline-level="2">Tasks</text:h>
<text:list><text:list-item><text:p>Weed the carrots</text:p></text:list-item>
<text:list-item><text:p>Stake the tomatoes</text:p><text:list><text:list-item>
<text:p>use soft twine</text:p></text:list-item></text:list></text:list-item></text:list>
<table:table table:name="Beds"><table:table-header-rows><table:table-row>
<table:table-cell><text:p>Bed</text:p></table:table-cell><table:table-cell><text:p>Crop
</text:p></table:table-cell></table:table-row></table:table-header-rows><table:table-row>
<table:table-cell><text:p>North</text:p></table:table-cell><table:table-cell>
<text:p>Leeks | onions</text:p></table:table-cell></table:table-row></table:table>
<text:p>Water <text:span>deeply</text:span> twice a week.</text:p>"""


def odt_file(body: str = ODT_BODY, content: str | None = None) -> bytes:
    """A text document: headings, spaces, a tab and a line break, a nested list, a table;
    `content` replaces content.xml whole."""
    content = content or (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODT_NAMESPACES}>'
        f"<office:body><office:text>{body}</office:text></office:body>"
        "</office:document-content>"
    )
    meta = (
        f'<?xml version="1.0"?><office:document-meta {ODT_NAMESPACES}><office:meta>'
        "<dc:title>Garden Diary 2024</dc:title></office:meta></office:document-meta>"
    )
    manifest = (
        '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
        'opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" '
        f'manifest:media-type="{_ODT_MIME}"/></manifest:manifest>'
    )
    parts = [("mimetype", _ODT_MIME), ("META-INF/manifest.xml", manifest)]
    return zip_file([*parts, ("content.xml", content), ("meta.xml", meta)], stored=("mimetype",))
