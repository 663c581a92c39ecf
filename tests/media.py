"""Photos, sound and video recordings generated on the spot (Pillow, the stdlib's wave, PyAV;
nothing downloaded), each a few KB, with the technical metadata the tests then read back
(archival/media.py): a camera's JPEG with EXIF, a TIFF, a WAV tone, an MP3, an MP4 with H.264 or
MPEG-4 Part 2 video and AAC sound.

Each builder writes the file at `path` and returns `path`. Every value a builder is given is one the
file then records; None leaves the value out of the file.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
import wave
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from PIL import ExifTags, Image

TAKEN = dt.datetime(2026, 5, 6, 10, 30, 15)
TONE_HZ = 440
TONE_AMPLITUDE = 8000  # of 32767: a tone well clear of silence and of clipping
SAMPLE_BYTES = 2  # 16-bit PCM
EXIF_TIME = "%Y:%m:%d %H:%M:%S"
EXIF_VERSION = b"0231"  # what a Nikon D850 writes: siegfried calls such a JPEG Exif 2.3.x
JFIF_APP0 = b"\xff\xe0"
INCHES = 2  # EXIF ResolutionUnit
BANDS = 8
ENCODERS: dict[str, Literal["libx264", "mpeg4"]] = {"h264": "libx264", "mpeg4": "mpeg4"}


def _exif(
    taken: dt.datetime | str | None,
    changed: dt.datetime | str | None,
    make: str | None,
    model: str | None,
    dpi: int | None,
) -> Image.Exif:
    """EXIF as a camera writes it: Make, Model, DateTime and the resolution in IFD0; ExifVersion,
    DateTimeOriginal (and OffsetTimeOriginal for an aware `taken`) in the Exif IFD. A str is
    written as it is, for the junk cameras write."""
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.ExifVersion] = EXIF_VERSION
    for tag, value in ((ExifTags.Base.Make, make), (ExifTags.Base.Model, model)):
        if value is not None:
            exif[tag] = value
    if dpi is not None:
        exif[ExifTags.Base.XResolution] = float(dpi)
        exif[ExifTags.Base.YResolution] = float(dpi)
        exif[ExifTags.Base.ResolutionUnit] = INCHES
    if (text := _exif_time(taken)) is not None:
        details[ExifTags.Base.DateTimeOriginal] = text
    if isinstance(taken, dt.datetime) and taken.utcoffset() is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = taken.isoformat()[-6:]  # +08:00
    if (text := _exif_time(changed if changed is not None else taken)) is not None:
        exif[ExifTags.Base.DateTime] = text
    return exif


def _exif_time(value: dt.datetime | str | None) -> str | None:
    return value.strftime(EXIF_TIME) if isinstance(value, dt.datetime) else value


def _picture(size: tuple[int, int], mode: str) -> Image.Image:
    """Eight bands of colour: something to encode, which compresses to a few KB."""
    width, height = size
    picture = Image.new("RGB", size)
    for band in range(BANDS):
        colour = (band * 32, 255 - band * 32, (band * 96) % 256)
        picture.paste(colour, (band * width // BANDS, 0, (band + 1) * width // BANDS, height))
    return picture if mode == "RGB" else picture.convert(mode)


def photo_jpeg(
    path: Path,
    *,
    taken: dt.datetime | str | None = TAKEN,
    changed: dt.datetime | str | None = None,
    make: str | None = "Nikon",
    model: str | None = "D850",
    size: tuple[int, int] = (640, 480),
    dpi: int | None = 300,
    mode: str = "RGB",
    jfif: bool = False,
) -> Path:
    """A photo as a camera writes it: an Exif APP1 segment and no JFIF one (`jfif=True` keeps the
    JFIF header that editing software writes, with the resolution in it as well). EXIF DateTime is
    `changed`, else `taken`."""
    buffer = io.BytesIO()
    options = {"dpi": (dpi, dpi)} if dpi is not None else {}
    exif = _exif(taken, changed, make, model, dpi)
    _picture(size, mode).save(buffer, "JPEG", exif=exif, quality=70, **options)
    data = buffer.getvalue()
    if not jfif and data[2:4] == JFIF_APP0:
        length = struct.unpack(">H", data[4:6])[0]
        data = data[:2] + data[4 + length :]  # SOI, then the Exif segment first
    path.write_bytes(data)
    return path


def photo_tiff(
    path: Path,
    *,
    taken: dt.datetime | str | None = TAKEN,
    make: str | None = "Nikon",
    model: str | None = "D850",
    size: tuple[int, int] = (640, 480),
    dpi: int | None = 300,
    mode: str = "RGB",
) -> Path:
    """A TIFF (LZW) with Make, Model and DateTime among its tags; Pillow writes no Exif IFD into a
    TIFF, so the time is DateTime's."""
    options = {"dpi": (dpi, dpi)} if dpi is not None else {}
    exif = _exif(taken, None, make, model, dpi)
    _picture(size, mode).save(path, "TIFF", exif=exif, compression="tiff_lzw", **options)
    return path


