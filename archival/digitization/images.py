"""Page images of a digitization batch: which item and page a file is (by its name), and what it
is (by its content: format, pages, resolution, colour mode, compression, capture details).

File names (recordflow/digitization.yaml `layout`, `middle_dot_spellings`):
- `<档号>-<页号>.<ext>`: one page; the page number has 1 to 4 digits (`3`, `0003`), from 1;
- `<档号>.<ext>`: the whole item (a multi-page PDF, TIFF or OFD, or an item of one page);
- in the per-item layout a file may also be `<页号>.<ext>` inside the folder `<档号>`;
- the 档号's `·` may be written with any accepted spelling (`.` and `_` by default);
  the extension says nothing: the content decides the format.
Headers only are read, never the pixels (Pillow's plugin classes, as archival/formats.py does), so
a large scan costs what a small one does and Pillow's decompression-bomb limit does not refuse it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import posixpath
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import defusedxml
import defusedxml.ElementTree as SafeElementTree
from PIL import (
    Image,
    ImageFile,
    Jpeg2KImagePlugin,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
)
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import IndirectObject

from archival.digitization.config import MIDDLE_DOT, LinkConfig
from archival.digitization.report import LinkProblem
from archival.formats import COLOUR, COLOUR_MODES, TIFF_COMPRESSION
from archival.media import declared_dpi

HASH_CHUNK = 1024 * 1024
PAGE = r"(?!0+\b)[0-9]{1,4}"  # 页号 from 1
RICHER = {"黑白": 0, "灰度": 1, "彩色": 2}  # a file's mode is its richest page's
EXIF_MAKE, EXIF_MODEL, EXIF_DATETIME = 271, 272, 306
EXIF_IFD, EXIF_DATETIME_ORIGINAL = 0x8769, 36867
POINTS_PER_INCH = 72
# PDF image filters → compression scheme, as TIFF_COMPRESSION names them.
PDF_FILTERS = {
    "/DCTDecode": "JPEG",
    "/JPXDecode": "JPEG 2000",
    "/CCITTFaxDecode": "CCITT Group 4",
    "/FlateDecode": "Deflate",
    "/LZWDecode": "LZW",
    "/RunLengthDecode": "PackBits",
}
PDF_COLOUR = {
    "/DeviceGray": "灰度",
    "/CalGray": "灰度",
    "/DeviceRGB": COLOUR,
    "/DeviceCMYK": COLOUR,
}
MM_PER_INCH = 25.4  # OFD measures pages and boundaries in millimetres
MAX_OFD_XML_BYTES = 16 * 1024 * 1024  # a page description is kilobytes; this is not one


@dataclass(frozen=True)
class ImageName:
    """A file of the batch that names an item: its 档号 (with `·`) and page, or None for the
    whole item."""

    path: Path
    relative: str
    reference_code: str
    page: int | None


def find_images(
    root: Path, config: LinkConfig, skip: frozenset[Path] = frozenset()
) -> tuple[dict[str, list[ImageName]], list[LinkProblem]]:
    """Every file under `root` by the 档号 its name gives, and an orphan problem for each file
    whose name or place fits no rule. `skip`: files that belong to the batch otherwise (its
    catalogue)."""
    code = config.reference_pattern()
    whole = re.compile(rf"(?P<code>{code})(?:-(?P<page>{PAGE}))?\.[A-Za-z0-9]+")
    page_only = re.compile(rf"(?P<page>{PAGE})\.[A-Za-z0-9]+")
    folder_name = re.compile(code)
    found: dict[str, list[ImageName]] = {}
    orphans: list[LinkProblem] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if path.resolve() in skip or any(
            fnmatch.fnmatch(part, pattern)
            for part in path.relative_to(root).parts
            for pattern in config.ignore
        ):
            continue
        folders = path.relative_to(root).parts[:-1]
        named = whole.fullmatch(path.name)
        item = _reference(named) if named else None
        page = int(named["page"]) if named and named["page"] else None
        why = None
        if config.layout == "flat" and folders:
            why = "平铺方式下文件应直接放在批次目录中 (flat layout: no subfolders)"
        elif config.layout == "per-item":
            folder = folder_name.fullmatch(folders[0]) if len(folders) == 1 else None
            if folder is None:
                why = (
                    "按件分目录方式下文件应放在以档号命名的目录中 (per-item layout: <档号>/<file>)"
                )
            elif item is None and (numbered := page_only.fullmatch(path.name)):
                item, page = _reference(folder), int(numbered["page"])
            elif item is not None and item != _reference(folder):
                why = f"文件名中的档号与所在目录 {folders[0]} 不一致"
        if why is None and item is None:
            why = "文件名不符合 <档号>-<页号>.<扩展名> 或 <档号>.<扩展名>"
        if why is not None:
            orphans.append(LinkProblem("image-orphan", why, file=relative))
            continue
        assert item is not None
        found.setdefault(item, []).append(ImageName(path, relative, item, page))
    return found, orphans


def _reference(match: re.Match[str]) -> str:
    """The 档号 a name's match spells, with its `·` written as DA/T 22 writes it."""
    return (
        f"{match['fonds']}-{match['category']}{MIDDLE_DOT}{match['year']}-{match['period']}"
        f"-{match['unit']}-{match['item']}"
    )


