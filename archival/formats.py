"""Format identification and technical metadata of one local file: pure functions, no Kafka, no S3.

The content decides the format, as a PRONOM id from siegfried (pygfried); the list of formats
accepted for long-term preservation is data (`recordflow/formats.yaml`). The file's name and the
media type its sender declared are only compared with what the content turned out to be. Technical
metadata comes from reading headers and structure, never from decoding or loading a whole file:
pypdf for PDF page counts and encryption, Pillow's plugins for image headers, the RIFF chunks of a
WAV file, the root element of an OFD container.

What `identify` finds wrong is reported as stable problem codes (see PROBLEMS), which the
four-property check turns into DA/T 70 usability results.
"""

from __future__ import annotations

import codecs
import io
import mmap
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path, PurePath
from typing import IO, Any, Literal, cast
from xml.etree import ElementTree

import pygfried
import yaml
from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin, TiffImagePlugin
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from recordflow.settings import PACKAGE_DIR

DEFAULT_FORMATS_FILE = PACKAGE_DIR / "formats.yaml"

# Problem codes, in the order they are reported:
#   zero-length             the file is empty (nothing else is said of it)
#   compression-bomb        the file expands far beyond its size when decompressed (a ZIP/OFD
#                           container, PDF streams): nothing else is said of it, because saying
#                           more means expanding it; the register stage refuses the file
#   unidentified            no PRONOM signature or rule here matches the content; implies not
#                           accepted, so never reported together with not-accepted
#   unreadable              the content claims a format (by its bytes, name or declared type) but
#                           does not open as it: truncated, corrupt, a broken container
#   not-accepted            identified, but not on the long-term preservation list
#   encrypted               encrypted or DRM-protected, even if it opens without a password
#   extension-mismatch      the file name's extension is not one the identified format has
#   declared-type-mismatch  the declared media type is not one the identified format has
PROBLEMS = (
    "zero-length",
    "compression-bomb",
    "unidentified",
    "unreadable",
    "not-accepted",
    "encrypted",
    "extension-mismatch",
    "declared-type-mismatch",
)

Category = Literal["fixed-layout", "text", "image", "audio", "video", "data"]
PUID = r"^(x-)?fmt/[0-9]+$"
ZIP_PUID = "x-fmt/263"
OFD_FORMAT_ID = "ofd"
OFD_ROOT = "{http://www.ofdspec.org/2016}OFD"  # the ofd:OFD element of GB/T 33190
ZIP_MAGIC = b"PK\x03\x04"
EXTENSION_ONLY = "match on extension only"  # siegfried's warning when no content signature matched

SNIFF_BYTES = 64 * 1024  # how much of the start of a file is read to tell text from binary
# A compression bomb: a file whose compressed parts expand to more than MAX_EXPANDED_BYTES, at
# more than MAX_EXPANSION_RATIO times the compressed bytes they come from. Sound documents stay far
# below the ratio (text and vector pages: 3-20; a scanned page in Flate: rarely 50), and below the
# size unless they are huge images, which compress far less than 100:1.
MAX_EXPANDED_BYTES = 256 * 1024 * 1024
MAX_EXPANSION_RATIO = 100
INFLATE_CHUNK = 1024 * 1024
# Without a lookbehind for `endstream`: one makes `re` test every byte (13 ms a megabyte, against
# 0.3 ms for a pattern that starts with a literal); `_pdf_bomb` skips `endstream` itself.
PDF_STREAM = re.compile(rb"stream\r?\n")
PDF_DICTIONARY_LOOKBACK = 2048  # how far before `stream` its dictionary (and /Filter) is sought
PDF_FLATE = re.compile(rb"/(FlateDecode|Fl)(?![A-Za-z])")
MAX_PDF_READ_BYTES = 64 * 1024 * 1024  # what pypdf may read of one PDF (a sound one needs far less)
PDF_BUFFER_BYTES = 8 * 1024
MAX_TEXT_LENGTH = 200  # technical strings taken from the file (producer, software) are cut here
ZIP_ENCRYPTED = 0x1  # general-purpose flag bit 0 of a ZIP entry
MAX_WAV_CHUNKS = 64  # RIFF chunks walked looking for `fmt ` and `data`
WAV_FMT_BYTES = 16  # format tag, channels, sample rate, byte rate, block align, bits per sample
SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{1,16}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# Pillow's TIFF compression names → the scheme's own name, as the usability check lists them.
TIFF_COMPRESSION = {
    "raw": "none",
    "tiff_lzw": "LZW",
    "tiff_deflate": "Deflate",
    "tiff_adobe_deflate": "Deflate",
    "packbits": "PackBits",
    "tiff_ccitt": "CCITT RLE",
    "group3": "CCITT Group 3",
    "group4": "CCITT Group 4",
    "jpeg": "JPEG",
    "tiff_jpeg": "JPEG",
    "tiff_raw_16": "none",
}
# Pillow modes → the words of DA/T 46 扫描色彩模式 (digitized paper, archival/digitization/), which
# photos' 色彩模式 (archival/media.py) uses too: one table, so both say the same. A palette image (P)
# is taken as colour: scanners write a palette for colour documents, and a grey one is written as L.
COLOUR_MODES = {"1": "黑白", "L": "灰度", "LA": "灰度", "I": "灰度", "I;16": "灰度", "F": "灰度"}
COLOUR = "彩色"
SOFTWARE_TAG = 305  # TIFF and Exif
TIFF_BITS_PER_SAMPLE = 258


