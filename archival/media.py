"""Technical metadata of photos (照片档案, DA/T 54-2014) and audio-video records (录音录像档案,
DA/T 63-2017), read from a file's own bytes at receipt: pure, no Kafka, S3, HTTP or faust.

The archive records what the file says, not what the agency typed: Pillow reads an image and its
EXIF, PyAV (FFmpeg's libraries) an audio or video container. Each file is read through once, so a
damaged one is found at receipt rather than by whoever opens it years later: an image's pixels are
decoded (a JPEG at 1/8 scale, which still reads every byte of it), every packet of a recording is
demuxed and counted against the container's index. Whatever does not read is one MediaUnreadable,
naming the file and what failed; a value the file does not record is None, and so is one it
records as junk (an EXIF time of 0000:00:00 00:00:00).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from PIL import ExifTags, Image, ImageFile, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from archival.formats import COLOUR, COLOUR_MODES
from avro_schemas.records import MediaFile

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.stream import Stream

MediaKind = Literal["image", "audio", "video"]
MEDIA_KINDS: tuple[MediaKind, ...] = get_args(MediaKind)

# The image formats read: those of category image in recordflow/formats.yaml. Opened through their
# own plugins, as archival/formats.py does, so that Image.open's decompression-bomb refusal does not
# turn a large legitimate scan into an unreadable file; decoding is bounded below instead.
IMAGE_PLUGINS: tuple[Callable[..., ImageFile.ImageFile], ...] = (
    JpegImagePlugin.JpegImageFile,
    TiffImagePlugin.TiffImageFile,
    PngImagePlugin.PngImageFile,
)
JFIF_DENSITY_UNITS = (1, 2)  # dots per inch, per cm; 0 gives only the pixels' aspect ratio
EXIF_INCHES = 2  # ResolutionUnit's default
EXIF_UNIT_INCHES = {EXIF_INCHES: 1.0, 3: 2.54}  # ResolutionUnit → dots per unit to dots per inch
JPEG_DRAFT_SCALE = 8  # libjpeg decodes at 1/8 scale: 1/64 of the pixels, every byte still read
# FFmpeg opens only these demuxers and only local files: a "video" that is really an HLS playlist
# or a concat script would otherwise make FFmpeg read other files or fetch URLs. MP4/MOV, MP3, WAV,
# MPEG program and elementary streams: the audio and video formats of recordflow/formats.yaml.
DEMUXERS = "mov,mp3,wav,mpeg,mpegvideo"
CONTAINER_OPTIONS = {"format_whitelist": DEMUXERS, "protocol_whitelist": "file"}
MICROSECONDS_PER_MS = 1000  # FFmpeg's AV_TIME_BASE is microseconds
FRAME_RATE_DIGITS = 3  # 30000/1001 → 29.97
EXIF_TIME = "%Y:%m:%d %H:%M:%S"
# Tags naming the camera or recorder in a container, as (make, model): QuickTime's mdta keys
# (iPhone, many cameras), Android's, and the ©mak/©mod atoms FFmpeg calls make and model.
DEVICE_TAGS = (
    ("com.apple.quicktime.make", "com.apple.quicktime.model"),
    ("com.android.manufacturer", "com.android.model"),
    ("make", "model"),
)
CREATION_TIME_TAG = "creation_time"


class MediaUnreadable(ValueError):
    """The file does not read as the kind of media it was given as: empty, truncated, corrupt,
    or another kind. The caller turns it into its reason code."""


def read_media(path: Path, kind: MediaKind, sequence: int) -> MediaFile:
    """The technical metadata of the file at `path`, read as `kind`, for component `sequence`.

    Raises MediaUnreadable when the content does not read as that kind, and OSError only when the
    file itself cannot be read (it is missing, a disk failed): that is the worker's trouble, not
    the file's.
    """
    if path.stat().st_size == 0:
        raise MediaUnreadable(f"{path.name}: the file is empty (0 bytes)")
    technical: MediaFile = {
        "sequence": sequence,
        "kind": kind,
        "width": None,
        "height": None,
        "resolution_dpi": None,
        "colour_mode": None,
        "duration_ms": None,
        "video_codec": None,
        "audio_codec": None,
        "frame_rate": None,
        "sample_rate_hz": None,
        "channels": None,
        "bit_rate": None,
        "device": None,
        "captured_at": None,
    }
    if kind == "image":
        _read_image(path, technical)
    else:
        _read_recording(path, kind, technical)
    return technical


# --- photos -----------------------------------------------------------------------------------
def _read_image(path: Path, technical: MediaFile) -> None:
    with path.open("rb") as handle, _open_image(path, handle) as image:
        technical["width"], technical["height"] = image.size
        technical["colour_mode"] = COLOUR_MODES.get(image.mode, COLOUR)
        decoded = _decode(path, image)
        exif = _exif(image, decoded)
        technical["resolution_dpi"] = declared_dpi(image, exif)
    technical["device"] = _device(
        exif.main.get(ExifTags.Base.Make), exif.main.get(ExifTags.Base.Model)
    )
    technical["captured_at"] = _captured(exif)


def _open_image(path: Path, handle: Any) -> ImageFile.ImageFile:
    """The image, its header parsed by the first plugin that recognises it."""
    failures = []
    for plugin in IMAGE_PLUGINS:
        handle.seek(0)
        try:
            return plugin(handle)
        # What a plugin raises on content that is not its format, or a header it cannot parse.
        except (SyntaxError, OSError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
            if _disk_failure(exc):
                raise
            failures.append(f"{getattr(plugin, 'format', plugin)}: {exc}")
    raise MediaUnreadable(f"{path.name}: not a JPEG, TIFF or PNG image ({'; '.join(failures)})")


def _decode(path: Path, image: ImageFile.ImageFile) -> bool:
    """Decode the pixels, so that a truncated or corrupt image is found now.

    A JPEG is decoded at 1/8 scale: every byte is still read, into 1/64 of the memory (a
    45-megapixel photo into 2 MB, not 136); the time is the entropy decoding's, about 0.5 s for a
    35 MB one here. Another image larger than Pillow's decompression-bomb limit
    (Image.MAX_IMAGE_PIXELS) is not decoded: its header is what is read of it.
    """
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        width, height = image.size
        draft = (max(1, width // JPEG_DRAFT_SCALE), max(1, height // JPEG_DRAFT_SCALE))
        image.draft(image.mode, draft)
    width, height = image.size
    if Image.MAX_IMAGE_PIXELS is not None and width * height > Image.MAX_IMAGE_PIXELS:
        return False
    try:
        image.load()
    # Pillow's decoders raise OSError for truncated or broken data, the others on broken headers.
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        if _disk_failure(exc):
            raise
        raise MediaUnreadable(
            f"{path.name}: the {image.format} image does not decode: {exc}"
        ) from exc
    return True


def _disk_failure(exc: Exception) -> bool:
    """An error of the operating system (it carries an errno), not Pillow's about the content."""
    return isinstance(exc, OSError) and exc.errno is not None


