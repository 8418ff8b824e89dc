"""PowerPoint presentations (.pptx): one page per slide, in light Markdown.

A slide's title placeholder becomes `# title`; its other shapes follow in reading order
(top to bottom, then left to right), groups read inside out in the same order; bullet
placeholders become list items and tables rows. Speaker notes come last, after a line
`Notes:`. Hidden slides are read too: they are part of the file the person chose, and
leaving them out would shift every slide number after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

from ingest.formats.archive import Archive, library_failure
from ingest.formats.extracted import Extracted, ReadLimits
from ingest.formats.markdown import heading, join_blocks, list_item, one_line, table_lines

KIND = "PowerPoint presentation"
NOTES_LINE = "Notes:"
_TITLES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE, PP_PLACEHOLDER.VERTICAL_TITLE)
_INVENTED_TITLE = "PowerPoint Presentation"
_BULLETS = (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT, PP_PLACEHOLDER.VERTICAL_BODY)


def read(data: bytes, limits: ReadLimits) -> Extracted:
    """Each slide's title, text, tables and notes; the slide titles name the pages."""
    Archive(data, KIND, limits).verify()
    try:
        deck = Presentation(BytesIO(data))
        slides = [_slide(slide) for slide in deck.slides]
        title = one_line(deck.core_properties.title or "")
        # python-pptx invents this title for a file without properties: not the deck's.
        title = "" if title == _INVENTED_TITLE else title
    except MemoryError:
        raise  # the process's memory limit, not damage: the parent reports it
    except Exception as exc:  # python-pptx and lxml raise many kinds; each means damage
        raise library_failure(KIND, exc) from exc
    names = tuple(name for name, _, _ in slides)
    return Extracted(
        tuple(text for _, text, _ in slides),
        unit="slide",
        title=title or next((name for name in names if name), ""),
        page_names=names,
        tables=sum(count for _, _, count in slides),
    )


def _slide(slide) -> tuple[str, str, int]:
    """(title, text, tables) of one slide."""
    title = ""
    blocks: list[str] = []
    tables = 0
    for shape in _reading_order(slide.shapes):
        if _placeholder_type(shape) in _TITLES and not title and shape.has_text_frame:
            title = one_line(shape.text_frame.text)
            blocks.insert(0, heading(title, 1))
        elif getattr(shape, "has_table", False):
            lines = table_lines([[cell.text for cell in row.cells] for row in shape.table.rows])
            tables += bool(lines)
            blocks.append("\n".join(lines))
        elif shape.has_text_frame:
            blocks.append(_shape_text(shape))
    notes = _notes(slide)
    if notes:
        blocks.append(f"{NOTES_LINE}\n{notes}")
    return title, join_blocks(blocks), tables


def _reading_order(shapes) -> Iterator:
    """Shapes top to bottom, then left to right; a group's shapes in its place, likewise."""
    stack = [iter(_sorted(shapes))]
    while stack:
        shape = next(stack[-1], None)
        if shape is None:
            stack.pop()
        elif shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            stack.append(iter(_sorted(shape.shapes)))
        else:
            yield shape


def _sorted(shapes) -> list:
    # A placeholder with no position of its own takes its layout's; None only if neither.
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _placeholder_type(shape):
    return shape.placeholder_format.type if shape.is_placeholder else None


def _shape_text(shape) -> str:
    """A text shape's paragraphs; those of a bullet placeholder as list items."""
    bullets = _placeholder_type(shape) in _BULLETS
    lines = [
        list_item(paragraph.text, paragraph.level)
        if bullets
        else paragraph.text.replace("\v", "\n").strip()
        for paragraph in shape.text_frame.paragraphs
    ]
    return "\n".join(line for line in lines if line)


def _notes(slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return frame.text.strip() if frame is not None else ""