# --- the list of accepted formats -------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AcceptedFormat(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    category: Category
    puids: tuple[str, ...]
    # PUIDs of the underlying content that, in a file with one of `extensions`, mean this format.
    content_puids: tuple[str, ...] = ()
    # Start of the content that means this format when siegfried matches no signature at all.
    fallback_prefix: str | None = None
    extensions: tuple[str, ...] = Field(min_length=1)
    media_types: tuple[str, ...] = Field(min_length=1)

    @field_validator("puids", "content_puids")
    @classmethod
    def _puids(cls, puids: tuple[str, ...]) -> tuple[str, ...]:
        if bad := [puid for puid in puids if not re.fullmatch(PUID, puid)]:
            raise ValueError(f"not PRONOM ids: {bad}")
        return puids

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, extensions: tuple[str, ...]) -> tuple[str, ...]:
        if bad := [e for e in extensions if not re.fullmatch(r"[a-z0-9]{1,16}", e)]:
            raise ValueError(f"extensions are lowercase without a dot, not {bad}")
        return extensions

    @field_validator("media_types")
    @classmethod
    def _media_types(cls, media_types: tuple[str, ...]) -> tuple[str, ...]:
        if bad := [m for m in media_types if _bare_media_type(m) != m]:
            raise ValueError(f"media types are lowercase type/subtype, not {bad}")
        return media_types

    @property
    def media_type(self) -> str:
        return self.media_types[0]


class FormatRegistry(_Frozen):
    version: str
    generic_media_types: tuple[str, ...]
    media_type_aliases: dict[str, str]
    encrypted_puids: tuple[str, ...]
    formats: tuple[AcceptedFormat, ...]

    @model_validator(mode="after")
    def _unambiguous(self) -> FormatRegistry:
        ids = [entry.id for entry in self.formats]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate format ids in {ids}")
        listed = [puid for entry in self.formats for puid in (*entry.puids, *entry.content_puids)]
        if duplicates := sorted({puid for puid in listed if listed.count(puid) > 1}):
            raise ValueError(f"PUIDs listed for more than one format: {duplicates}")
        return self

    @cached_property
    def _by_puid(self) -> dict[str, AcceptedFormat]:
        return {puid: entry for entry in self.formats for puid in entry.puids}

    def get(self, format_id: str) -> AcceptedFormat | None:
        return next((entry for entry in self.formats if entry.id == format_id), None)

    def by_puid(self, puid: str | None) -> AcceptedFormat | None:
        return self._by_puid.get(puid) if puid else None

    def by_content(self, puid: str | None, extension: str) -> AcceptedFormat | None:
        """The format that content identified as `puid` is, in a file named *.`extension`."""
        return next(
            (
                entry
                for entry in self.formats
                if puid in entry.content_puids and extension in entry.extensions
            ),
            None,
        )

    def by_prefix(self, head: bytes) -> AcceptedFormat | None:
        """The format whose fallback prefix the content starts with."""
        return next(
            (
                entry
                for entry in self.formats
                if entry.fallback_prefix and head.startswith(entry.fallback_prefix.encode())
            ),
            None,
        )

    def claimed(self, extension: str, declared: str | None) -> list[AcceptedFormat]:
        """The formats a file's name or declared media type say it is."""
        return [
            entry
            for entry in self.formats
            if extension in entry.extensions or (declared and declared in entry.media_types)
        ]

    def media_type(self, value: str | None) -> str | None:
        """`type/subtype`, lowercase, aliases resolved; None for a missing or generic type."""
        bare = _bare_media_type(value)
        if bare is None or bare in self.generic_media_types:
            return None
        return self.media_type_aliases.get(bare, bare)