@dataclass(frozen=True)
class _Exif:
    main: Mapping[int, Any]  # IFD0: a TIFF's own tags
    details: Mapping[int, Any]  # the Exif IFD


def _exif(image: ImageFile.ImageFile, decoded: bool) -> _Exif:
    """The image's EXIF. Of a PNG not decoded, only an eXIf chunk before the pixels: Pillow looks
    for one after them by decoding the whole image. A corrupt EXIF block counts as none: the
    picture is still whole, only what it says of itself is lost."""
    try:
        if decoded or not isinstance(image, PngImagePlugin.PngImageFile):
            exif = image.getexif()
        else:
            exif = Image.Exif()
            if raw := image.info.get("exif"):
                exif.load(raw)
        return _Exif(dict(exif), dict(exif.get_ifd(ExifTags.IFD.Exif)))
    # What Pillow's TIFF directory reader raises on a broken header, offset or value.
    except (SyntaxError, OSError, ValueError, EOFError, IndexError, KeyError, TypeError,
            struct.error):  # fmt: skip
        return _Exif({}, {})


def declared_dpi(image: ImageFile.ImageFile, exif: _Exif | None = None) -> int | None:
    """分辨率 as the image declares it (its header: JFIF, EXIF, TIFF's tags, PNG's pHYs); None
    when it declares none. A JPEG without a JFIF density has its EXIF's resolution, or none:
    Pillow makes 72 dpi up for one whose EXIF has no resolution. `exif`: the image's, when read."""
    declared = image.info.get("dpi")
    if isinstance(image, JpegImagePlugin.JpegImageFile) and (
        image.info.get("jfif_unit") not in JFIF_DENSITY_UNITS
    ):
        declared = _exif_dpi(exif or _exif(image, decoded=False))
    return _dpi(declared)


