"""Hostile and broken files for the bad-input corpus, made here from their structure (no binary
fixtures): compression bombs that are real ZIP/OFD containers and real PDFs, and files whose bytes
are not what their name says. Each is built in memory in a few seconds at most."""

from __future__ import annotations

import io
import zipfile
import zlib
from functools import cache

from tests.format_samples import OFD_XML

MIB = 1024 * 1024
BOMB_EXPANDED_MIB = 1024  # what each bomb expands to: 1 GiB of zeros from about 1 MiB


@cache
def _zeros_chunk() -> bytes:
    return bytes(MIB)


def zip_bomb(
    members: dict[str, str], bomb_name: str, expanded_mib: int = BOMB_EXPANDED_MIB
) -> bytes:
    """A sound ZIP container holding `members` and one entry, `bomb_name`, that inflates to
    `expanded_mib` MiB of zeros. The central directory tells the truth about the sizes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        entry = zipfile.ZipInfo(bomb_name, date_time=(2026, 4, 2, 9, 30, 0))
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w", force_zip64=True) as member:
            for _ in range(expanded_mib):
                member.write(_zeros_chunk())
    return buffer.getvalue()


@cache
def ofd_bomb() -> bytes:
    """An OFD (GB/T 33190) whose OFD.xml is sound and whose page content inflates to 1 GiB."""
    document = '<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"/>'
    return zip_bomb(
        {"OFD.xml": OFD_XML, "Doc_0/Document.xml": document}, "Doc_0/Pages/Page_0/Content.xml"
    )


@cache
def docx_bomb() -> bytes:
    """A ZIP sent as .docx whose [Content_Types].xml, the part every OOXML reader (and
    siegfried's container identification) reads first, inflates to 1 GiB."""
    return zip_bomb({"_rels/.rels": "<Relationships/>"}, "[Content_Types].xml")


def pdf_with_streams(*streams: bytes, version: bytes = b"1.7") -> bytes:
    """A well-formed one-page PDF whose page content is `streams`, each already FlateDecode-d."""
    contents = " ".join(f"{4 + n} 0 R" for n in range(len(streams)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [%s] >>"
        % contents.encode(),
        *(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)
            for data in streams
        ),
    ]
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@cache
def pdf_bomb() -> bytes:
    """A PDF whose one page-content stream inflates to 1 GiB of zeros (about 1 MiB sent)."""
    deflate = zlib.compressobj(9)
    data = b"".join(deflate.compress(_zeros_chunk()) for _ in range(BOMB_EXPANDED_MIB))
    return pdf_with_streams(data + deflate.flush())


def pdf_text_page(text: str = "BT /F1 12 Tf 72 720 Td (notice) Tj ET") -> bytes:
    """A small PDF with an ordinary compressed content stream (a few to one ratio)."""
    return pdf_with_streams(zlib.compress(((text + "\n") * 200).encode()))