def load_formats(path: Path = DEFAULT_FORMATS_FILE) -> FormatRegistry:
    with path.open(encoding="utf-8") as handle:
        return FormatRegistry.model_validate(yaml.safe_load(handle))


@cache
def _default_registry() -> FormatRegistry:
    return load_formats()


def load_signatures() -> None:
    """Have siegfried read its signature set now: it does so on its first identification, which
    takes ~0.1 s longer than the rest, and events queue behind it."""
    pygfried.identify(str(DEFAULT_FORMATS_FILE))


def _bare_media_type(value: str | None) -> str | None:
    if not value:
        return None
    bare = value.split(";", 1)[0].strip().lower()
    return bare if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", bare) else None


# --- what was found ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FormatInfo:
    """What one file is, and what is wrong with it for long-term preservation.

    `mime_type` is the listed media type of an accepted format (so every MP4 is video/mp4), else
    siegfried's. `technical` holds only the properties that apply: page_count, encrypted ("true"/
    "false"), producer, creator (PDF); width_px, height_px, x_resolution_dpi, y_resolution_dpi,
    colour_mode, software (images), with compression, bits_per_sample and page_count for TIFF;
    encrypted (OFD); channels, sample_rate_hz, bits_per_sample, duration_s (WAV).
    """

    puid: str | None
    name: str | None
    version: str | None
    mime_type: str | None
    basis: str
    category: str | None
    accepted: bool
    technical: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Match:
    """Siegfried's PRONOM match, or what stands in for one."""

    puid: str | None
    name: str | None = None
    version: str | None = None
    media_type: str | None = None
    basis: str = ""
    warning: str = ""
    error: str = ""  # what siegfried could not parse (a broken container), though it read the file


class _Unreadable(Exception):
    """The content does not open as the format it claims to be."""


@dataclass(frozen=True)
class _OfdContainer:
    version: str | None
    encrypted: bool
    readable: bool


def identify(
    path: Path,
    file_name: str,
    declared_mime: str | None,
    *,
    registry: FormatRegistry | None = None,
) -> FormatInfo:
    """Identify the file at `path`, sent as `file_name` with the declared media type.

    `path` may be named anything (a staging download); `file_name` supplies the extension that
    is compared with the content. Raises OSError only when the file itself cannot be read.
    """
    registry = registry or _default_registry()
    if path.stat().st_size == 0:
        return _refused("zero-length file", "zero-length")
    extension = _extension(file_name)
    declared = registry.media_type(declared_mime)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if bomb := compression_bomb(path, head):
        # Siegfried would expand it (it reads OOXML and ODF parts whole), and so would any reader.
        return _refused(bomb, "compression-bomb")
    problems: set[str] = set()
    technical: dict[str, str] = {}
    match, entry = _match_content(path, head, extension, registry, problems, technical)

    identified = match.puid is not None or entry is not None
    if not identified:
        problems.add("unidentified")
    elif entry is None:
        problems.add("not-accepted")
    # What the content is decides how it is read; content that is nothing known is read as what
    # its name or declared type claim, to tell "unreadable" from merely "unidentified".
    candidates = [entry] if entry else [] if identified else registry.claimed(extension, declared)
    _read_properties(path, candidates, problems, technical)
    if match.puid in registry.encrypted_puids or technical.get("encrypted") == "true":
        problems.add("encrypted")
    if identified:
        problems |= _mismatches(match, entry, extension, declared, registry)
    return _format_info(match, entry, registry, technical, problems)


def _refused(basis: str, problem: str) -> FormatInfo:
    """A file turned away before its content is identified."""
    return FormatInfo(None, None, None, None, basis, None, False, {}, (problem,))