# --- content ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Inspection:
    """What one file is. `dpi` and `colour_modes` have one value per page (None: not recorded
    in the file); `unreadable` says why the content does not open as its format."""

    format: str | None
    sha256: str
    pages: int = 0
    dpi: tuple[int | None, ...] = ()
    colour_modes: tuple[str | None, ...] = ()
    compression: str | None = None
    device: str | None = None
    digitized_at: str | None = None
    unreadable: str | None = None

    @property
    def colour_mode(self) -> str | None:
        known = [mode for mode in self.colour_modes if mode is not None]
        return max(known, key=RICHER.__getitem__) if known else None

    @property
    def min_dpi(self) -> int | None:
        known = [dpi for dpi in self.dpi if dpi is not None]
        return min(known) if len(known) == len(self.dpi) and known else None


def inspect_file(path: Path) -> Inspection:
    """The format and technical properties of the file at `path`, by its content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        head = handle.read(HASH_CHUNK)
        digest.update(head)
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    sha256 = digest.hexdigest()
    kind = _sniff(head, path)
    if kind is None:
        return Inspection(None, sha256)
    reader = READERS[kind]
    try:
        return Inspection(kind, sha256, **reader(path))
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        KeyError,
        TypeError,
        struct.error,
        PyPdfError,
        zipfile.BadZipFile,
        ElementTree.ParseError,
    ) as exc:
        return Inspection(kind, sha256, unreadable=f"{kind}: {exc}")


def _sniff(head: bytes, path: Path) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if b"%PDF-" in head[:1024]:
        return "PDF"
    if head.startswith(b"PK\x03\x04") and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "OFD" if "OFD.xml" in archive.namelist() else None
    return None


def _image(factory: Callable[..., ImageFile.ImageFile]) -> Callable[[Path], dict[str, Any]]:
    def read(path: Path) -> dict[str, Any]:
        with path.open("rb") as handle, factory(handle) as image:
            frames = getattr(image, "n_frames", 1)
            dpi: list[int | None] = []
            modes: list[str | None] = []
            for frame in range(frames):
                image.seek(frame)  # headers of each page of a multi-page TIFF, no pixels
                dpi.append(declared_dpi(image))
                modes.append(COLOUR_MODES.get(image.mode, COLOUR))
            image.seek(0)
            return {
                "pages": frames,
                "dpi": tuple(dpi),
                "colour_modes": tuple(modes),
                "compression": _compression(image),
                **_capture(image),
            }

    return read


def _compression(image: ImageFile.ImageFile) -> str | None:
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        name = str(image.info.get("compression", ""))
        return TIFF_COMPRESSION.get(name, name) or None
    if isinstance(image, Jpeg2KImagePlugin.Jpeg2KImageFile):
        return "JPEG 2000"
    return "JPEG"


def _capture(image: ImageFile.ImageFile) -> dict[str, str | None]:
    """数字化设备 and 数字化时间 from the EXIF/TIFF tags a scanner writes (Make, Model, DateTime)."""
    exif: Any
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        exif = image.tag_v2
        original = None
    elif raw := image.info.get("exif"):
        exif = Image.Exif()
        exif.load(raw)
        original = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL)
    else:
        return {"device": None, "digitized_at": None}
    device = " ".join(
        str(exif.get(tag)).strip() for tag in (EXIF_MAKE, EXIF_MODEL) if exif.get(tag)
    )
    return {
        "device": device or None,
        "digitized_at": _exif_time(original or exif.get(EXIF_DATETIME)),
    }


def _exif_time(value: Any) -> str | None:
    try:
        return dt.datetime.strptime(str(value).strip(), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _pdf(path: Path) -> dict[str, Any]:
    """Pages, and each page's resolution and colour from the largest image on it (a scan is one
    image per page): its pixels across the page's width in inches. Images are never decoded."""
    reader = PdfReader(path, strict=False)
    dpi: list[int | None] = []
    modes: list[str | None] = []
    filters: set[str] = set()
    for page in reader.pages:
        width_in = float(page.mediabox.width) / POINTS_PER_INCH
        images = [
            _resolve(x)
            for x in _resolve(_resolve(page.get("/Resources", {})).get("/XObject", {})).values()
        ]
        images = [x for x in images if x.get("/Subtype") == "/Image"]
        if not images or width_in <= 0:
            dpi.append(None)
            modes.append(None)
            continue
        scan = max(images, key=lambda x: int(x.get("/Width", 0)))
        dpi.append(round(int(scan["/Width"]) / width_in))
        space = _resolve(scan.get("/ColorSpace"))
        bits = int(scan.get("/BitsPerComponent", 8))
        modes.append("黑白" if bits == 1 else PDF_COLOUR.get(str(space), COLOUR))
        kind = _resolve(scan.get("/Filter"))
        filters |= {
            PDF_FILTERS.get(str(f), str(f))
            for f in (kind if isinstance(kind, list) else [kind])
            if f
        }
    return {
        "pages": len(reader.pages),
        "dpi": tuple(dpi),
        "colour_modes": tuple(modes),
        "compression": "+".join(sorted(filters)) or None,
    }


