"""Format identification (archival/formats.py) against the accepted-format list
(recordflow/formats.yaml).

Every sample is generated here, small, and identified by the real siegfried signatures: nothing
stands in for pygfried, pypdf or Pillow. Each problem code has an input that raises it and one that
does not.
"""

from __future__ import annotations

import io
import struct
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from archival import formats
from archival.formats import (
    DEFAULT_FORMATS_FILE,
    PROBLEMS,
    READERS,
    FormatInfo,
    FormatRegistry,
    identify,
    load_formats,
)
from tests.corpus.files import pdf_text_page
from tests.format_samples import (
    ACCEPTED_SAMPLES,
    compound_file,
    docx_bytes,
    encrypted_pdf_bytes,
    image_bytes,
    mp4_bytes,
    ofd_bytes,
    pdf_a_bytes,
    pdf_bytes,
    pe_executable_bytes,
    png_header_only,
    wav_bytes,
    word_binary_bytes,
    write,
    xls_bytes,
    zip_bytes,
)

REGISTRY = load_formats()
PDF_A_PUIDS = {
    "fmt/95": "PDF/A-1a",
    "fmt/354": "PDF/A-1b",
    "fmt/476": "PDF/A-2a",
    "fmt/477": "PDF/A-2b",
    "fmt/478": "PDF/A-2u",
    "fmt/479": "PDF/A-3a",
    "fmt/480": "PDF/A-3b",
    "fmt/481": "PDF/A-3u",
}


def test_the_list_covers_every_format_the_standard_accepts() -> None:
    assert {entry.id for entry in REGISTRY.formats} == {
        "ofd", "pdf-a", "pdf", "docx", "wps", "rtf", "jpeg", "tiff", "png", "wav", "mp3",
        "mp4", "mpg", "xml", "xls", "xlsx", "csv",
        "jpeg2000",  # DA/T 31's third image format for digitized paper
    }  # fmt: skip
    categories = {entry.id: entry.category for entry in REGISTRY.formats}
    assert categories["ofd"] == categories["pdf-a"] == "fixed-layout"
    assert {categories[i] for i in ("pdf", "docx", "wps", "rtf")} == {"text"}
    assert {categories[i] for i in ("jpeg", "tiff", "png", "jpeg2000")} == {"image"}
    assert {categories[i] for i in ("xml", "xls", "xlsx", "csv")} == {"data"}
    assert REGISTRY.version


def test_pdf_a_puids_are_fixed_layout_and_plain_pdf_is_not() -> None:
    for puid in [*PDF_A_PUIDS, "fmt/1910", "fmt/1911", "fmt/1912"]:
        entry = REGISTRY.by_puid(puid)
        assert entry is not None and entry.id == "pdf-a", puid
    for puid in ("fmt/17", "fmt/276", "fmt/1129"):
        entry = REGISTRY.by_puid(puid)
        assert entry is not None and entry.category == "text", puid
    assert REGISTRY.by_puid("fmt/1451") is None  # PDF Portfolio: wraps unidentified files


def test_every_reader_names_a_listed_format() -> None:
    assert set(READERS) <= {entry.id for entry in REGISTRY.formats}


def test_a_puid_listed_for_two_formats_is_refused() -> None:
    data = yaml.safe_load(DEFAULT_FORMATS_FILE.read_text(encoding="utf-8"))
    data["formats"][0]["puids"] = ["fmt/17"]
    with pytest.raises(ValidationError, match="fmt/17"):
        FormatRegistry.model_validate(data)


def test_extensions_and_media_types_are_written_the_one_way_they_are_compared() -> None:
    data = yaml.safe_load(DEFAULT_FORMATS_FILE.read_text(encoding="utf-8"))
    data["formats"][0]["extensions"] = [".OFD"]
    with pytest.raises(ValidationError, match="lowercase"):
        FormatRegistry.model_validate(data)


# --- accepted formats, identified by content --------------------------------------------------


@pytest.mark.parametrize(("file_name", "make", "puid", "format_id"), ACCEPTED_SAMPLES)
def test_an_accepted_format_is_identified_by_its_content(
    tmp_path: Path, file_name: str, make: Callable[[], bytes], puid: str | None, format_id: str
) -> None:
    info = identify(write(tmp_path, file_name, make()), file_name, None)
    entry = REGISTRY.get(format_id)
    assert entry is not None
    assert (info.puid, info.category, info.accepted) == (puid, entry.category, True)
    assert info.mime_type == entry.media_types[0]
    assert info.name
    assert info.problems == ()