def _match_content(
    path: Path,
    head: bytes,
    extension: str,
    registry: FormatRegistry,
    problems: set[str],
    technical: dict[str, str],
) -> tuple[_Match, AcceptedFormat | None]:
    """What the content is, and the accepted format it is (None when none): siegfried's match,
    taken as named by the extension where the registry says so, else an OFD container, else a
    listed format's leading bytes. Adds what it finds wrong to `problems`."""
    match = _siegfried(path, extension)
    if match.error:
        problems.add("unreadable")
    if match.puid and EXTENSION_ONLY in match.warning and not _looks_like_text(head):
        # A name is not evidence: formats with no content signature in PRONOM (CSV) match on the
        # extension alone, so such a match stands only for content that at least reads as text.
        match = _Match(None, basis=f"{match.basis}, but the content is not text")
    entry = registry.by_puid(match.puid)
    if entry is None and (named := registry.by_content(match.puid, extension)):
        entry = named
        # The PUID stays what PRONOM says of the bytes; its version is that of the other format.
        match = replace(
            match, name=named.name, version=None, basis=f"{match.basis}; named .{extension}"
        )
    ofd = registry.get(OFD_FORMAT_ID)
    zip_content = match.puid in (ZIP_PUID, None) and head.startswith(ZIP_MAGIC)
    if ofd and zip_content and (container := _ofd_container(path)):
        entry, match = ofd, _Match(None, ofd.name, container.version, basis="ofd container")
        technical["encrypted"] = "true" if container.encrypted else "false"
        if not container.readable:
            problems.add("unreadable")
    if match.puid is None and entry is None and (headed := registry.by_prefix(head)):
        entry = headed
        match = _Match(None, headed.name, basis=f"{match.basis}; starts {headed.fallback_prefix}")
    return match, entry


def _read_properties(
    path: Path, candidates: list[AcceptedFormat], problems: set[str], technical: dict[str, str]
) -> None:
    """Add to `technical` what the first candidate with a reader finds in the file."""
    if reader := next((READERS[c.id] for c in candidates if c.id in READERS), None):
        try:
            technical.update(reader(path))
        except _Unreadable:
            problems.add("unreadable")


def _format_info(
    match: _Match,
    entry: AcceptedFormat | None,
    registry: FormatRegistry,
    technical: dict[str, str],
    problems: set[str],
) -> FormatInfo:
    return FormatInfo(
        puid=match.puid,
        name=match.name,
        version=match.version,
        mime_type=entry.media_type if entry else registry.media_type(match.media_type),
        basis=match.basis,
        category=entry.category if entry else None,
        accepted=entry is not None,
        technical=technical,
        problems=tuple(code for code in PROBLEMS if code in problems),
    )


def _mismatches(
    match: _Match,
    entry: AcceptedFormat | None,
    extension: str,
    declared: str | None,
    registry: FormatRegistry,
) -> set[str]:
    """Where the file's name or declared media type contradicts its identified content."""
    found = set()
    if entry is not None:
        if extension not in entry.extensions:
            found.add("extension-mismatch")
    elif "extension mismatch" in match.warning:
        found.add("extension-mismatch")  # a format off the list: siegfried knows its extensions
    agreeing = {registry.media_type(m) for m in (entry.media_types if entry else ())}
    agreeing.add(registry.media_type(match.media_type))
    agreeing.discard(None)
    if declared and agreeing and declared not in agreeing:
        found.add("declared-type-mismatch")
    return found


def spool_suffix(file_name: str) -> str:
    """The suffix for a local copy of a file sent as `file_name`: siegfried then sees the copy
    under the sent extension as it is, without a symlink in a temporary folder."""
    extension = _extension(file_name)
    return f".{extension}" if extension else ""


def _extension(file_name: str) -> str:
    suffix = PurePath(file_name.replace("\\", "/")).suffix
    return suffix[1:].lower() if SAFE_SUFFIX.fullmatch(suffix) else ""


