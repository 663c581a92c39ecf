"""The demo's bundled sample: realistic municipal documents from several agencies, generated as
small PDFs (Chinese text in the STSong-Light CID font, which PDF viewers supply) and scanned-page
images, plus deliberately bad submissions that the pipeline must reject with a reason.

Generation is deterministic (reportlab's invariant mode, fixed pixels), so running the demo twice
submits byte-identical files and the archive recognises them as the same records.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from recordflow.agencies import Agency, Unit
from recordflow.demo.signing import sm2_certificate, sm2_private_key, sm2_sign

CJK_FONT = "STSong-Light"

# What a bad sample is meant to show (the reason the pipeline should give).
TAMPERED = "tampered"  # staged bytes changed after hashing → checksum-mismatch
NO_TITLE = "no-title"  # 题名 empty → missing-title
UNKNOWN_AGENCY = "unknown-agency"  # payload names an agency that is not registered
UNDECIDED = "undecided"  # no retention rule decides it → retention review by archive staff
FORGED = "forged-signature"  # signed over other bytes → four-property-check-failed (YJ-1-1)
UNSCANNED_PAGE = "unscanned-page"  # a digitized item with a page missing → held at linking


@dataclass(frozen=True)
class Sample:
    agency: str
    metadata: dict[str, Any]
    kind: str = "pdf"  # pdf | scan
    attachment: str | None = None  # an extra scanned page, as attachment
    bad: str | None = None
    expected_reason: str | None = None
    claimed_agency: dict[str, str] = field(default_factory=dict)
    signed: bool = False  # the agency's system signed the main document (SM2 with SM3)

    @property
    def expected_status(self) -> str:
        """archived, review (no rule decides it: archive staff must), rejected, or held (a
        digitized item the 挂接 check keeps back)."""
        if self.bad is None:
            return "archived"
        if self.bad == UNSCANNED_PAGE:
            return "held"  # never submitted: the 挂接 report asks for a rescan
        return "review" if self.bad == UNDECIDED else "rejected"


def _meta(document_id: str, title: str, document_type: str, unit: str, date: str, party: str,
          number: str | None = None, keywords: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    return {
        "document_id": document_id,
        "title": title,
        "document_number": number,
        "responsible_party": party,
        "document_date": date,
        "document_type": document_type,
        "unit_code": unit,
        "keywords": list(keywords),
        "source_system": "OA",
        "page_count": 1,
    }


def _step(action: str, time: str, basis: str) -> dict[str, Any]:
    """A 业务实体 step of a sample's history, at a fixed time (the demo stays deterministic)."""
    return {"action": action, "time": time, "organisation": "市政务服务数据管理局", "basis": basis}