def test_a_pdf_reports_its_page_count_and_that_it_is_not_encrypted(tmp_path: Path) -> None:
    info = identify(write(tmp_path, "a.pdf", pdf_bytes(pages=3)), "a.pdf", "application/pdf")
    assert info.technical["page_count"] == "3"
    assert info.technical["encrypted"] == "false"
    assert info.technical["producer"].startswith("ReportLab")
    assert info.version == "1.4"


def test_a_pdf_a_is_named_as_siegfried_names_it(tmp_path: Path) -> None:
    info = identify(write(tmp_path, "a.pdf", pdf_a_bytes("1", "B")), "a.pdf", None)
    assert info.name == "Acrobat PDF/A - Portable Document Format"
    assert (info.version, info.category) == ("1b", "fixed-layout")


def test_images_report_pixel_size_resolution_and_mode(tmp_path: Path) -> None:
    jpeg = identify(
        write(tmp_path, "a.jpg", image_bytes("JPEG", "L", dpi=(200, 200))), "a.jpg", None
    )
    assert jpeg.technical == {
        "width_px": "64",
        "height_px": "48",
        "colour_mode": "L",
        "x_resolution_dpi": "200",
        "y_resolution_dpi": "200",
    }
    png = identify(
        write(tmp_path, "a.png", image_bytes("PNG", "RGB", dpi=(300, 300))), "a.png", None
    )
    # PNG stores pixels per metre: 300 dpi comes back as 299.9994, reported as 300.
    assert png.technical["x_resolution_dpi"] == "300"
    assert "compression" not in png.technical  # only TIFF's compression varies enough to report