def _resolve(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _ofd(path: Path) -> dict[str, Any]:
    """Pages of an OFD (GB/T 33190) from its first document's page list, and each page's
    resolution and colour from the largest image on it (a scan is one image per page): the
    image's pixels across its boundary's width, which OFD gives in millimetres. Only the image's
    header is read; an image of a kind not read here (JBIG2 …) leaves the page's resolution
    unknown, so the resolution check holds the item."""
    with zipfile.ZipFile(path) as archive:
        read = _OfdReader(archive)
        doc_root = read.first(read.xml("OFD.xml"), "DocRoot")
        document_path = read.path("", doc_root)
        document = read.xml(document_path)
        here = posixpath.dirname(document_path)
        media: dict[str | None, str] = {}  # MultiMedia ID → its file in the package
        for res_element in (*_ofd_all(document, "PublicRes"), *_ofd_all(document, "DocumentRes")):
            res_path = read.path(here, res_element.text)
            res = read.xml(res_path)
            res_base = read.path(posixpath.dirname(res_path), res.get("BaseLoc") or ".")
            for item in _ofd_all(res, "MultiMedia"):
                if (item.get("Type") or "Image") == "Image":
                    media[item.get("ID")] = read.path(res_base, read.first(item, "MediaFile"))
        dpi: list[int | None] = []
        modes: list[str | None] = []
        for page in _ofd_all(document, "Page"):
            content = read.xml(read.path(here, page.get("BaseLoc")))
            placed = [
                (_ofd_box(image.get("Boundary")), media[image.get("ResourceID")])
                for image in _ofd_all(content, "ImageObject")
                if image.get("ResourceID") in media
            ]
            (width_mm, height_mm), member = max(
                placed, key=lambda found: found[0][0] * found[0][1], default=((0.0, 0.0), "")
            )
            found = _ofd_image(archive, member) if width_mm > 0 and height_mm > 0 else None
            dpi.append(round(found[0] / (width_mm / MM_PER_INCH)) if found else None)
            modes.append(COLOUR_MODES.get(found[1], COLOUR) if found else None)
    return {"pages": len(dpi), "dpi": tuple(dpi), "colour_modes": tuple(modes)}


class _OfdReader:
    """The parts of an OFD package, as XML read safely (no entities: defusedxml) and no larger
    than MAX_OFD_XML_BYTES, and its paths: absolute from the package root, or relative to the
    part that names them."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def xml(self, name: str) -> Any:
        if self.archive.getinfo(name).file_size > MAX_OFD_XML_BYTES:
            raise ValueError(f"{name} is larger than {MAX_OFD_XML_BYTES} bytes")
        try:
            return SafeElementTree.fromstring(self.archive.read(name))
        except (ElementTree.ParseError, defusedxml.DefusedXmlException) as exc:
            raise ValueError(f"{name}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def first(element: Any, name: str) -> str:
        found = next(_ofd_all(element, name), None)
        if found is None or not (found.text or "").strip():
            raise ValueError(f"no {name} in an OFD part")
        return str(found.text).strip()

    @staticmethod
    def path(base: str, location: str | None) -> str:
        location = (location or "").strip()
        joined = (
            location.lstrip("/") if location.startswith("/") else posixpath.join(base, location)
        )
        normal = posixpath.normpath(joined)
        if normal.startswith("../") or normal == "..":
            raise ValueError(f"{location!r} leads outside the OFD package")
        return "" if normal == "." else normal


def _ofd_all(element: Any, name: str) -> Iterator[Any]:
    """Descendants named `name` in whatever namespace (OFD files use ofd: or none)."""
    return (found for found in element.iter() if str(found.tag).rsplit("}", 1)[-1] == name)


def _ofd_box(boundary: str | None) -> tuple[float, float]:
    """Width and height (mm) of an OFD box `x y w h`; (0, 0) when it is not one."""
    parts = (boundary or "").split()
    try:
        return (float(parts[2]), float(parts[3])) if len(parts) == 4 else (0.0, 0.0)
    except ValueError:
        return (0.0, 0.0)


def _ofd_image(archive: zipfile.ZipFile, member: str) -> tuple[int, str] | None:
    """An embedded image's width in pixels and its mode, from its header; None for a kind of image
    not read here."""
    with archive.open(member) as handle:
        head = handle.read(16)
    factory = next(
        (plugin for magic, plugin in OFD_IMAGE_PLUGINS.items() if head.startswith(magic)), None
    )
    if factory is None:
        return None
    with archive.open(member) as handle, factory(handle) as image:
        return image.size[0], image.mode


# The images a scanned OFD page holds, read by their own plugins (headers only, no bomb limit).
OFD_IMAGE_PLUGINS: dict[bytes, Callable[..., ImageFile.ImageFile]] = {
    b"\xff\xd8\xff": JpegImagePlugin.JpegImageFile,
    b"II*\x00": TiffImagePlugin.TiffImageFile,
    b"MM\x00*": TiffImagePlugin.TiffImageFile,
    b"\x00\x00\x00\x0cjP  \r\n\x87\n": Jpeg2KImagePlugin.Jpeg2KImageFile,
    b"\xff\x4f\xff\x51": Jpeg2KImagePlugin.Jpeg2KImageFile,
    b"\x89PNG\r\n\x1a\n": PngImagePlugin.PngImageFile,
}
READERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "JPEG": _image(JpegImagePlugin.JpegImageFile),
    "TIFF": _image(TiffImagePlugin.TiffImageFile),
    "JPEG2000": _image(Jpeg2KImagePlugin.Jpeg2KImageFile),
    "PDF": _pdf,
    "OFD": _ofd,
}