SAMPLES: tuple[Sample, ...] = (
    Sample("bgt", _meta("BGT-2026-0003", "关于做好2026年春节期间值班工作的通知", "通知", "BGS", "2026-01-20",
                        "市人民政府办公厅", "市府办发〔2026〕3号", ("值班", "春节"))),
    Sample("bgt", _meta("BGT-2026-0012", "市政府第十二次常务会议纪要", "会议纪要", "MSK", "2026-03-06",
                        "市人民政府办公厅", "市府常纪〔2026〕12号", ("常务会议",))),
    Sample("zjj", _meta("ZJJ-2026-0041", "关于申请老旧小区改造专项资金的请示", "请示", "GHK", "2026-04-02",
                        "市住房和城乡建设局", "市建请〔2026〕41号", ("老旧小区", "专项资金")),
           attachment="现场照片"),
    Sample("zjj", _meta("ZJJ-2026-0007", "关于印发《市住房保障管理办法》的决定", "决定", "ZFK", "2026-02-15",
                        "市住房和城乡建设局", "市建发〔2026〕7号", ("住房保障",)), signed=True),
    Sample("bdc", _meta("BDC-2026-0102", "关于2026年第一季度不动产登记情况的报告", "报告", "DJK", "2026-04-10",
                        "市不动产登记中心", "市不动产报〔2026〕5号", ("不动产登记", "季度报告"))),
    Sample("zwfw", {**_meta("ZWFW-2026-0033", "关于同意设立市民服务中心南山分中心的批复", "批复", "SPK", "2026-05-18",
                            "市政务服务数据管理局", "市政数复〔2026〕33号", ("市民服务中心",)),
                    "relations": [{"related_id": "ZWFW-2026-0029", "relation_type": "responds-to",
                                   "description": "答复南山区《关于设立市民服务中心南山分中心的请示》"}],
                    "history": [_step("received", "2026-05-06T10:12:00+08:00", "收文登记"),
                                _step("approved", "2026-05-15T16:40:00+08:00", "局务会议审议同意"),
                                _step("issued", "2026-05-18T09:00:00+08:00", "市政数复〔2026〕33号"),
                                _step("filed", "2026-05-20T14:30:00+08:00", "文书归档")]}),
    Sample("fy", {**_meta("FY-2026-0219", "关于商请协助送达法律文书的函", "函", "LAT", "2026-06-03",
                          "市中级人民法院", "（2026）市中法函字第219号", ("送达",)),
                  "file_details": [{"sequence": 1, "digitization": {
                      "form": "扫描件", "resolution_dpi": 300, "colour_mode": "灰度", "compression": "JPEG"}}]},
           kind="scan"),
    Sample("zwfw", _meta("ZWFW-2026-0051", "关于开展政务服务“一网通办”专项检查的通知", "通知", "BGS", "2026-07-01",
                         "市政务服务数据管理局", "市政数发〔2026〕51号", ("一网通办",)),
           attachment="检查清单"),
    # --- deliberately bad --------------------------------------------------------------
    Sample("zjj", _meta("ZJJ-2026-0099", "关于城中村综合整治工作进展的报告", "报告", "GHK", "2026-08-12",
                        "市住房和城乡建设局", "市建报〔2026〕99号"), bad=TAMPERED, expected_reason="checksum-mismatch"),
    Sample("bgt", _meta("BGT-2026-0120", "", "通知", "BGS", "2026-08-20", "市人民政府办公厅", "市府办发〔2026〕120号"),
           bad=NO_TITLE, expected_reason="missing-title"),
    Sample("zjj", _meta("SJJ-2026-0001", "关于报送供水管网改造计划的函", "函", "BGS", "2026-09-01", "市水务局",
                        "市水务函〔2026〕1号"),
           bad=UNKNOWN_AGENCY, expected_reason="unknown-agency",
           claimed_agency={"code": "swj", "name": "市水务局"}),
    Sample("bdc", _meta("BDC-2026-0150", "窗口服务工作备忘录", "备忘录", "BGS", "2026-09-09",
                        "市不动产登记中心"), bad=UNDECIDED, expected_reason="retention-undecided"),
    Sample("bdc", _meta("BDC-2026-0161", "关于调整不动产登记收费标准的通知", "通知", "BGS", "2026-09-15",
                        "市不动产登记中心", "市不动产发〔2026〕16号"),
           bad=FORGED, expected_reason="four-property-check-failed"),
)  # fmt: skip


# Submitted over HTTP through the gateway (recordflow/demo/gateway.py): one by an agency of the
# installation, one by the agency the demo onboards first (市司法局, `ONBOARDED`).
ONBOARDED = Agency(code="sfj", name="市司法局", fonds_code="Z140", fonds_name="市司法局",
                   units=[Unit(code="BGS", name="办公室"), Unit(code="FZK", name="法治科")])  # fmt: skip
GATEWAY_SAMPLES: tuple[Sample, ...] = (
    Sample("zjj", _meta("ZJJ-2026-0063", "关于开展2026年建筑施工安全生产大检查的通知", "通知", "BGS", "2026-06-20",
                        "市住房和城乡建设局", "市建发〔2026〕63号", ("安全生产",))),
    Sample("sfj", _meta("SFJ-2026-0008", "关于印发2026年全市普法工作要点的通知", "通知", "FZK", "2026-03-12",
                        "市司法局", "市司发〔2026〕8号", ("普法",))),
)  # fmt: skip


