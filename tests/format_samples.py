"""Small, real sample files of every accepted long-term format (and some that are not), made
here with the libraries the project already has: for the format tests and the end-to-end tests."""

from __future__ import annotations

import io
import struct
import wave
import zipfile
import zlib
from pathlib import Path

from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def pdf_bytes(pages: int = 2, header: bytes = b"%PDF-1.4") -> bytes:
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, invariant=True)
    for number in range(pages):
        document.drawString(72, 720, f"第 {number + 1} 页 page {number + 1}")
        document.showPage()
    document.save()
    data = buffer.getvalue()
    # Same-length header: the cross-reference offsets stay right.
    return header + data[len(header) :]


def pdf_a_bytes(part: str, conformance: str) -> bytes:
    """A PDF whose XMP metadata claims PDF/A conformance: what siegfried's signature reads.

    It is not a conforming PDF/A (fonts are not embedded), which no signature can tell.
    """
    xmp = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
        f"<pdfaid:part>{part}</pdfaid:part><pdfaid:conformance>{conformance}</pdfaid:conformance>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
    buffer = io.BytesIO()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(1))))
    writer.xmp_metadata = xmp
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf_bytes(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(3))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def image_bytes(kind: str, mode: str = "RGB", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (64, 48), "white").save(buffer, kind, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims a size far past Pillow's decompression-bomb limit."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(2)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(b"\0\0\0\0" * int(seconds * rate))
    return buffer.getvalue()


def zip_bytes(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def ooxml_bytes(main_part: str, content_type: str, root: str) -> bytes:
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{content_type}"/></Types>'
    )
    relationships = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/officeDocument" Target="{main_part}"/></Relationships>'
    )
    return zip_bytes({"[Content_Types].xml": types, "_rels/.rels": relationships, main_part: root})


def docx_bytes() -> bytes:
    return ooxml_bytes(
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>通知</w:t></w:r></w:p></w:body></w:document>",
    )


def xlsx_bytes() -> bytes:
    return ooxml_bytes(
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheets/></workbook>",
    )


OFD_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.1" DocType="OFD">'
    "<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
)


def ofd_bytes(entry_file: str = OFD_XML) -> bytes:
    document = '<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"/>'
    return zip_bytes({"OFD.xml": entry_file, "Doc_0/Document.xml": document})


def scanned_ofd_bytes(pages: list[tuple[bytes | None, str]], *, absolute: bool = False) -> bytes:
    """An OFD (GB/T 33190) as a scanning line writes it: A4 pages (210 × 297 mm), each holding one
    embedded image (its bytes, and its Boundary `x y w h` in mm), or nothing (None). The image
    resources are in DocumentRes.xml under Res/; `absolute` names the pages from the package
    root (/Doc_0/Pages/…), as some writers do."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    members: dict[str, str | bytes] = {"OFD.xml": OFD_XML}
    page_list, multimedia = [], []
    for index, (image, boundary) in enumerate(pages):
        location = f"Pages/Page_{index}/Content.xml"
        page_list.append(
            f'<ofd:Page ID="{index + 1}" BaseLoc="{"/Doc_0/" if absolute else ""}{location}"/>'
        )
        objects = ""
        if image is not None:
            multimedia.append(
                f'<ofd:MultiMedia ID="{100 + index}" Type="Image">'
                f"<ofd:MediaFile>Image_{index}.bin</ofd:MediaFile></ofd:MultiMedia>"
            )
            members[f"Doc_0/Res/Image_{index}.bin"] = image
            objects = f'<ofd:ImageObject ID="{200 + index}" ResourceID="{100 + index}" Boundary="{boundary}"/>'
        members[f"Doc_0/{location}"] = (
            f'<ofd:Page {ns}><ofd:Content><ofd:Layer ID="{300 + index}">{objects}'
            "</ofd:Layer></ofd:Content></ofd:Page>"
        )
    members["Doc_0/Document.xml"] = (
        f"<ofd:Document {ns}><ofd:CommonData><ofd:PageArea><ofd:PhysicalBox>0 0 210 297"
        "</ofd:PhysicalBox></ofd:PageArea><ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes>"
        f"</ofd:CommonData><ofd:Pages>{''.join(page_list)}</ofd:Pages></ofd:Document>"
    )
    members["Doc_0/DocumentRes.xml"] = (
        f'<ofd:Res {ns} BaseLoc="Res"><ofd:MultiMedias>{"".join(multimedia)}'
        "</ofd:MultiMedias></ofd:Res>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE2 compound file (MS-CFB version 3): what .xls, .doc and .wps files are.

    Each stream is padded to at least 4096 bytes so that it lives in ordinary sectors, which
    leaves out the mini stream. Sector 0 holds the FAT, sector 1 the directory.
    """
    end, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    fat, data, entries = [fat_sector, end], b"", []
    for name, body in streams.items():
        body = body.ljust(4096, b"\0")
        body += b"\0" * (-len(body) % 512)
        start, count = len(fat), len(body) // 512
        fat += [start + i + 1 for i in range(count - 1)] + [end]
        data += body
        entries.append((name, 2, start, len(body)))

    def entry(name: str, kind: int, sibling: int, child: int, start: int, size: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\0\0"
        fields = struct.pack("<HBBIII", len(encoded), kind, 1, no_stream, sibling, child)
        return encoded.ljust(64, b"\0") + fields + b"\0" * 36 + struct.pack("<IQ", start, size)

    directory = entry("Root Entry", 5, no_stream, 1, end, 0)
    for index, (name, kind, start, size) in enumerate(entries):
        sibling = index + 2 if index + 1 < len(entries) else no_stream
        directory += entry(name, kind, sibling, no_stream, start, size)
    directory = directory.ljust(512, b"\0")
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )
    return header + struct.pack("<128I", *(fat + [free] * (128 - len(fat)))) + directory + data


