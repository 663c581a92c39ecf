"""Technical metadata of photos, audio and video (archival/media.py), read back from files that
tests/media.py generates with known values: what a builder wrote is what read_media finds, what it
left out is None, and a file that does not read is one MediaUnreadable, never a library's error.
Each fixture is also identified by archival/formats.py as an accepted format of its category."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_type_hints

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from archival.formats import identify
from archival.media import MediaKind, MediaUnreadable, read_media
from avro_schemas.records import MediaFile
from tests.media import (
    TAKEN,
    audio_mp3,
    audio_wav,
    photo_jpeg,
    photo_tiff,
    video_mp4,
)

CHINA = dt.timezone(dt.timedelta(hours=8))
FIELDS = set(get_type_hints(MediaFile))  # every field of the record, filled in or None
IMAGE_FIELDS = {"width", "height", "resolution_dpi", "colour_mode", "device", "captured_at"}
AUDIO_FIELDS = {"duration_ms", "audio_codec", "sample_rate_hz", "channels", "bit_rate"}
VIDEO_FIELDS = AUDIO_FIELDS | {"width", "height", "video_codec", "frame_rate"}
PCM_BITS = 16


def only(result: MediaFile, fields: set[str]) -> None:
    """Every field outside `fields` (and sequence, kind) is None."""
    assert set(result) == FIELDS
    extra = {k: v for k, v in result.items() if k not in fields | {"sequence", "kind"}}
    assert extra == dict.fromkeys(extra)


# --- photos -----------------------------------------------------------------------------------
@pytest.mark.parametrize("jfif", [False, True], ids=["camera", "jfif"])
@pytest.mark.parametrize("dpi", [72, 300, 350])
def test_a_photo_reads_back_as_written(tmp_path: Path, jfif: bool, dpi: int) -> None:
    path = photo_jpeg(tmp_path / "DSC_0001.JPG", size=(320, 200), dpi=dpi, jfif=jfif)
    result = read_media(path, "image", 3)
    assert result == {
        "sequence": 3,
        "kind": "image",
        "width": 320,
        "height": 200,
        "resolution_dpi": dpi,
        "colour_mode": "彩色",
        "duration_ms": None,
        "video_codec": None,
        "audio_codec": None,
        "frame_rate": None,
        "sample_rate_hz": None,
        "channels": None,
        "bit_rate": None,
        "device": "Nikon D850",
        "captured_at": "2026-05-06T10:30:15",
    }


def test_a_photo_without_exif_says_nothing_of_device_time_or_resolution(tmp_path: Path) -> None:
    # Pillow reports 72 dpi for an EXIF block without a resolution: a default, not the file's.
    for name, jfif in (("exif-without-values.jpg", False), ("plain.jpg", True)):
        path = photo_jpeg(tmp_path / name, taken=None, make=None, model=None, dpi=None, jfif=jfif)
        result = read_media(path, "image", 1)
        only(result, {"width", "height", "colour_mode"})
        assert (result["width"], result["height"], result["colour_mode"]) == (640, 480, "彩色")


@pytest.mark.parametrize("size", [(1, 1), (7, 9), (9, 7)])
def test_a_photo_smaller_than_its_draft_scale(tmp_path: Path, size: tuple[int, int]) -> None:
    path = photo_jpeg(tmp_path / "thumb.jpg", size=size)
    result = read_media(path, "image", 1)
    assert (result["width"], result["height"]) == size


def test_a_png_without_any_metadata(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30), "navy").save(tmp_path / "scan.png")
    result = read_media(tmp_path / "scan.png", "image", 1)
    only(result, {"width", "height", "colour_mode"})
    assert (result["width"], result["height"]) == (40, 30)


@pytest.mark.parametrize(("mode", "words"), [("RGB", "彩色"), ("CMYK", "彩色"), ("L", "灰度")])
def test_colour_modes_are_named_as_digitization_names_them(
    tmp_path: Path, mode: str, words: str
) -> None:
    path = photo_jpeg(tmp_path / "photo.jpg", mode=mode)
    assert read_media(path, "image", 1)["colour_mode"] == words


@pytest.mark.parametrize(("mode", "words"), [("RGB", "彩色"), ("L", "灰度"), ("1", "黑白")])
def test_a_tiff_reads_back_as_written(tmp_path: Path, mode: str, words: str) -> None:
    path = photo_tiff(tmp_path / "scan.tif", size=(200, 160), dpi=600, mode=mode)
    result = read_media(path, "image", 2)
    only(result, IMAGE_FIELDS)
    assert (result["width"], result["height"]) == (200, 160)
    assert result["resolution_dpi"] == 600
    assert result["colour_mode"] == words
    assert result["device"] == "Nikon D850"
    assert result["captured_at"] == TAKEN.isoformat()  # DateTime: a TIFF here has no Exif IFD


def test_the_time_keeps_the_offset_the_camera_wrote(tmp_path: Path) -> None:
    path = photo_jpeg(tmp_path / "photo.jpg", taken=dt.datetime(2026, 5, 6, 9, 5, 1, tzinfo=CHINA))
    assert read_media(path, "image", 1)["captured_at"] == "2026-05-06T09:05:01+08:00"


@pytest.mark.parametrize(
    "junk", ["0000:00:00 00:00:00", "", "    :  :     :  :  ", "2026:13:45 99:00:00"]
)
def test_a_junk_time_is_no_time(tmp_path: Path, junk: str) -> None:
    path = photo_jpeg(tmp_path / "photo.jpg", taken=junk)
    result = read_media(path, "image", 1)
    assert result["captured_at"] is None
    assert result["device"] == "Nikon D850"  # the rest is read as ever


def test_a_junk_original_time_falls_back_to_the_time_written(tmp_path: Path) -> None:
    changed = dt.datetime(2026, 5, 7, 8, 0, 0)
    path = photo_jpeg(tmp_path / "photo.jpg", taken="0000:00:00 00:00:00", changed=changed)
    assert read_media(path, "image", 1)["captured_at"] == "2026-05-07T08:00:00"


def test_the_original_time_wins_over_the_time_written(tmp_path: Path) -> None:
    path = photo_jpeg(tmp_path / "photo.jpg", changed=dt.datetime(2027, 1, 1, 0, 0, 0))
    assert read_media(path, "image", 1)["captured_at"] == TAKEN.isoformat()


@pytest.mark.parametrize(
    ("make", "model", "device"),
    [
        ("Canon", "Canon EOS R5", "Canon EOS R5"),
        ("NIKON CORPORATION", "NIKON D850", "NIKON CORPORATION NIKON D850"),
        ("Nikon", None, "Nikon"),
        (None, "D850", "D850"),
        ("  ", "  ", None),
    ],
)
def test_the_device_is_make_and_model(
    tmp_path: Path, make: str | None, model: str | None, device: str | None
) -> None:
    path = photo_jpeg(tmp_path / "photo.jpg", make=make, model=model)
    assert read_media(path, "image", 1)["device"] == device


def test_a_corrupt_exif_block_loses_the_metadata_not_the_photo(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    buffer = tmp_path / "plain.jpg"
    Image.new("RGB", (64, 48), "olive").save(buffer, dpi=(200, 200))
    Image.open(buffer).save(path, exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", dpi=(200, 200))
    result = read_media(path, "image", 1)
    assert (result["width"], result["resolution_dpi"]) == (64, 200)
    assert (result["device"], result["captured_at"]) == (None, None)


# --- sound ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "rate", "channels"), [(1.0, 16000, 1), (0.5, 44100, 2), (0.25, 48000, 2)]
)
def test_a_wav_reads_back_as_written(
    tmp_path: Path, seconds: float, rate: int, channels: int
) -> None:
    path = audio_wav(tmp_path / "hearing.wav", seconds=seconds, rate=rate, channels=channels)
    result = read_media(path, "audio", 1)
    only(result, AUDIO_FIELDS)
    assert result["audio_codec"] == "pcm_s16le"
    assert result["sample_rate_hz"] == rate
    assert result["channels"] == channels
    assert result["duration_ms"] == seconds * 1000
    assert result["bit_rate"] == rate * channels * PCM_BITS


@pytest.mark.parametrize(("rate", "channels", "bit_rate"), [(44100, 1, 64000), (22050, 2, 96000)])
def test_an_mp3_reads_back_as_written(
    tmp_path: Path, rate: int, channels: int, bit_rate: int
) -> None:
    path = audio_mp3(tmp_path / "interview.mp3", seconds=1.0, rate=rate, channels=channels,
                     bit_rate=bit_rate)  # fmt: skip
    result = read_media(path, "audio", 1)
    only(result, AUDIO_FIELDS)
    assert result["audio_codec"] == "mp3"
    assert (result["sample_rate_hz"], result["channels"]) == (rate, channels)
    assert result["bit_rate"] == bit_rate
    mp3_frame_ms = 1152 / rate * 1000
    assert result["duration_ms"] is not None
    assert abs(result["duration_ms"] - 1000) <= mp3_frame_ms


# --- video ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codec", "size", "fps"), [("h264", (320, 240), 25), ("mpeg4", (176, 144), 30)]
)
def test_a_video_reads_back_as_written(
    tmp_path: Path, codec: Literal["h264", "mpeg4"], size: tuple[int, int], fps: int
) -> None:
    path = video_mp4(tmp_path / "meeting.mp4", seconds=1.0, size=size, fps=fps, codec=codec,
                     audio_rate=48000, channels=2)  # fmt: skip
    result = read_media(path, "video", 4)
    only(result, VIDEO_FIELDS)
    assert (result["sequence"], result["kind"]) == (4, "video")
    assert (result["width"], result["height"]) == size
    assert result["video_codec"] == codec
    assert result["frame_rate"] == fps
    assert result["audio_codec"] == "aac"
    assert (result["sample_rate_hz"], result["channels"]) == (48000, 2)
    assert result["duration_ms"] is not None
    assert abs(result["duration_ms"] - 1000) <= 1000 / fps
    assert result["bit_rate"] is not None
    assert 0 < result["bit_rate"] <= path.stat().st_size * 8


def test_a_video_without_sound(tmp_path: Path) -> None:
    path = video_mp4(tmp_path / "silent.mp4", audio=False, fps=30)
    result = read_media(path, "video", 1)
    only(result, {"width", "height", "video_codec", "frame_rate", "duration_ms", "bit_rate"})
    assert result["frame_rate"] == 30


def test_a_video_names_its_device_and_creation_time(tmp_path: Path) -> None:
    created = dt.datetime(2026, 5, 6, 18, 30, 0, tzinfo=CHINA)
    path = video_mp4(tmp_path / "IMG_0001.mp4", make="Apple", model="iPhone 15", created=created)
    result = read_media(path, "video", 1)
    assert result["device"] == "Apple iPhone 15"
    assert result["captured_at"] == "2026-05-06T10:30:00+00:00"  # MP4 keeps UTC
    assert dt.datetime.fromisoformat(result["captured_at"]) == created


def test_the_sound_of_a_video_read_as_audio(tmp_path: Path) -> None:
    path = video_mp4(tmp_path / "meeting.mp4", audio_rate=44100, channels=1)
    result = read_media(path, "audio", 1)
    only(result, AUDIO_FIELDS)
    assert result["audio_codec"] == "aac"
    assert (result["sample_rate_hz"], result["channels"]) == (44100, 1)


# --- what does not read -----------------------------------------------------------------------
def unreadable(path: Path, kind: MediaKind, *words: str) -> str:
    with pytest.raises(MediaUnreadable) as caught:
        read_media(path, kind, 1)
    message = str(caught.value)
    assert message.startswith(f"{path.name}: ")
    for word in words:
        assert word in message
    return message


def test_a_truncated_jpeg_is_unreadable(tmp_path: Path) -> None:
    whole = photo_jpeg(tmp_path / "whole.jpg").read_bytes()
    for fraction in (0.95, 0.5):
        cut = tmp_path / f"cut-{fraction}.jpg"
        cut.write_bytes(whole[: int(len(whole) * fraction)])
        unreadable(cut, "image", "does not decode", "truncated")
    header_only = tmp_path / "header.jpg"
    header_only.write_bytes(whole[:100])
    unreadable(header_only, "image", "JPEG")


def test_a_truncated_tiff_and_png_are_unreadable(tmp_path: Path) -> None:
    tiff = photo_tiff(tmp_path / "scan.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(tiff[: len(tiff) // 2])
    unreadable(tmp_path / "cut.tif", "image")
    Image.new("RGB", (300, 200), "teal").save(tmp_path / "scan.png")
    png = (tmp_path / "scan.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[:-30])
    unreadable(tmp_path / "cut.png", "image", "PNG", "does not decode")


def test_an_image_too_large_to_decode_is_read_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above Pillow's decompression-bomb limit only a JPEG is still decoded (at 1/8 scale): the
    truncated PNG passes on its header, the truncated JPEG does not."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    Image.new("RGB", (300, 200), "teal").save(tmp_path / "scan.png")
    png = (tmp_path / "scan.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[:-30])
    assert read_media(tmp_path / "cut.png", "image", 1)["width"] == 300
    jpeg = photo_jpeg(tmp_path / "photo.jpg", size=(640, 480)).read_bytes()  # 1/8: 4800 pixels
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    unreadable(tmp_path / "cut.jpg", "image", "truncated")


def test_random_bytes_named_mp4_are_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "meeting.mp4"
    path.write_bytes(os.urandom(4096))
    unreadable(path, "video", "FFmpeg")


def test_a_zero_length_wav_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "hearing.wav"
    path.touch()
    unreadable(path, "audio", "empty")


def test_a_wav_header_without_samples_is_unreadable(tmp_path: Path) -> None:
    whole = audio_wav(tmp_path / "whole.wav").read_bytes()
    (tmp_path / "hearing.wav").write_bytes(whole[:44])
    unreadable(tmp_path / "hearing.wav", "audio", "holds no data")


def test_a_truncated_mp4_is_unreadable(tmp_path: Path) -> None:
    """Cut before its index (written last), an MP4 does not open; with its index first
    (faststart), FFmpeg reads what is there in silence and the count of packets gives it away."""
    for faststart in (False, True):
        whole = video_mp4(tmp_path / "whole.mp4", faststart=faststart).read_bytes()
        cut = tmp_path / f"cut-{faststart}.mp4"
        cut.write_bytes(whole[: len(whole) * 6 // 10])
        message = unreadable(cut, "video")
        assert faststart is ("truncated: its index lists" in message)


@pytest.mark.parametrize(
    ("build", "kind", "words"),
    [
        (lambda p: audio_mp3(p / "a.mp3"), "video", "no video stream"),
        (lambda p: video_mp4(p / "v.mp4", audio=False), "audio", "no audio stream"),
        (lambda p: audio_wav(p / "a.wav"), "image", "not a JPEG, TIFF or PNG image"),
        (lambda p: photo_jpeg(p / "p.jpg"), "video", "FFmpeg"),
    ],
)
def test_a_file_of_another_kind_is_unreadable(
    tmp_path: Path, build: Callable[[Path], Path], kind: MediaKind, words: str
) -> None:
    unreadable(build(tmp_path), kind, words)


def test_ffmpeg_opens_only_the_accepted_containers(tmp_path: Path) -> None:
    """A Matroska video FFmpeg reads well is refused: only the demuxers of the accepted audio and
    video formats are allowed (an HLS playlist or a concat script would reach other files)."""
    path = video_mp4(tmp_path / "meeting.mp4", container_format="matroska")
    with av.open(str(path)) as container:
        assert container.format.name.startswith("matroska")  # FFmpeg itself reads it
    unreadable(path, "video", "FFmpeg")


@pytest.mark.parametrize("kind", ["image", "audio", "video"])
def test_a_file_that_cannot_be_opened_is_the_workers_trouble_not_the_files(
    tmp_path: Path, kind: MediaKind
) -> None:
    with pytest.raises(FileNotFoundError):
        read_media(tmp_path / "gone", kind, 1)
    with pytest.raises(IsADirectoryError):  # from FFmpeg as from Python: an OSError, passed on
        read_media(tmp_path, kind, 1)


def test_unreadable_is_a_value_error() -> None:
    assert issubclass(MediaUnreadable, ValueError)


SAMPLES: dict[str, tuple[MediaKind, Callable[[Path], Path]]] = {
    "jpeg": ("image", lambda p: photo_jpeg(p / "p.jpg", size=(64, 48))),
    "tiff": ("image", lambda p: photo_tiff(p / "p.tif", size=(64, 48))),
    "wav": ("audio", lambda p: audio_wav(p / "a.wav", seconds=0.1)),
    "mp3": ("audio", lambda p: audio_mp3(p / "a.mp3", seconds=0.2)),
    "mp4": ("video", lambda p: video_mp4(p / "v.mp4", seconds=0.2, size=(64, 48))),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("samples")
    return {name: build(folder).read_bytes() for name, (_, build) in SAMPLES.items()}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    cut=st.floats(0, 1),
    at=st.floats(0, 1),
    junk=st.binary(min_size=1, max_size=64),
)
def test_a_damaged_file_reads_or_is_unreadable_and_nothing_else(
    tmp_path: Path, samples: dict[str, bytes], name: str, cut: float, at: float, junk: bytes
) -> None:
    """Cut short, or with bytes overwritten anywhere, a file gives values or MediaUnreadable:
    never a library's exception."""
    data = samples[name]
    damaged = data[: max(1, int(len(data) * cut))]
    start = int(len(damaged) * at)
    damaged = damaged[:start] + junk + damaged[start + len(junk) :]
    path = tmp_path / f"damaged.{name}"
    path.write_bytes(damaged)
    kind = SAMPLES[name][0]
    try:
        result = read_media(path, kind, 1)
    except MediaUnreadable:
        return
    assert set(result) == FIELDS


