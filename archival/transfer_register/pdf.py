"""The receiving register as a PDF (reportlab): A4, the register's title and header fields, the
totals tables, the four-property check and its failing items (long 题名 and reasons wrap within
their cells; a table's header row repeats on each page it runs onto; rows are never split, a cell
prints at most CELL_CHARS), dead letters, pending review, the signature block, and "第 N 页 共 M
页" on every page.

The Chinese text is set in a TrueType CJK font embedded in the file (the glyphs used, subset), so
the register reads the same on any machine and in twenty years; text extracted from it is the text
(reportlab writes each subset's ToUnicode map). reportlab cannot embed CFF outlines (Noto CJK,
Source Han), so the font is WenQuanYi Zen Hei from Debian's fonts-wqy-zenhei, a TrueType
collection with every hanzi of the basic CJK block (U+4E00–U+9FA5, all of GBK's) and nearly all of
Extension A, or whatever TrueType font RECORDFLOW_REPORT_FONT_FILE names. A character the font
lacks (a rare hanzi of Extension B, say) prints as 〓, the typesetter's mark for a missing glyph,
rather than as an empty box; the HTML and JSON registers keep it as it is.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table
from reportlab.platypus.flowables import Flowable

from archival.transfer_register.build import TransferRegister, local_time, size_text

# The Debian package of the default font (Settings.report_font_file), named when it is missing.
FONT_PACKAGE = "fonts-wqy-zenhei"
MISSING_GLYPH = "〓"
# The most characters a cell prints: at 8.5 pt in the narrowest column of free text (38 mm, 12
# hanzi a line) about 50 lines, 550 pt, so that no row is taller than a page's 745 pt (rows are
# never split). A 题名 is at most 500 characters (metadata_rules.yaml); what is longer, a long
# list of failing items, ends in "…".
CELL_CHARS = 600
MARGIN = 15 * mm
FRAME_PADDING = 6  # points, each side: platypus' Frame default
WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING  # what a table may take: 180 mm less the padding
GREY = "#555555"


class FontUnusable(Exception):
    """The register's font is missing or cannot be embedded; the message is one line that names
    the Debian package to install."""


@dataclass(frozen=True)
class RegisterFont:
    """A TrueType font registered with reportlab, and the characters it has glyphs for."""

    name: str
    covered: frozenset[int]

    def printable(self, text: str) -> str:
        """`text` with each character the font has no glyph for replaced by 〓."""
        return "".join(
            char if ord(char) in self.covered or char.isspace() else MISSING_GLYPH for char in text
        )


def load_font(path: Path, index: int = 0) -> RegisterFont:
    """The TrueType (or TrueType collection, face `index`) font at `path`, registered with
    reportlab under a name of its own. FontUnusable when it is missing or not embeddable."""
    if not path.is_file():
        raise FontUnusable(
            f"the register's font {path} is missing: apt-get install {FONT_PACKAGE} "
            "(or set RECORDFLOW_REPORT_FONT_FILE to a TrueType CJK font)"
        )
    name = f"RegisterCJK-{hashlib.sha256(f'{path.resolve()}#{index}'.encode()).hexdigest()[:12]}"
    try:
        font = pdfmetrics.getFont(name)
    except KeyError:
        try:
            font = TTFont(name, str(path), subfontIndex=index)
        except (TTFError, OSError) as exc:
            raise FontUnusable(
                f"the register's font {path} cannot be embedded ({' '.join(str(exc).split())}): "
                f"reportlab needs TrueType outlines, not CFF (Noto CJK); apt-get install "
                f"{FONT_PACKAGE} (or set RECORDFLOW_REPORT_FONT_FILE to a TrueType CJK font)"
            ) from exc
        pdfmetrics.registerFont(font)
    return RegisterFont(name, frozenset(font.face.charToGlyph))


def _clip(text: str) -> str:
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


class _Styles:
    def __init__(self, font: RegisterFont) -> None:
        base = ParagraphStyle("cell", fontName=font.name, fontSize=8.5, leading=11)
        self.cell = base
        self.number = ParagraphStyle("number", parent=base, alignment=TA_RIGHT)
        self.title = ParagraphStyle(
            "title", parent=base, fontSize=17, leading=22, alignment=TA_CENTER, spaceAfter=2
        )
        self.subtitle = ParagraphStyle(
            "subtitle", parent=base, fontSize=9, alignment=TA_CENTER, textColor=GREY, spaceAfter=8
        )
        self.heading = ParagraphStyle(
            "heading",
            parent=base,
            fontSize=11.5,
            leading=15,
            spaceBefore=9,
            spaceAfter=4,
            keepWithNext=1,
        )


class _Writer:
    """Turns the register's values into reportlab flowables, each text through the font's glyphs."""

    def __init__(self, font: RegisterFont) -> None:
        self.font = font
        self.styles = _Styles(font)

    def text(self, value: object) -> str:
        """Paragraph markup for plain text: cut to CELL_CHARS, glyphs checked, markup escaped."""
        return self._markup(_clip("" if value is None else str(value)))

    def _markup(self, text: str) -> str:
        return escape(self.font.printable(text))

    def label(self, zh: str, en: str = "") -> Paragraph:
        english = f' <font size="7" color="{GREY}">{self.text(en)}</font>' if en else ""
        return Paragraph(self.text(zh) + english, self.styles.cell)

    def cell(self, value: object) -> Paragraph:
        return Paragraph(self.text(value), self.styles.cell)

    def lines(self, values: Sequence[str]) -> Paragraph:
        """One cell, a line per value, CELL_CHARS in all."""
        kept = _clip("\n".join(values)).split("\n")
        return Paragraph("<br/>".join(self._markup(line) for line in kept), self.styles.cell)

    def number(self, value: object) -> Paragraph:
        return Paragraph(self.text(value), self.styles.number)

    def heading(self, zh: str, en: str) -> Paragraph:
        return Paragraph(
            f'{self.text(zh)} <font size="8.5" color="{GREY}">{self.text(en)}</font>',
            self.styles.heading,
        )

    def table(
        self,
        header: Sequence[Paragraph] | None,
        rows: Sequence[Sequence[Flowable]],
        widths: Sequence[float],
    ) -> Table:
        """A ruled table across the page, its columns in the proportions of `widths`, whose header
        row repeats on each page it runs onto."""
        data: list[Sequence[Flowable]] = [header] if header else []
        body: list[Sequence[Flowable]] = list(rows) or [
            [self.label("无", "none"), *([""] * (len(widths) - 1))]
        ]
        style: list[tuple[Any, ...]] = [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
        if not rows:
            style.append(("SPAN", (0, len(data)), (-1, len(data))))
        return Table(
            data + body,
            colWidths=[WIDTH * width / sum(widths) for width in widths],
            repeatRows=1 if header else 0,
            style=style,
            hAlign="LEFT",
        )


def render_pdf(register: TransferRegister, font: RegisterFont) -> bytes:
    """The register as PDF bytes. The same register gives the same bytes (reportlab's invariant
    mode: no creation time or random id of its own; the register's own time is in the text)."""
    writer = _Writer(font)
    buffer = io.BytesIO()
    footer = f"{register.title} · {register.agency.name} · {register.period}"
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"{register.title} {register.agency.name} {register.period}",
        author=register.archives.name,
        subject="电子档案移交与接收登记表 (DA/T 70-2018, GB/T 18894-2016)",
        creator="recordflow report transfer",
        lang="zh-CN",
        invariant=True,
    )
    document.build(_story(register, writer), canvasmaker=_numbered_canvas(font, footer))
    return buffer.getvalue()