def xls_bytes() -> bytes:
    # BIFF8 BOF record of a workbook globals substream.
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0x41, 0x06)
    return compound_file({"Workbook": bof})


def word_binary_bytes() -> bytes:
    return compound_file({"WordDocument": struct.pack("<HH", 0xA5EC, 0x00C1)})


def mp3_bytes() -> bytes:
    frame = b"\xff\xfb\x90\x00" + b"\0" * 413  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * 10


def mp4_bytes() -> bytes:
    brands = b"isom" + b"\0\0\0\0" + b"isomiso2avc1mp41"
    return (
        struct.pack(">I", 8 + len(brands))
        + b"ftyp"
        + brands
        + struct.pack(">I", 8)
        + b"moov"
        + struct.pack(">I", 16)
        + b"mdat"
        + b"\0" * 8
    )


def mpeg1_program_stream_bytes() -> bytes:
    pack = b"\x00\x00\x01\xba\x21\x00\x01\x00\x01\x80\x00\x01"
    system = b"\x00\x00\x01\xbb\x00\x06\x80\x00\x01\x04\xe1\xff"
    video = b"\x00\x00\x01\xe0\x00\x0a\x0f" + b"\0" * 9
    return (pack + system + video) * 3 + b"\x00\x00\x01\xb9"


def pe_executable_bytes() -> bytes:
    return b"MZ" + b"\0" * 58 + struct.pack("<I", 0x80) + b"\0" * 64 + b"PE\0\0" + b"\0" * 200


# --- the accepted-format list -----------------------------------------------------------------


# One small sample per accepted format: (file name, maker, PRONOM id or None, format id in formats.yaml).
ACCEPTED_SAMPLES = [
    # file name, content, PUID (None: no PRONOM signature), format id
    ("通知.pdf", lambda: pdf_bytes(header=b"%PDF-1.4"), "fmt/18", "pdf"),
    ("report.pdf", lambda: pdf_bytes(header=b"%PDF-1.7"), "fmt/276", "pdf"),
    ("report.pdf", lambda: pdf_bytes(header=b"%PDF-2.0"), "fmt/1129", "pdf"),
    ("pdfa1b.pdf", lambda: pdf_a_bytes("1", "B"), "fmt/354", "pdf-a"),
    ("pdfa2b.pdf", lambda: pdf_a_bytes("2", "B"), "fmt/477", "pdf-a"),
    ("pdfa3u.pdf", lambda: pdf_a_bytes("3", "U"), "fmt/481", "pdf-a"),
    ("公文.ofd", ofd_bytes, None, "ofd"),
    ("letter.docx", docx_bytes, "fmt/412", "docx"),
    ("letter.wps", word_binary_bytes, "fmt/609", "wps"),
    ("letter.rtf", lambda: rb"{\rtf1\ansi\deff0 {\fonttbl{\f0 Times;}} hello}", "fmt/45", "rtf"),
    ("scan.jpg", lambda: image_bytes("JPEG", dpi=(300, 300)), "fmt/43", "jpeg"),
    ("scan.tif", lambda: image_bytes("TIFF", dpi=(300, 300)), "fmt/353", "tiff"),
    ("scan.png", lambda: image_bytes("PNG", dpi=(300, 300)), "fmt/11", "png"),
    ("hearing.wav", wav_bytes, "fmt/141", "wav"),
    ("hearing.mp3", mp3_bytes, "fmt/134", "mp3"),
    ("meeting.mp4", mp4_bytes, "fmt/199", "mp4"),
    ("meeting.mpg", mpeg1_program_stream_bytes, "x-fmt/385", "mpg"),
    ("data.xml", lambda: b'<?xml version="1.0" encoding="UTF-8"?>\n<r>1</r>\n', "fmt/101", "xml"),
    ("budget.xls", xls_bytes, "fmt/61", "xls"),
    ("budget.xlsx", xlsx_bytes, "fmt/214", "xlsx"),
    ("table.csv", lambda: "编号,题名\n1,通知\n".encode(), "x-fmt/18", "csv"),
]