def _dpi(value: Any) -> int | None:
    """分辨率 as the file declares it (JFIF or EXIF, TIFF's tags, PNG's pHYs): the lower of the two,
    rounded, as archival/digitization reads a scan's."""
    if isinstance(value, tuple) and len(value) == 2:
        lower = min(float(value[0]), float(value[1]))
        return round(lower) if math.isfinite(lower) and lower > 0 else None
    return None


def _exif_dpi(exif: _Exif) -> tuple[float, float] | None:
    """EXIF XResolution and YResolution in dots per inch; None without them or without a unit of
    length (ResolutionUnit 1), and for a rational over zero."""
    x = exif.main.get(ExifTags.Base.XResolution)
    y = exif.main.get(ExifTags.Base.YResolution, x)
    unit = exif.main.get(ExifTags.Base.ResolutionUnit, EXIF_INCHES)
    if x is None or unit not in EXIF_UNIT_INCHES:
        return None
    try:
        return float(x) * EXIF_UNIT_INCHES[unit], float(y) * EXIF_UNIT_INCHES[unit]
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _captured(exif: _Exif) -> str | None:
    """拍摄时间: DateTimeOriginal, else DateTime (the file's last change, which a camera writes as
    the same moment); with its offset (OffsetTimeOriginal, EXIF 2.31) when the camera wrote one."""
    base, details = ExifTags.Base, exif.details
    pairs = (
        (details.get(base.DateTimeOriginal), details.get(base.OffsetTimeOriginal)),
        (exif.main.get(base.DateTime), details.get(base.OffsetTime)),
    )
    for value, offset in pairs:
        if (moment := _exif_time(value, offset)) is not None:
            return moment
    return None


def _exif_time(value: Any, offset: Any) -> str | None:
    """An EXIF time as ISO 8601; None for a blank or impossible one (a camera whose clock was never
    set writes 0000:00:00 00:00:00, some blanks or spaces)."""
    try:
        moment = dt.datetime.strptime(_text(value), EXIF_TIME)
    except ValueError:
        return None
    try:
        zone = dt.datetime.strptime(_text(offset), "%z").tzinfo
    except ValueError:
        zone = None  # the camera's local time, its zone unknown
    return moment.replace(tzinfo=zone).isoformat()


def _device(make: Any, model: Any) -> str | None:
    """设备: make and model, the make once when the model repeats it (Canon's "Canon EOS R5")."""
    make_text, model_text = _text(make), _text(model)
    if make_text and model_text.lower().startswith(make_text.lower()):
        make_text = ""
    return " ".join(part for part in (make_text, model_text) if part) or None


def _text(value: Any) -> str:
    """A tag's text without the NULs and spaces that pad it; "" for a tag that is not text."""
    return value.strip(" \0") if isinstance(value, str) else ""


# --- audio and video --------------------------------------------------------------------------
def _read_recording(path: Path, kind: MediaKind, technical: MediaFile) -> None:
    # Imported here: PyAV loads FFmpeg's libraries (~55 ms), which nothing but a recording needs.
    import av

    try:
        # Tags are text in no promised encoding: a byte that is not UTF-8 is replaced, not fatal.
        with av.open(str(path), options=CONTAINER_OPTIONS, metadata_errors="replace") as container:
            _read_container(path, kind, container, technical)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):  # av.PermissionError and the like: the disk, not the file
            raise
        raise MediaUnreadable(
            f"{path.name}: FFmpeg cannot read it as an MP4/MOV, MP3, WAV or MPEG {kind} file: "
            f"{exc.strerror or exc}"
        ) from exc