def _story(register: TransferRegister, w: _Writer) -> list[Flowable]:
    s = w.styles
    story: list[Flowable] = [
        Paragraph(w.text(register.title), s.title),
        Paragraph("Register of electronic records transferred and received", s.subtitle),
        w.table(None, _header_rows(register, w), (45, 135)),
        w.heading("一、接收总量", "Totals"),
        w.table(
            [
                w.label("件数", "items"),
                w.label("文件数", "files"),
                w.label("容量", "bytes"),
                w.label("退回", "rejected submissions"),
                w.label("待鉴定", "pending review"),
            ],
            [
                [
                    w.number(register.items),
                    w.number(register.files),
                    w.number(size_text(register.bytes)),
                    w.number(register.rejected),
                    w.number(len(register.pending)),
                ]
            ],
            (28, 28, 56, 34, 34),
        ),
    ]
    for zh, en, rows, column in (
        ("二、按门类", "By category", register.by_category, ("门类", "category")),
        ("三、按保管期限", "By retention period", register.by_retention, ("保管期限", "period")),
        ("四、按年度", "By year", register.by_year, ("年度", "year")),
    ):
        story += [
            w.heading(zh, en),
            w.table(
                [w.label(*column), w.label("件数", "items"), w.label("容量", "bytes")],
                [[w.cell(row.name if row.name == row.key else f"{row.key} {row.name}"),
                  w.number(row.items), w.number(size_text(row.bytes))] for row in rows],
                (90, 30, 60),
            ),
        ]  # fmt: skip
    story += [
        w.heading("五、按文件格式", "By file format (PRONOM)"),
        w.table(
            [w.label("格式标识", "PUID"), w.label("格式名称", "format"), w.label("版本", "version"),
             w.label("长期保存", "accepted"), w.label("文件数", "files"), w.label("容量", "bytes")],
            [[w.cell(row.puid or "-"), w.cell(row.name), w.cell(row.version or ""),
              w.label("是", "yes") if row.accepted else w.label("否", "no"),
              w.number(row.files), w.number(size_text(row.bytes))] for row in register.by_format],
            (22, 64, 16, 20, 18, 40),
        ),
        w.heading("六、四性检测", "Four-property check at receipt (DA/T 70-2018, YJ)"),
        w.table(
            [w.label("通过", "passed"), w.label("可用性待复核", "flagged for review"),
             w.label("存储后检测未通过", "failed after store"), w.label("无检测记录", "no check")],
            [[w.number(register.check.passed), w.number(register.check.flagged),
              w.number(register.check.failed_after_store), w.number(register.check.not_checked)]],
            (45, 45, 45, 45),
        ),
        Spacer(1, 3 * mm),
        w.table(
            [w.label("检测属性", "property"), w.label("通过", "passed"), w.label("未通过", "failed"),
             w.label("未检测", "not checked")],
            [[w.label(row.zh, row.en), w.number(row.passed), w.number(row.failed),
              w.number(row.not_checked)] for row in register.properties],
            (60, 40, 40, 40),
        ),
        w.heading(f"七、检测未通过或待复核的档案（{len(register.checked_records)}）",
                  "Records failing or flagged"),
        w.table(
            [w.label("档号", "reference code"), w.label("题名", "title"), w.label("结论", "standing"),
             w.label("未通过检测项", "failing items and reasons")],
            [[w.cell(record.reference_code), w.cell(record.title),
              w.label(record.standing_name, record.standing),
              w.lines([f"{f.code} {f.name}：{f.reason}" for f in record.findings])]
             for record in register.checked_records],
            (48, 46, 22, 60),
        ),
        w.heading(f"八、退回记录（{register.rejected}）", "Rejected submissions (dead letters)"),
        w.table(
            [w.label("原因代码", "reason"), w.label("说明", "meaning"), w.label("退回次数", "letters"),
             w.label("涉及提交", "submissions"), w.label("已重放", "replayed")],
            [[w.cell(row.reason), w.cell(row.name), w.number(row.letters), w.number(row.submissions),
              w.number(row.replayed)] for row in register.rejections],
            (46, 70, 20, 20, 20),
        ),
        w.heading(f"九、待鉴定事项（{len(register.pending)}）", "Review items still pending"),
        w.table(
            [w.label("类别", "kind"), w.label("电子文件号/档号", "document"), w.label("题名", "title"),
             w.label("提交时间", "queued"), w.label("原因", "why")],
            [[w.cell(item.kind_name), w.cell(item.reference_code or item.document_id),
              w.cell(item.title), w.cell(local_time(item.queued_at)), w.cell(item.reason)]
             for item in register.pending],
            (22, 46, 38, 32, 38),
        ),
        KeepTogether([w.heading("签字", "Signatures"), _signatures(register, w)]),
    ]  # fmt: skip
    return story