def tone(seconds: float, rate: int, channels: int) -> bytes:
    """16-bit little-endian PCM, interleaved: a 440 Hz sine on every channel."""
    frames = round(seconds * rate)
    samples = [
        round(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * i / rate)) for i in range(frames)
    ]
    return struct.pack(f"<{frames * channels}h", *(s for s in samples for _ in range(channels)))


def audio_wav(path: Path, *, seconds: float = 1.0, rate: int = 16000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(channels)
        sound.setsampwidth(SAMPLE_BYTES)
        sound.setframerate(rate)
        sound.writeframes(tone(seconds, rate, channels))
    return path


def _encode_tone(
    container: OutputContainer,
    stream: AudioStream,
    seconds: float,
    rate: int,
    channels: int,
) -> None:
    """A tone into `stream`, in frames of the codec's size (PyAV resamples s16 to its format)."""
    layout = "mono" if channels == 1 else "stereo"
    pcm = tone(seconds, rate, channels)
    step = (stream.codec_context.frame_size or 1024) * channels * SAMPLE_BYTES
    for start in range(0, len(pcm), step):
        chunk = pcm[start : start + step]
        frame = av.AudioFrame(
            format="s16", layout=layout, samples=len(chunk) // (channels * SAMPLE_BYTES)
        )
        frame.planes[0].update(chunk)
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = start // (channels * SAMPLE_BYTES)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def audio_mp3(
    path: Path,
    *,
    seconds: float = 1.0,
    rate: int = 44100,
    channels: int = 1,
    bit_rate: int = 64000,
) -> Path:
    """An MP3 (LAME, constant bit rate), as a voice recorder writes one."""
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono" if channels == 1 else "stereo"
        stream.bit_rate = bit_rate
        _encode_tone(container, stream, seconds, rate, channels)
    return path


def video_mp4(
    path: Path,
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 25,
    audio: bool = True,
    codec: Literal["h264", "mpeg4"] = "h264",
    audio_rate: int = 48000,
    channels: int = 2,
    make: str | None = None,
    model: str | None = None,
    created: dt.datetime | None = None,
    faststart: bool = False,
    container_format: str = "mp4",
) -> Path:
    """An MP4 of `codec` (h264 by libx264, or mpeg4) with AAC sound. `make` and `model` are written
    as an iPhone writes them (QuickTime mdta keys com.apple.quicktime.make/model), `created` (an
    aware time) as the movie's creation time; `faststart` puts the index before the media data, as
    a file made for streaming has it. `container_format` puts the same streams in another
    container (matroska: one FFmpeg reads, which archival/media.py must not)."""
    flags = ["faststart"] if faststart else []
    if make or model:
        flags.append("use_metadata_tags")
    options = {"movflags": "+".join(flags)} if flags else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        if created is not None:
            utc = created.astimezone(dt.UTC)
            container.metadata["creation_time"] = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, value in (
            ("com.apple.quicktime.make", make),
            ("com.apple.quicktime.model", model),
        ):
            if value:
                container.metadata[key] = value
        video = container.add_stream(ENCODERS[codec], rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if codec == "h264":
            video.options = {"preset": "ultrafast", "crf": "40"}  # small, not pretty
        sound = container.add_stream("aac", rate=audio_rate) if audio else None
        if sound is not None:
            sound.layout = "mono" if channels == 1 else "stereo"
        picture = _picture(size, "RGB")
        for number in range(round(seconds * fps)):
            frame = av.VideoFrame.from_image(picture.rotate(number * 360 / fps))
            frame.pts = number
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _encode_tone(container, sound, seconds, audio_rate, channels)
    return path