def _siegfried(path: Path, extension: str) -> _Match:
    """Siegfried's PRONOM match for the content at `path`, seen under the name's extension.

    Siegfried weighs the extension as well as the bytes (and CSV has nothing but the extension), so
    it looks at the file through a symlink named like the sent file when `path` is named otherwise.
    """
    suffix = f".{extension}" if extension else ""
    if path.suffix.lower() == suffix:
        result = pygfried.identify(str(path), detailed=True)
    else:
        with tempfile.TemporaryDirectory(prefix="recordflow-formats-") as folder:
            link = Path(folder) / f"content{suffix}"
            link.symlink_to(path.resolve())
            result = pygfried.identify(str(link), detailed=True)
    found = result["files"][0]
    error = found.get("errors") or ""
    matches = found.get("matches") or []
    if error and not matches:
        raise OSError(f"siegfried could not read {path}: {error}")
    pronom = next((m for m in matches if m.get("ns") == "pronom"), None)
    if pronom is None or pronom.get("id") in ("", "UNKNOWN"):
        return _Match(None, basis=_join("no PRONOM signature matched", error), error=error)
    return _Match(
        puid=pronom["id"],
        name=pronom.get("format") or None,
        version=pronom.get("version") or None,
        media_type=pronom.get("mime") or None,
        basis=_join(pronom.get("basis", ""), error),
        warning=pronom.get("warning", ""),
        error=error,
    )


def _join(basis: str, error: str) -> str:
    return f"{basis}; siegfried: {error}" if error else basis


def _looks_like_text(head: bytes) -> bool:
    """Whether the start of a file is text: UTF-8 (or UTF-16 with a BOM) or GB18030, no controls."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in head:
        return False
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            # final=False: a sample cut through a multi-byte character is still text.
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return bool(text) and not CONTROL_CHARACTERS.search(text)
    return False


# --- compression bombs ------------------------------------------------------------------------
def compression_bomb(path: Path, head: bytes) -> str | None:
    """Why the file at `path` is a compression bomb, or None.

    A ZIP container (OFD, OOXML, ODF, plain ZIP) is judged by its central directory alone, without
    inflating anything: readers stop at an entry's recorded size, so the recorded sizes are what it
    can expand to. A PDF's Flate streams are inflated in bounded chunks and thrown away, stopping as
    soon as the verdict is known, so at most about MAX_EXPANDED_BYTES are ever produced.
    """
    if head.startswith(ZIP_MAGIC):
        return _zip_bomb(path)
    if b"%PDF-" in head[:1024]:
        return _pdf_bomb(path)
    return None


def _bomb(expanded: int, compressed: int) -> bool:
    return expanded > MAX_EXPANDED_BYTES and expanded > MAX_EXPANSION_RATIO * max(compressed, 1)


def _zip_bomb(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, EOFError):
        return None  # not a container it can open: nothing would expand it either
    expanded = sum(entry.file_size for entry in entries)
    compressed = sum(entry.compress_size for entry in entries)
    if not _bomb(expanded, compressed):
        return None
    largest = max(entries, key=lambda entry: entry.file_size)
    return (
        f"ZIP container: {len(entries)} entries expand to {expanded} bytes from {compressed} "
        f"({expanded // max(compressed, 1)}:1; {largest.filename[:80]!r} alone to "
        f"{largest.file_size}); refused unexpanded, the limit is {MAX_EXPANDED_BYTES} bytes "
        f"at {MAX_EXPANSION_RATIO}:1"
    )


def _pdf_bomb(path: Path) -> str | None:
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as content:
            expanded = compressed = 0
            for match in PDF_STREAM.finditer(content):
                start = match.start()
                if content[max(0, start - 3) : start] == b"end":
                    continue
                dictionary = content[max(0, start - PDF_DICTIONARY_LOOKBACK) : start]
                dictionary = dictionary[dictionary.rfind(b"obj") + 1 :]
                if not PDF_FLATE.search(dictionary):
                    continue
                out, used = _inflate_bounded(content, match.end(), MAX_EXPANDED_BYTES - expanded)
                expanded, compressed = expanded + out, compressed + used
                if _bomb(expanded, compressed):
                    return (
                        f"PDF: Flate streams expand to more than {expanded} bytes from {compressed} "
                        f"({expanded // max(compressed, 1)}:1); refused after inflating that much "
                        f"and no more, the limit is {MAX_EXPANDED_BYTES} bytes at "
                        f"{MAX_EXPANSION_RATIO}:1"
                    )
                if expanded > MAX_EXPANDED_BYTES:
                    return None  # large, but it came from large streams: not a bomb
    return None


def _inflate_bounded(content: mmap.mmap, start: int, budget: int) -> tuple[int, int]:
    """Inflate the zlib stream at `start` until it ends, breaks, or yields more than `budget`
    bytes (each chunk thrown away); return the bytes it yielded and the compressed bytes used."""
    inflater = zlib.decompressobj()
    view = memoryview(content)[start:]
    produced = 0
    pending: bytes | memoryview = view[:INFLATE_CHUNK]
    offset = len(pending)
    try:
        while pending and produced <= budget:
            produced += len(inflater.decompress(pending, INFLATE_CHUNK))
            if inflater.eof:
                break
            tail = inflater.unconsumed_tail
            if not tail:
                pending = view[offset : offset + INFLATE_CHUNK]
                offset += len(pending)
            else:
                pending = tail
    except zlib.error:
        pass  # a broken stream: whatever it yielded so far counts
    finally:
        view.release()
    used = offset - len(inflater.unconsumed_tail) - len(inflater.unused_data)
    return produced, max(used, 0)


# --- technical metadata -----------------------------------------------------------------------
def _ofd_container(path: Path) -> _OfdContainer | None:
    """What an OFD container says of itself; None when `path` is not one.

    GB/T 33190: a ZIP whose root holds OFD.xml, the entry file, with an ofd:OFD root element. An
    OFD.xml that cannot be parsed still makes the file a (broken) OFD container.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError):
        return None
    with archive:
        try:
            entry = archive.getinfo("OFD.xml")
        except KeyError:
            return None
        encrypted = any(info.flag_bits & ZIP_ENCRYPTED for info in archive.infolist())
        if entry.flag_bits & ZIP_ENCRYPTED:
            return _OfdContainer(None, encrypted=True, readable=False)
        try:
            with archive.open(entry) as member:
                # Only the first start tag is parsed, so a large or hostile OFD.xml costs nothing.
                _, root = next(ElementTree.iterparse(member, events=("start",)))
        except (ElementTree.ParseError, StopIteration, zipfile.BadZipFile, zlib.error,
                NotImplementedError, EOFError, OSError):  # fmt: skip
            return _OfdContainer(None, encrypted, readable=False)
    if root.tag != OFD_ROOT:
        return None
    return _OfdContainer(_clean(root.get("Version", "")) or None, encrypted, readable=True)