def _header_rows(register: TransferRegister, w: _Writer) -> list[list[Flowable]]:
    agency, archives = register.agency, register.archives
    return [
        [w.label("移交单位（立档单位）", "transferring agency"), w.cell(f"{agency.name}（{agency.code}）")],
        [w.label("全宗号 / 全宗名称", "fonds"), w.cell(f"{agency.fonds_code}  {agency.fonds_name}")],
        [w.label("接收单位", "receiving archives"), w.cell(f"{archives.name}（{archives.code}）")],
        [w.label("接收时段", "period received"),
         w.label(str(register.period), "both days included, China Standard Time (UTC+8)")],
        [w.label("制表人", "prepared by"), w.cell(register.prepared_by or "")],
        [w.label("制表时间", "produced at"), w.label(local_time(register.produced_at), "CST")],
    ]  # fmt: skip


def _signatures(register: TransferRegister, w: _Writer) -> Table:
    rows = [
        [w.label(f"移交单位：{register.agency.name}", "transferring agency"),
         w.label(f"接收单位：{register.archives.name}", "receiving archives")],
        [w.label("移交人（签名）：", "transferred by"), w.label("接收人（签名）：", "received by")],
        [w.label("日期：", "date"), w.label("日期：", "date")],
    ]  # fmt: skip
    table = Table(
        rows, colWidths=[WIDTH / 2] * 2, rowHeights=[None, 16 * mm, 10 * mm], hAlign="LEFT"
    )
    table.setStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("VALIGN", (0, 0), (-1, -1), "TOP")])  # fmt: skip
    return table


def _numbered_canvas(font: RegisterFont, footer: str) -> Callable[..., canvas.Canvas]:
    """A canvas class that holds each page until the last, then writes "第 N 页 共 M 页" and the
    footer line on every one (the total is known only at the end)."""

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.setFont(font.name, 8)
                self.setFillColor(colors.HexColor(GREY))
                self.drawString(MARGIN, MARGIN - 2 * mm, font.printable(footer))
                self.drawRightString(
                    A4[0] - MARGIN, MARGIN - 2 * mm, f"第 {number} 页 共 {total} 页"
                )
                super().showPage()
            super().save()

    return NumberedCanvas