# --- identification ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "name", "mime", "puid", "category"),
    [
        (lambda p: photo_jpeg(p / "f"), "DSC_0001.JPG", "image/jpeg", "fmt/1507", "image"),
        (lambda p: photo_jpeg(p / "f", jfif=True), "photo.jpg", "image/jpeg", "fmt/43", "image"),
        (lambda p: photo_tiff(p / "f"), "scan.tif", "image/tiff", "fmt/353", "image"),
        (lambda p: audio_wav(p / "f"), "hearing.wav", "audio/wav", "fmt/141", "audio"),
        (lambda p: audio_mp3(p / "f"), "interview.mp3", "audio/mpeg", "fmt/134", "audio"),
        (lambda p: video_mp4(p / "f"), "meeting.mp4", "video/mp4", "fmt/199", "video"),
        (lambda p: video_mp4(p / "f", codec="mpeg4", audio=False), "old.mp4", "video/mp4",
         "fmt/199", "video"),
        (lambda p: video_mp4(p / "f", faststart=True, make="Apple", model="iPhone 15"),
         "IMG_0001.mp4", "video/mp4", "fmt/199", "video"),
    ],
)  # fmt: skip
def test_every_fixture_is_an_accepted_format_of_its_category(
    tmp_path: Path, build: Callable[[Path], Path], name: str, mime: str, puid: str, category: str
) -> None:
    path = build(tmp_path)
    found = identify(path, name, mime)
    assert (found.puid, found.category, found.accepted, found.problems) == (
        puid, category, True, ()
    )  # fmt: skip
