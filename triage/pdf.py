"""PDF copies (fpdf2): the out-of-hours handover and one contact's handover.

A Unicode TTF font (DejaVu Sans, from Debian's fonts-dejavu-core) is used when the system has
it, so Polish, Romanian or Ukrainian answers print as written; without one the PDF falls back
to the built-in Helvetica and replaces what Latin-1 cannot hold with "?".
Right-to-left scripts are printed letter by letter without shaping (see the report's gaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from triage.handover_report import COLUMNS, HEADINGS, Line
from triage.handover_view import Block, Row

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)


class _Pdf(FPDF):
    """Adds a footer with the page number and the sensitivity marking on every page."""

    marking = "OFFICIAL-SENSITIVE"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(size=8)
        self.cell(0, 8, self.clean(f"{self.marking} — page {self.page_no()}/{{nb}}"),
                  align="C")

    unicode = False

    def clean(self, text: str) -> str:
        if self.unicode:
            return text
        return text.encode("latin-1", "replace").decode("latin-1")


def _new(orientation: str = "P") -> _Pdf:
    pdf = _Pdf(orientation=orientation, format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            pdf.set_font("DejaVu", size=9)
            pdf.unicode = True
            break
    else:
        pdf.set_font("Helvetica", size=9)
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


def _heading(pdf: _Pdf, text: str, size: int = 13) -> None:
    pdf.set_font(style="B", size=size)
    pdf.multi_cell(0, 7, pdf.clean(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(style="", size=9)
    pdf.ln(1)


def _rows_table(pdf: _Pdf, rows: Sequence[Row]) -> None:
    if not rows:
        return
    with pdf.table(col_widths=(55, 125), first_row_as_headings=False, text_align="LEFT",
                   line_height=5, padding=1) as table:
        for row in rows:
            cells = table.row()
            cells.cell(pdf.clean(row.label), style=FontFace(emphasis="BOLD"))
            cells.cell(pdf.clean(row.value))
    pdf.ln(2)


def handover_pdf(heading: str, lines: list[Line]) -> bytes:
    pdf = _new("L")
    _heading(pdf, heading)
    pdf.cell(0, 6, pdf.clean(f"{len(lines)} contact(s)"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (24, 26, 20, 14, 24, 36, 24, 34, 32, 16, 22)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5, padding=1,
                   headings_style=FontFace(emphasis="BOLD")) as table:
        head = table.row()
        for text in HEADINGS:
            head.cell(text)
        for line in lines:
            row = table.row()
            for column in COLUMNS:
                row.cell(pdf.clean(str(getattr(line, column))))
    return bytes(pdf.output())


def contact_pdf(heading: str, summary: list[Row], blocks: list[Block],
                decision: list[Row]) -> bytes:
    pdf = _new("P")
    _heading(pdf, heading)
    _rows_table(pdf, summary)
    for block in blocks:
        _heading(pdf, block.title, size=11)
        _rows_table(pdf, block.rows)
        for title, rows in block.items:
            pdf.set_font(style="B", size=9)
            pdf.cell(0, 5, pdf.clean(title), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(style="", size=9)
            _rows_table(pdf, rows)
    _heading(pdf, "Triage decision", size=11)
    _rows_table(pdf, decision)
    return bytes(pdf.output())