def _read_container(
    path: Path, kind: MediaKind, container: InputContainer, technical: MediaFile
) -> None:
    # A cover picture in an MP3 or M4A is a video stream too; it is not the recording.
    video = next((s for s in container.streams.video if not _attached_picture(s)), None)
    audio = next(iter(container.streams.audio), None)
    if kind == "audio":
        video = None  # a video's pictures are not what its sound is read for
    main = video if kind == "video" else audio
    if main is None:
        raise MediaUnreadable(f"{path.name}: the {container.format.name} file has no {kind} stream")
    read: list[Stream] = [stream for stream in (video, audio) if stream is not None]
    for stream in read:
        if stream.codec_context is None:
            raise MediaUnreadable(
                f"{path.name}: its {stream.type} stream is in a codec FFmpeg does not know"
            )
    _demux(path, container, main, read)
    technical["duration_ms"] = _duration_ms(container, main)
    technical["bit_rate"] = main.codec_context.bit_rate or container.bit_rate or None
    technical["device"] = _container_device(container.metadata)
    technical["captured_at"] = _creation_time(container.metadata, main.metadata)
    if video is not None:
        rate = video.average_rate or video.guessed_rate
        technical["width"] = video.codec_context.width or None
        technical["height"] = video.codec_context.height or None
        technical["video_codec"] = video.codec_context.codec.canonical_name
        technical["frame_rate"] = round(float(rate), FRAME_RATE_DIGITS) if rate else None
    if audio is not None:
        technical["audio_codec"] = audio.codec_context.codec.canonical_name
        technical["sample_rate_hz"] = audio.codec_context.sample_rate or None
        technical["channels"] = audio.codec_context.channels or None


def _attached_picture(stream: Stream) -> bool:
    from av.stream import Disposition

    return bool(stream.disposition & Disposition.attached_pic)


def _demux(path: Path, container: InputContainer, main: Stream, read: list[Stream]) -> None:
    """Read every packet (without decoding): FFmpeg reports broken structure as it goes, and where
    the container's index counts the packets of a stream `read` (MP4's sample table) a shortfall
    is a truncated file, which FFmpeg itself passes over in silence."""
    counts = dict.fromkeys(range(len(container.streams)), 0)
    for packet in container.demux():
        if packet.size:  # not the empty packet that flushes each stream at the end
            counts[packet.stream.index] += 1
    if counts[main.index] == 0:
        raise MediaUnreadable(f"{path.name}: its {main.type} stream holds no data")
    for stream in read:
        if stream.frames and counts[stream.index] < stream.frames:
            raise MediaUnreadable(
                f"{path.name}: truncated: its index lists {stream.frames} packets of "
                f"{stream.type} stream {stream.index}, the file holds {counts[stream.index]}"
            )


def _duration_ms(container: InputContainer, main: Stream) -> int | None:
    if container.duration:
        return round(container.duration / MICROSECONDS_PER_MS)
    if main.duration and main.time_base:
        return round(main.duration * main.time_base * MICROSECONDS_PER_MS)
    return None


def _container_device(tags: Mapping[str, str]) -> str | None:
    for make, model in DEVICE_TAGS:
        if device := _device(tags.get(make), tags.get(model)):
            return device
    return None


def _creation_time(*tag_sets: Mapping[str, str]) -> str | None:
    """拍摄时间 from the container's creation_time (MP4's mvhd, BWF's origination date and time, as
    FFmpeg gives them), else the main stream's; to the second, with its offset (MP4: UTC)."""
    for tags in tag_sets:
        try:
            moment = dt.datetime.fromisoformat(tags.get(CREATION_TIME_TAG, "").strip())
        except ValueError:
            continue
        return moment.replace(microsecond=0).isoformat()
    return None