def test_a_tiff_reports_compression_bits_pages_and_software(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pages = [Image.new("1", (64, 48), 1), Image.new("1", (64, 48), 0)]
    pages[0].save(
        buffer,
        "TIFF",
        compression="group4",
        dpi=(600, 600),
        save_all=True,
        append_images=pages[1:],
        tiffinfo={305: "ScanStation 3"},
    )
    info = identify(write(tmp_path, "scan.tiff", buffer.getvalue()), "scan.tiff", "image/tiff")
    assert info.technical["compression"] == "CCITT Group 4"
    assert info.technical["bits_per_sample"] == "1"
    assert info.technical["page_count"] == "2"
    assert info.technical["software"] == "ScanStation 3"
    assert info.technical["x_resolution_dpi"] == "600"
    lzw = identify(
        write(tmp_path, "lzw.tif", image_bytes("TIFF", compression="tiff_lzw")), "lzw.tif", None
    )
    assert (lzw.technical["compression"], lzw.technical["bits_per_sample"]) == ("LZW", "8,8,8")


def test_a_huge_image_is_measured_from_its_header_without_decoding(tmp_path: Path) -> None:
    # 100000 x 100000 pixels: Image.open would refuse it as a decompression bomb.
    path = write(tmp_path, "huge.png", png_header_only(100_000, 100_000))
    info = identify(path, "huge.png", None)
    assert (info.puid, info.problems) == ("fmt/11", ())
    assert (info.technical["width_px"], info.technical["height_px"]) == ("100000", "100000")


def test_a_wav_reports_channels_rate_sample_size_and_duration(tmp_path: Path) -> None:
    info = identify(write(tmp_path, "a.wav", wav_bytes(0.5, 8000)), "a.wav", "audio/x-wav")
    assert info.technical == {
        "channels": "2",
        "sample_rate_hz": "8000",
        "bits_per_sample": "16",
        "duration_s": "0.5",
    }
    assert info.problems == ()


def test_ofd_is_found_by_its_container_with_its_version(tmp_path: Path) -> None:
    info = identify(write(tmp_path, "a.ofd", ofd_bytes()), "a.ofd", "application/ofd")
    assert (info.puid, info.name, info.version, info.basis) == (
        None,
        "OFD (GB/T 33190)",
        "1.1",
        "ofd container",
    )
    assert info.technical == {"encrypted": "false"}


def test_a_zip_with_some_other_ofd_xml_is_only_a_zip(tmp_path: Path) -> None:
    other = '<?xml version="1.0"?><OFD xmlns="urn:not-gbt-33190"/>'
    info = identify(write(tmp_path, "a.ofd", ofd_bytes(other)), "a.ofd", None)
    assert (info.puid, info.accepted) == ("x-fmt/263", False)
    assert info.problems == ("not-accepted", "extension-mismatch")


def test_word_binary_content_is_wps_only_when_named_wps(tmp_path: Path) -> None:
    path = write(tmp_path, "letter", word_binary_bytes())
    wps = identify(path, "letter.wps", None)
    doc = identify(path, "letter.doc", None)
    assert (wps.name, wps.accepted) == ("WPS (Kingsoft WPS Writer)", True)
    assert (doc.puid, doc.accepted, doc.problems) == (wps.puid, False, ("not-accepted",))


def test_rtf_that_siegfried_misses_is_still_rtf(tmp_path: Path) -> None:
    # What Word 2007 and later writes: no PRONOM RTF signature matches it.
    word = rb"{\rtf1\adeflang1025\ansi\ansicpg1252\uc1\adeff31507\deff0 {\fonttbl{\f0 Times;}} hi}"
    info = identify(write(tmp_path, "a.rtf", word), "a.rtf", "text/rtf")
    assert (info.puid, info.name, info.accepted, info.problems) == (
        None,
        "Rich Text Format",
        True,
        (),
    )


def test_csv_in_gbk_is_text_and_accepted(tmp_path: Path) -> None:
    gbk = "编号,题名\n1,通知\n".encode("gbk")
    info = identify(write(tmp_path, "a.csv", gbk), "a.csv", None)
    assert (info.puid, info.accepted, info.problems) == ("x-fmt/18", True, ())


def test_the_file_name_not_the_path_gives_the_extension(tmp_path: Path) -> None:
    # A staging download named without an extension: CSV can only be told by the sent name.
    path = write(tmp_path, "upload-0001", b"a,b\n1,2\n")
    assert identify(path, "表.csv", "text/csv").puid == "x-fmt/18"
    assert identify(path, "表.CSV", None).puid == "x-fmt/18"
    pdf = identify(write(tmp_path, "upload-0002", pdf_bytes()), "通知.pdf", None)
    assert (pdf.puid, pdf.problems) == ("fmt/18", ())


# --- problems ---------------------------------------------------------------------------------
def test_zero_length(tmp_path: Path) -> None:
    empty = identify(write(tmp_path, "a.pdf", b""), "a.pdf", "application/pdf")
    assert empty == FormatInfo(
        None, None, None, None, "zero-length file", None, False, {}, ("zero-length",)
    )
    one_byte = identify(write(tmp_path, "b.txt", b"x"), "b.txt", None)
    assert "zero-length" not in one_byte.problems


def test_unidentified(tmp_path: Path) -> None:
    noise = bytes(range(256)) * 4
    info = identify(write(tmp_path, "blob.csv", noise), "blob.csv", "text/csv")
    # Siegfried matches CSV on the name alone; binary content does not make a CSV.
    assert (info.puid, info.accepted, info.problems) == (None, False, ("unidentified",))
    assert (
        "unidentified" not in identify(write(tmp_path, "a.csv", b"a,b\n"), "a.csv", None).problems
    )


@pytest.mark.parametrize(
    ("file_name", "make", "puid"),
    [
        ("setup.exe", pe_executable_bytes, "x-fmt/411"),
        ("photo.gif", lambda: image_bytes("GIF"), "fmt/3"),
        ("letter.doc", word_binary_bytes, "fmt/609"),
        ("notes.txt", lambda: b"plain text\n", "x-fmt/111"),
    ],
)
def test_not_accepted(tmp_path: Path, file_name: str, make: Callable[[], bytes], puid: str) -> None:
    info = identify(write(tmp_path, file_name, make()), file_name, None)
    assert (info.puid, info.accepted, info.category) == (puid, False, None)
    assert info.problems == ("not-accepted",)


def test_encrypted_pdf(tmp_path: Path) -> None:
    locked = identify(write(tmp_path, "a.pdf", encrypted_pdf_bytes("secret")), "a.pdf", None)
    assert locked.problems == ("encrypted",)
    assert locked.technical == {"encrypted": "true"}  # pages cannot be counted without the password
    # Only an owner password: anyone can open it, but it is still encrypted.
    owner_only = identify(write(tmp_path, "b.pdf", encrypted_pdf_bytes("")), "b.pdf", None)
    assert owner_only.problems == ("encrypted",)
    assert owner_only.technical["page_count"] == "3"
    plain = identify(write(tmp_path, "c.pdf", pdf_bytes()), "c.pdf", None)
    assert "encrypted" not in plain.problems


def test_pdf_under_a_non_standard_security_handler_is_encrypted(tmp_path: Path) -> None:
    # Certificate or DRM handlers (Adobe.PubSec, rights-management plug-ins) are not public.
    data = encrypted_pdf_bytes("").replace(b"/Standard", b"/VendorDRM", 1)
    info = identify(write(tmp_path, "a.pdf", data), "a.pdf", None)
    assert (info.accepted, info.problems, info.technical) == (
        True,
        ("encrypted",),
        {"encrypted": "true"},
    )


def test_encrypted_office_document(tmp_path: Path) -> None:
    info_stream = struct.pack("<HHI", 4, 4, 0x40)  # agile encryption header
    data = compound_file({"EncryptionInfo": info_stream, "EncryptedPackage": b""})
    info = identify(write(tmp_path, "a.docx", data), "a.docx", None)
    assert (info.puid, info.problems) == ("fmt/494", ("not-accepted", "encrypted"))


def test_encrypted_ofd_container(tmp_path: Path) -> None:
    data = bytearray(ofd_bytes())
    # Set the "encrypted" flag of every entry, in the local headers and the central directory.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + offset] |= 0x1
            start = data.find(signature, start + 4)
    info = identify(write(tmp_path, "a.ofd", bytes(data)), "a.ofd", None)
    assert info.name == "OFD (GB/T 33190)"
    assert info.problems == ("unreadable", "encrypted")


def test_unreadable_truncated_pdf(tmp_path: Path) -> None:
    whole = pdf_bytes(pages=3)
    info = identify(write(tmp_path, "cut.pdf", whole[: len(whole) // 2]), "cut.pdf", None)
    assert info.problems == ("unidentified", "unreadable")
    assert "unreadable" not in identify(write(tmp_path, "a.pdf", whole), "a.pdf", None).problems


def test_unreadable_pdf_that_siegfried_recognises(tmp_path: Path) -> None:
    # Header and end-of-file marker are what the PRONOM signature looks at; nothing between parses.
    data = b"%PDF-1.4\n" + b"not an object " * 50 + b"\n%%EOF\n"
    info = identify(write(tmp_path, "a.pdf", data), "a.pdf", None)
    assert (info.puid, info.accepted, info.problems) == ("fmt/18", True, ("unreadable",))
    assert "page_count" not in info.technical


def test_a_damaged_pdf_is_not_read_whole_to_repair_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cross-reference table, and 200 kB before the trailer: pypdf can repair that, by reading
    # the whole file into memory to find every object.
    whole = pdf_bytes(pages=3)
    xref, trailer = whole.index(b"xref\n"), whole.index(b"trailer")
    damaged = write(
        tmp_path, "d.pdf", whole[:xref] + b"%" + b"x" * 200_000 + b"\n" + whole[trailer:]
    )
    repaired = identify(damaged, "d.pdf", None)
    assert (repaired.puid, repaired.problems, repaired.technical["page_count"]) == (
        "fmt/18",
        (),
        "3",
    )
    # The budget (64 MiB in earnest, 128 kB here) refuses that; a sound PDF needs far less (this
    # one of 19 kB: 89 kB, counted in the 8 kB reads of the buffer pypdf reads through).
    monkeypatch.setattr(formats, "MAX_PDF_READ_BYTES", 128 * 1024)
    assert identify(damaged, "d.pdf", None).problems == ("unreadable",)
    sound = identify(write(tmp_path, "sound.pdf", pdf_bytes(pages=40)), "sound.pdf", None)
    assert (sound.problems, sound.technical["page_count"]) == ((), "40")


def test_unreadable_image_that_claims_to_be_one(tmp_path: Path) -> None:
    info = identify(write(tmp_path, "a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "a.png", None)
    assert info.problems == ("unidentified", "unreadable")


def test_unreadable_ofd_entry_file(tmp_path: Path) -> None:
    info = identify(write(tmp_path, "a.ofd", ofd_bytes("<ofd:OFD unclosed")), "a.ofd", None)
    assert (info.name, info.accepted, info.problems) == ("OFD (GB/T 33190)", True, ("unreadable",))


def test_extension_mismatch(tmp_path: Path) -> None:
    jpeg = write(tmp_path, "upload", image_bytes("JPEG"))
    as_pdf = identify(jpeg, "scan.pdf", None)
    assert (as_pdf.puid, as_pdf.accepted, as_pdf.problems) == (
        "fmt/43",
        True,
        ("extension-mismatch",),
    )
    assert identify(jpeg, "scan.JPEG", None).problems == ()
    assert identify(write(tmp_path, "x", docx_bytes()), "a.zip", None).problems == (
        "extension-mismatch",
    )


@pytest.mark.parametrize(
    ("declared", "mismatch"),
    [
        ("image/png", True),
        ("image/jpeg", True),
        ("application/pdf", False),
        ("Application/PDF; charset=binary", False),
        ("application/x-pdf", False),
        ("application/octet-stream", False),
        (None, False),
        ("", False),
    ],
)
def test_declared_type_mismatch_for_a_pdf(
    tmp_path: Path, declared: str | None, mismatch: bool
) -> None:
    info = identify(write(tmp_path, "a.pdf", pdf_bytes()), "a.pdf", declared)
    assert ("declared-type-mismatch" in info.problems) is mismatch


@pytest.mark.parametrize(
    ("file_name", "make", "declared"),
    [
        ("a.jpg", lambda: image_bytes("JPEG"), "image/jpg"),
        ("a.wav", wav_bytes, "audio/wave"),
        ("a.mp4", mp4_bytes, "application/mp4"),
        ("a.xml", lambda: b'<?xml version="1.0"?><r/>', "text/xml"),
        ("a.csv", lambda: b"a,b\n", "application/vnd.ms-excel"),
        ("a.ofd", ofd_bytes, "application/zip"),
    ],
)
def test_another_spelling_of_the_type_is_no_mismatch(
    tmp_path: Path, file_name: str, make: Callable[[], bytes], declared: str
) -> None:
    assert identify(write(tmp_path, file_name, make()), file_name, declared).problems == ()


def test_declared_type_is_compared_for_formats_off_the_list_too(tmp_path: Path) -> None:
    gif = write(tmp_path, "a.gif", image_bytes("GIF"))
    assert identify(gif, "a.gif", "image/jpeg").problems == (
        "not-accepted",
        "declared-type-mismatch",
    )
    assert identify(gif, "a.gif", "image/gif").problems == ("not-accepted",)


# --- any input --------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    content=st.one_of(
        st.binary(min_size=0, max_size=512),
        st.sampled_from(
            [b"%PDF-1.4\n", b"PK\x03\x04", b"\xff\xd8\xff\xe0", b"{\\rtf1", b"RIFF"]
        ).flatmap(lambda head: st.binary(max_size=256).map(lambda tail: head + tail)),
    ),
    extension=st.sampled_from(["pdf", "ofd", "jpg", "png", "tif", "wav", "csv", "rtf", "", "x y"]),
    declared=st.sampled_from([None, "application/pdf", "image/png", "text/csv", "nonsense"]),
)
def test_any_input_gets_a_consistent_answer(
    content: bytes, extension: str, declared: str | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(content)
        info = identify(path, f"file.{extension}" if extension else "file", declared)
    assert set(info.problems) <= set(PROBLEMS)
    assert list(info.problems) == sorted(info.problems, key=PROBLEMS.index)
    assert not {"unidentified", "not-accepted"} <= set(info.problems)
    assert info.accepted == (info.category is not None)
    assert ("zero-length" in info.problems) == (content == b"")
    assert all(isinstance(value, str) for value in info.technical.values())


def test_unreadable_container_that_siegfried_cannot_parse(tmp_path: Path) -> None:
    whole = xls_bytes()
    cut = identify(write(tmp_path, "cut.xls", whole[:600]), "cut.xls", None)
    # The OLE2 header still matches; its directory is past the end of the file.
    assert (cut.puid, cut.problems) == ("fmt/111", ("unreadable", "not-accepted"))
    assert "siegfried:" in cut.basis
    assert identify(write(tmp_path, "a.xls", whole), "a.xls", None).problems == ()


CORRUPTIBLE = [(name, make()) for name, make, _, _ in ACCEPTED_SAMPLES]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns of the corrupt metadata it skips
@settings(max_examples=150, deadline=None)
@given(
    sample=st.integers(0, len(CORRUPTIBLE) - 1),
    cut=st.floats(min_value=0.01, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
)
def test_a_damaged_sample_gets_an_answer_not_an_exception(
    sample: int, cut: float, flips: list[tuple[float, int]]
) -> None:
    file_name, original = CORRUPTIBLE[sample]
    data = bytearray(original[: max(1, int(len(original) * cut))])
    for where, value in flips:
        data[int(where * len(data))] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(bytes(data))
        info = identify(path, file_name, None)
    if bytes(data) == original:
        assert info.problems == ()
    else:
        assert set(info.problems) <= set(PROBLEMS)


# --- compression bombs (issue 4) -------------------------------------------------------------
def test_an_ofd_that_inflates_to_a_gibibyte_is_a_bomb_found_without_inflating(
    tmp_path: Path,
) -> None:
    from tests.corpus.files import ofd_bomb

    path = write(tmp_path, "bomb.ofd", ofd_bomb())
    started = time.monotonic()
    info = identify(path, "通知.ofd", "application/ofd")
    assert info.problems == ("compression-bomb",)
    assert not info.accepted and info.puid is None
    assert "refused unexpanded" in info.basis and "Content.xml" in info.basis
    assert time.monotonic() - started < 2  # the directory only: siegfried never saw it


def test_a_docx_whose_content_types_part_is_a_bomb_never_reaches_siegfried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.corpus.files import docx_bomb

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("siegfried expands OOXML parts: it must not see a bomb")

    monkeypatch.setattr(formats.pygfried, "identify", refuse)
    info = identify(write(tmp_path, "b.docx", docx_bomb()), "通知.docx", None)
    assert info.problems == ("compression-bomb",)


def test_a_pdf_whose_content_stream_inflates_to_a_gibibyte_is_a_bomb(tmp_path: Path) -> None:
    from tests.corpus.files import pdf_bomb

    info = identify(write(tmp_path, "bomb.pdf", pdf_bomb()), "通知.pdf", "application/pdf")
    assert info.problems == ("compression-bomb",)
    assert "no more" in info.basis


def test_what_follows_endstream_is_not_taken_for_a_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "MAX_EXPANDED_BYTES", 1000)
    zeros = zlib.compress(b"0" * 200_000)  # a bomb at this limit, were it a stream's content
    body = b"1 0 obj\n<< /Filter /FlateDecode /Length 5 >>\nstream\n"
    hidden = b"%PDF-1.4\n" + body + zlib.compress(b"x") + b"endstream\n" + zeros
    assert formats.compression_bomb(write(tmp_path, "a.pdf", hidden), hidden) is None
    real = b"%PDF-1.4\n" + body + zeros + b"\nendstream\n"
    assert formats.compression_bomb(write(tmp_path, "b.pdf", real), real)


@pytest.mark.parametrize(
    ("name", "make"),
    [("通知.pdf", lambda: pdf_bytes(3)), ("page.pdf", pdf_text_page), ("通知.ofd", ofd_bytes),
     ("通知.docx", docx_bytes), ("a.zip", lambda: zip_bytes({"a.txt": "x" * 100_000}))],
)  # fmt: skip
def test_sound_compressed_files_are_not_bombs(
    tmp_path: Path, name: str, make: Callable[[], bytes]
) -> None:
    path = write(tmp_path, name, make())
    assert formats.compression_bomb(path, path.read_bytes()[:65536]) is None


def test_a_zip_may_be_large_if_it_is_not_compressed_a_hundredfold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "MAX_EXPANDED_BYTES", 1000)
    noisy = zip_bytes({"noise.txt": "".join(f"{n:x}" for n in range(3000))})  # compresses ~3:1
    path = write(tmp_path, "a.zip", noisy)
    assert formats.compression_bomb(path, noisy) is None
    zeros = zip_bytes({"zeros.txt": "0" * 200_000})
    path = write(tmp_path, "b.zip", zeros)
    assert formats.compression_bomb(path, zeros)


def test_a_jpeg_2000_scan_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "scan.jp2"
    Image.new("L", (64, 64), 100).save(path)
    found = identify(path, "scan.jp2", "image/jp2", registry=REGISTRY)
    assert (found.puid, found.name, found.accepted, found.problems) == (
        "x-fmt/392",
        "JP2 (JPEG 2000 part 1)",
        True,
        (),
    )