# The agencies' signing certificates: self-issued here; a real agency's is issued by its CA.
CERTIFICATE_VALIDITY = (
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
)


def submission_metadata(sample: Sample, files: list[Path]) -> dict[str, Any]:
    """What is submitted for a sample: its metadata, plus the agency's signature on the main
    document (DA/T 46 电子签名) when the sample is signed, or a forged one."""
    if not sample.signed and sample.bad != FORGED:
        return sample.metadata
    meta = sample.metadata
    key = sm2_private_key(f"recordflow sample agency {sample.agency}")
    party = meta["responsible_party"]
    certificate = sm2_certificate(key, party, party, *CERTIFICATE_VALIDITY)
    # A forged signature is a real one, taken from another document.
    signed = b"another document" if sample.bad == FORGED else files[0].read_bytes()
    signature = {
        "signature_id": f"{meta['document_id']}-SIG-1",
        "rule": "GB/T 38540-2020",
        "time": f"{meta['document_date']}T09:00:00+08:00",
        "signer": party,
        "result": sm2_sign(key, [signed]),
        "certificate": base64.b64encode(certificate).decode(),
        "algorithm": "SM2-with-SM3",
    }
    return {**meta, "file_details": [{"sequence": 1, "signatures": [signature]}]}


def render_pdf(title: str, number: str | None, party: str, date: str, body: str) -> bytes:
    """A one-page official document (红头文件 layout, simplified)."""
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    width, height = A4
    page.setTitle(title)
    page.setFillColorRGB(0.8, 0, 0)
    page.setFont(CJK_FONT, 26)
    page.drawCentredString(width / 2, height - 100, party + "文件")
    page.setStrokeColorRGB(0.8, 0, 0)
    page.line(60, height - 130, width - 60, height - 130)
    page.setFillColorRGB(0, 0, 0)
    page.setFont(CJK_FONT, 12)
    if number:
        page.drawCentredString(width / 2, height - 118, number)
    page.setFont(CJK_FONT, 16)
    page.drawCentredString(width / 2, height - 170, title)
    page.setFont(CJK_FONT, 12)
    for line_number, line in enumerate(body.split("\n")):
        page.drawString(80, height - 220 - line_number * 22, line)
    page.drawRightString(width - 80, 200, party)
    page.drawRightString(width - 80, 180, date)
    page.showPage()
    page.save()
    return buffer.getvalue()


def render_scan(label: str, seed: int) -> bytes:
    """A grey 'scanned page' JPEG with ruled lines standing in for text."""
    image = Image.new("L", (620, 877), color=246)
    draw = ImageDraw.Draw(image)
    for row in range(14):
        length = 400 + ((seed * 37 + row * 53) % 120)
        draw.rectangle((80, 120 + row * 48, 80 + length, 132 + row * 48), fill=70)
    draw.rectangle((420, 740, 560, 800), outline=150, width=3)  # the seal's place
    draw.text((80, 60), label.encode("ascii", "replace").decode(), fill=20)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def write_files(sample: Sample, directory: Path) -> list[Path]:
    """Render a sample's files into `directory`; the main document first."""
    meta = sample.metadata
    stem = meta["document_id"]
    if sample.kind == "scan":
        main = directory / f"{stem}.jpg"
        main.write_bytes(render_scan(stem, len(stem)))
    else:
        body = "各有关单位：\n　　现将有关事项通知如下，请认真贯彻执行。\n　　特此通知。"
        main = directory / f"{stem}.pdf"
        main.write_bytes(render_pdf(meta["title"] or "（无题名）", meta["document_number"],
                                    meta["responsible_party"], meta["document_date"], body))  # fmt: skip
    files = [main]
    if sample.attachment:
        attachment = directory / f"{stem}-附件-{sample.attachment}.jpg"
        attachment.write_bytes(render_scan(f"{stem} attachment", len(sample.attachment)))
        files.append(attachment)
    return files