def _pdf(path: Path) -> dict[str, str]:
    # pypdf reads a path into memory whole; given an open file it seeks to what it needs, and the
    # budget stops it from reading all of a large damaged file to rebuild its cross-references.
    with path.open("rb") as handle:
        budgeted = _ReadBudget(handle, MAX_PDF_READ_BYTES)
        try:
            # Buffered: pypdf reads a byte or a line at a time, which unbuffered costs a Python
            # call each; the budget then counts the buffer's reads from the file.
            technical = _pdf_properties(io.BufferedReader(budgeted, PDF_BUFFER_BYTES))
        except _Unreadable:
            budgeted.check()
            raise
        budgeted.check()  # pypdf may have caught the refusal and carried on with what it had
    return technical


def _pdf_properties(handle: IO[bytes]) -> dict[str, str]:
    try:
        try:
            reader = PdfReader(cast(IO[bytes], handle), strict=False)
        except NotImplementedError as exc:
            if "encryption" not in str(exc):
                raise _Unreadable(f"PDF: {exc}") from exc
            # A security handler other than the standard password one: DRM, certificates.
            return {"encrypted": "true"}
        technical = {"encrypted": "true" if reader.is_encrypted else "false"}
        if reader.is_encrypted and not _opens_without_password(reader):
            return technical
        technical["page_count"] = str(len(reader.pages))
        info: Mapping[str, Any] = reader.metadata or {}
        for key, name in (("/Producer", "producer"), ("/Creator", "creator")):
            if value := _clean(str(info.get(key) or "")):
                technical[name] = value
    except (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            RecursionError, OSError) as exc:  # fmt: skip
        raise _Unreadable(f"PDF: {exc}") from exc
    return technical


class _ReadBudget(io.RawIOBase):
    """A read-only view of a binary file that hands out at most `budget` bytes in all."""

    def __init__(self, handle: IO[bytes], budget: int) -> None:
        super().__init__()
        self._handle = handle
        self._size = os.fstat(handle.fileno()).st_size
        self.budget = budget
        self.spent = 0
        self.exhausted = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        left = max(0, self._size - self._handle.tell())
        size = left if size is None or size < 0 else min(size, left)
        if self.spent + size > self.budget:
            self.exhausted = True
            raise _Unreadable(f"more than {self.budget} bytes read")
        data = self._handle.read(size)
        self.spent += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def check(self) -> None:
        if self.exhausted:
            raise _Unreadable(f"PDF: its structure is not found within {self.budget} bytes read")


