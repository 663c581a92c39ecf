"""What the benchmark submits: realistic PDFs of a given size, and the documents that carry them.

A payload is a real one-page official document from `samples.render_pdf`, padded to its size with
PDF comment lines placed before the cross-reference table (whose `startxref` offset is moved to
match), so the file stays a well-formed PDF that Siegfried identifies as PDF by its header and
`%%EOF` trailer and pypdf opens without repair. The padding is random hex: not compressible,
and different for every record, so no two records share a digest.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Any

from recordflow.demo.samples import render_pdf

UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
KB, MB = UNITS["KB"], UNITS["MB"]
# --mix: in every 100 records, 90 of 10 KB (office documents), 9 of 1 MB (scanned or illustrated
# ones) and 1 of 50 MB (a long scanned file or a drawing set), evenly interleaved.
MIX = ((10 * KB, 90), (1 * MB, 9), (50 * MB, 1))
MIX_LABEL = "mix"
# Documents are dated over this many years (this year and the ones before), so that the register
# stage, which numbers each fonds-year in one partition, sees several series per agency, as when
# agencies transfer the backlog of earlier years.
SERIES_YEARS = 5
PADDING_LINE = 78  # hex characters per comment line ("%" + 78 + "\n" = 80 bytes)
STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def parse_size(text: str) -> int:
    """`10KB`, `1MB`, `512B`, `1.5MB` → bytes (binary units, as S3 and `ls -h` count)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*", text.upper())
    if not match:
        raise ValueError(f"size {text!r} is not like 10KB, 512B or 1MB")
    size = int(float(match[1]) * UNITS[match[2]])
    if size <= 0:
        raise ValueError(f"size {text!r} must be more than 0 bytes")
    return size


def size_label(size: int) -> str:
    for unit in ("GB", "MB", "KB"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return f"{size}B"


@dataclass(frozen=True)
class PayloadPlan:
    """The size of record `index`: one size for all, or the mix."""

    size: int | None  # None: the mix

    @property
    def sizes(self) -> list[int]:
        """Every size the plan submits: the one size, or each of the mix's."""
        return [self.size] if self.size is not None else [size for size, _ in MIX]

    @property
    def label(self) -> str:
        return MIX_LABEL if self.size is None else size_label(self.size)

    def size_of(self, index: int) -> int:
        if self.size is not None:
            return self.size
        slot = index % sum(share for _, share in MIX)
        # Spread the rarer sizes through the hundred: the 50 MB one at slot 99, 1 MB every tenth.
        if slot == 99:
            return MIX[2][0]
        if slot % 10 == 9:
            return MIX[1][0]
        return MIX[0][0]


def base_pdf(agency_name: str) -> bytes:
    """The one-page notice an agency submits in the bench, before padding."""
    return render_pdf(f"{agency_name}关于基准测试文件归档工作的通知", "基准〔2026〕1号", agency_name,
                      dt.date.today().isoformat(),
                      "各有关单位：\n　　现将有关事项通知如下，请认真贯彻执行。\n　　特此通知。")  # fmt: skip


def padded_pdf(base: bytes, size: int) -> bytes:
    """`base` (a PDF with a classic xref table) grown to exactly `size` bytes with comment lines
    before `xref`; a `size` below the base's own leaves it as it is."""
    match = STARTXREF.search(base)
    xref_at = base.rfind(b"\nxref") + 1
    if match is None or xref_at <= 0 or int(match[1]) != xref_at:
        raise ValueError("not a PDF with one classic cross-reference table at startxref")
    missing = size - len(base)
    if missing <= 0:
        return base
    # The new startxref may have more digits than the old one: take them off the padding.
    for _ in range(3):
        new_offset = str(xref_at + missing).encode()
        padding_length = size - len(base) - (len(new_offset) - len(match[1]))
        if len(str(xref_at + padding_length).encode()) == len(new_offset):
            break
        missing = padding_length
    padding = comment_padding(padding_length)
    tail = base[xref_at:]
    tail_match = STARTXREF.search(tail)
    assert tail_match is not None
    tail = (
        tail[: tail_match.start(1)]
        + str(xref_at + len(padding)).encode()
        + tail[tail_match.end(1) :]
    )
    return base[:xref_at] + padding + tail


def comment_padding(length: int) -> bytes:
    """Exactly `length` bytes of PDF comment lines (`%` + random hex + newline)."""
    if length <= 0:
        return b""
    if length == 1:
        return b"\n"
    line = PADDING_LINE + 2
    full, rest = divmod(length, line)
    # Random hex over the whole length, then every line's `%` and newline written over it with
    # two strided slice assignments: 2.8 ms a megabyte against 6.3 for joining 13,000 lines, CPU
    # the bench's simulated agencies took from the pipeline it measures on the same cores.
    padding = bytearray(os.urandom((length + 1) // 2).hex().encode()[:length])
    padding[0 : full * line : line] = b"%" * full
    padding[line - 1 : full * line : line] = b"\n" * full
    if rest == 1:  # one byte over whole lines: a blank line is whitespace, allowed anywhere
        padding[-1:] = b"\n"
    elif rest >= 2:
        padding[full * line] = ord("%")
        padding[-1] = ord("\n")
    return bytes(padding)


def document_metadata(run_id: str, index: int, agency_name: str, unit_code: str,
                      today: dt.date) -> dict[str, Any]:  # fmt: skip
    """A routine notice (通知, decided by the city's default retention rule) from an agency."""
    # Not index % SERIES_YEARS: with as many agencies as years, round-robin would give each
    # agency one year only.
    years_back = (index // SERIES_YEARS) % SERIES_YEARS
    date = today if years_back == 0 else dt.date(today.year - years_back, 6, 15)
    return {
        "document_id": f"BENCH-{run_id}-{index:07d}",
        "title": f"关于做好第{index}批基准测试文件归档工作的通知",
        "document_number": f"基准〔{date.year}〕{run_id}-{index}号",
        "responsible_party": agency_name,
        "document_date": date.isoformat(),
        "document_type": "通知",
        "unit_code": unit_code,
        "source_system": "OA",
        "page_count": 1,
    }