def _opens_without_password(reader: PdfReader) -> bool:
    """An owner password alone (an empty user password) still lets anyone open the file."""
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except DependencyError:  # AES without a cryptography library: it cannot be told here
        return False


def _image(factory: Callable[..., ImageFile.ImageFile]) -> Callable[[Path], dict[str, str]]:
    """A reader of one image format's header, through that format's Pillow plugin.

    The plugin's constructor parses the header only: pixels are never decoded, so an image of any
    size costs the same, and Image.open's decompression-bomb limit (Image.MAX_IMAGE_PIXELS), which
    guards decoding, does not turn a large legitimate scan into an unreadable file.
    """

    def read(path: Path) -> dict[str, str]:
        with path.open("rb") as handle:
            try:
                with factory(handle) as image:
                    return _image_properties(image)
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError,
                    struct.error) as exc:  # fmt: skip
                raise _Unreadable(f"{factory.__name__}: {exc}") from exc

    return read


def _image_properties(image: ImageFile.ImageFile) -> dict[str, str]:
    width, height = image.size
    technical = {"width_px": str(width), "height_px": str(height), "colour_mode": image.mode}
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2 and all(dpi):
        technical["x_resolution_dpi"] = _number(dpi[0])
        technical["y_resolution_dpi"] = _number(dpi[1])
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        compression = str(image.info.get("compression", ""))
        technical["compression"] = TIFF_COMPRESSION.get(compression, compression)
        bits = image.tag_v2.get(TIFF_BITS_PER_SAMPLE)
        if bits is not None:
            technical["bits_per_sample"] = ",".join(str(b) for b in _as_tuple(bits))
        technical["page_count"] = str(image.n_frames)
    if value := _clean(str(_software(image) or "")):
        technical["software"] = value
    return technical


def _software(image: ImageFile.ImageFile) -> Any:
    """The creating software named in the header (never Image.getexif, which PNG answers by
    decoding the whole image to look for an eXIf chunk after the pixels)."""
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        return image.tag_v2.get(SOFTWARE_TAG)
    if exif_bytes := image.info.get("exif"):
        exif = Image.Exif()
        exif.load(exif_bytes)
        return exif.get(SOFTWARE_TAG)
    return image.info.get("Software")  # a PNG text chunk before the pixels


def _wav(path: Path) -> dict[str, str]:
    """Channels, sample rate, sample size and duration from a WAV file's RIFF chunk headers."""
    with path.open("rb") as handle:
        riff = _read(handle, 12)
        if riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
            raise _Unreadable("WAV: not a RIFF WAVE file")
        fmt: tuple[int, ...] | None = None
        for _ in range(MAX_WAV_CHUNKS):
            chunk_id, size = struct.unpack("<4sI", _read(handle, 8))
            if chunk_id == b"fmt ":
                if size < WAV_FMT_BYTES:
                    raise _Unreadable(f"WAV: fmt chunk of {size} bytes")
                fmt = struct.unpack("<HHIIHH", _read(handle, WAV_FMT_BYTES))
                handle.seek(size - WAV_FMT_BYTES + size % 2, 1)
            elif chunk_id == b"data":
                if fmt is None:
                    raise _Unreadable("WAV: data before fmt chunk")
                _, channels, rate, byte_rate, _, bits = fmt
                technical = {
                    "channels": str(channels),
                    "sample_rate_hz": str(rate),
                    "bits_per_sample": str(bits),
                }
                if byte_rate:
                    technical["duration_s"] = _number(size / byte_rate)
                return technical
            else:
                handle.seek(size + size % 2, 1)
        raise _Unreadable("WAV: no data chunk")


def _read(handle: IO[bytes], count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise _Unreadable(f"ends after {len(data)} of {count} bytes")
    return data


READERS: dict[str, Callable[[Path], dict[str, str]]] = {
    "pdf": _pdf,
    "pdf-a": _pdf,
    "jpeg": _image(JpegImagePlugin.JpegImageFile),
    "png": _image(PngImagePlugin.PngImageFile),
    "tiff": _image(TiffImagePlugin.TiffImageFile),
    "wav": _wav,
}


def _clean(value: str) -> str:
    return CONTROL_CHARACTERS.sub("", value).strip()[:MAX_TEXT_LENGTH]


def _number(value: float) -> str:
    return format(round(float(value), 2), "g")


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)
