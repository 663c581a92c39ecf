"""The storage connector's pure parts (connectors/storage.py): safe file names, streaming digests
and the ETag S3 reports for single and multipart uploads. No S3 server involved."""

from __future__ import annotations

import hashlib
import io
import itertools
import unicodedata
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archival.filenames import MAX_FILENAME_BYTES, RESERVED_NAMES, safe_filename
from connectors import storage
from connectors.storage import Digests, HashingReader
from recordflow.errors import RecordRejected


# --- safe_filename -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("通知.pdf", "通知.pdf"),
        ("../../etc/passwd", "passwd"),
        ("../", "file"),
        ("..", "file"),
        ("/etc/shadow", "shadow"),
        ("/", "file"),
        ("C:\\Users\\办公室\\报告.docx", "报告.docx"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("a\x00b.pdf", "a_b.pdf"),
        ("tab\there\nnew\x7f.txt", "tab_here_new_.txt"),
        ("\x1b[31mred.txt", "_[31mred.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("CON", "file-CON"),
        ("con", "file-con"),
        ("nul.txt", "file-nul.txt"),
        ("Com1.log", "file-Com1.log"),
        ("LPT9", "file-LPT9"),
        ("PRN.pdf", "file-PRN.pdf"),
        ("aux.", "file-aux"),
        ("console.txt", "console.txt"),
        ("com10.txt", "com10.txt"),
        ("", "file"),
        ("   ", "file"),
        ("...", "file"),
        (".pdf", "pdf"),
        ("  报告.pdf. ", "报告.pdf"),
        ("archive.tar.gz", "archive.tar.gz"),
        ("x." + "e" * 20, "x." + "e" * 16),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_unicode_is_normalized_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Café-報告.pdf")
    assert decomposed != "Café-報告.pdf"
    assert safe_filename(decomposed) == "Café-報告.pdf"


@pytest.mark.parametrize("extension", [".pdf", ".docx", ".ofd", ""])
def test_long_chinese_name_is_trimmed_keeping_the_extension(extension: str) -> None:
    stem = "关于做好二〇二六年春节期间值班工作的通知及其附件目录清单" * 5  # 3 bytes a character
    safe = safe_filename(stem + extension)
    assert len(safe.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert safe.endswith(extension)
    kept = safe.removesuffix(extension)
    assert stem.startswith(kept)
    # As long as fits: one more character would not.
    assert len((stem[: len(kept) + 1] + extension).encode("utf-8")) > MAX_FILENAME_BYTES


def test_a_name_exactly_at_the_limit_is_kept() -> None:
    name = "通" * 36 + ".pdf"  # 108 + 4 bytes
    assert safe_filename(name) == name
    assert safe_filename("通" * 40) == "通" * 40  # 120 bytes
    assert safe_filename("通" * 41) == "通" * 40


@given(name=st.text(max_size=300))
def test_safe_filename_properties(name: str) -> None:
    safe = safe_filename(name)
    assert safe
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not any(ord(c) < 0x20 or c == "\x7f" for c in safe)
    assert len(safe.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert safe not in (".", "..")
    assert safe.partition(".")[0].lower() not in RESERVED_NAMES
    assert unicodedata.is_normalized("NFC", safe)


@given(
    stem=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="/\\"),
        min_size=1,
    ).filter(lambda stem: stem.strip(" .")),
    extension=st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=16),
)
def test_a_plain_extension_is_always_kept(stem: str, extension: str) -> None:
    safe = safe_filename(f"{stem}.{extension}")
    assert safe.endswith(f".{extension}")
    assert len(safe.encode("utf-8")) <= MAX_FILENAME_BYTES


@pytest.mark.parametrize("name", ["nul.tar.gz", "CON.tar.gz", "com1.backup.zip"])
def test_reserved_name_with_two_extensions(name: str) -> None:
    assert safe_filename(name).split(".")[0].lower() not in RESERVED_NAMES


@pytest.mark.parametrize("name", ["a.abcdefghijklmno pq", "x" * 118 + " 中"])
def test_no_trailing_space_after_trimming(name: str) -> None:
    safe = safe_filename(name)
    assert safe == safe.strip(" .")
    assert safe_filename(safe) == safe


@given(name=st.one_of(st.text(max_size=300), st.text(" .abnulCON中\\/", max_size=300)))
def test_safe_filename_is_idempotent(name: str) -> None:
    safe = safe_filename(name)
    assert safe == safe.strip(" .")
    assert safe_filename(safe) == safe


# --- Digests -----------------------------------------------------------------------------
def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def md5_etag(data: bytes, part_size: int) -> str:
    """The S3 rule, from the S3 documentation: one PUT → MD5 of the bytes; multipart → MD5 of
    the concatenated binary part MD5s, then '-' and the number of parts."""
    if len(data) <= part_size:
        return hashlib.md5(data).hexdigest()
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    joined = b"".join(hashlib.md5(part).digest() for part in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_digests_equal_hashlib_over_any_chunking(data: bytes, cuts: list[int]) -> None:
    digests = Digests()
    for chunk in chunked(data, cuts):
        digests.update(chunk)
    assert digests.size == len(data)
    assert digests.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digests.sm3.hexdigest() == hashlib.new("sm3", data).hexdigest()
    assert digests.expected_etag() == hashlib.md5(data).hexdigest()


def test_sm3_known_answer() -> None:
    # GB/T 32905-2016, example 1: SM3("abc").
    digests = Digests()
    digests.update(b"abc")
    assert digests.sm3.hexdigest() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_empty_input() -> None:
    digests = Digests()
    assert digests.size == 0
    assert digests.expected_etag() == hashlib.md5(b"").hexdigest()


SMALL_PART = 1024


@given(
    data=st.binary(min_size=0, max_size=5 * SMALL_PART + 7),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_multipart_etag_over_any_chunking(data: bytes, cuts: list[int]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "PART_SIZE", SMALL_PART)
        digests = Digests()
        for chunk in chunked(data, cuts):
            digests.update(chunk)
        assert digests.expected_etag() == md5_etag(data, SMALL_PART)


def test_etag_of_a_stream_from_where_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "PART_SIZE", SMALL_PART)
    data = bytes(range(256)) * (3 * SMALL_PART // 256 + 1)
    content = io.BytesIO(b"skipped" + data)
    content.seek(len(b"skipped"))
    assert storage.etag_of(content) == md5_etag(data, SMALL_PART)
    assert content.tell() == len(b"skipped")  # put back for the upload that follows


def test_digests_without_md5s_have_no_etag() -> None:
    digests = Digests(etag=False)
    digests.update(b"scan")
    assert digests.sha256.hexdigest() == hashlib.sha256(b"scan").hexdigest()
    assert digests.part_md5s == []
    with pytest.raises(ValueError, match="MD5s"):
        digests.expected_etag()


@pytest.mark.parametrize(
    ("size", "parts"),
    [(SMALL_PART - 1, 0), (SMALL_PART, 0), (SMALL_PART + 1, 2), (2 * SMALL_PART, 2),
     (2 * SMALL_PART + 1, 3), (5 * SMALL_PART, 5)],
)  # fmt: skip
def test_multipart_boundaries(monkeypatch: pytest.MonkeyPatch, size: int, parts: int) -> None:
    monkeypatch.setattr(storage, "PART_SIZE", SMALL_PART)
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    digests = Digests()
    digests.update(data)
    etag = digests.expected_etag()
    assert etag == md5_etag(data, SMALL_PART)
    if parts:
        assert etag.endswith(f"-{parts}")
    else:
        assert etag == hashlib.md5(data).hexdigest()


# --- HashingReader -----------------------------------------------------------------------
@given(data=st.binary(max_size=4096), sizes=st.lists(st.integers(min_value=1, max_value=900)))
def test_hashing_reader_passes_bytes_through_and_hashes_them(data: bytes, sizes: list[int]) -> None:
    digests = Digests()
    reader = HashingReader(io.BytesIO(data), digests)
    read = b"".join(reader.read(size) for size in sizes) + reader.read()
    assert read == data
    assert reader.read(10) == b""
    assert digests.size == len(data)
    assert digests.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digests.sm3.hexdigest() == hashlib.new("sm3", data).hexdigest()


# --- fetch reads no more than was declared (issue 4) -----------------------------------------
class _Response:
    def __init__(self, data: bytes, length: str | None) -> None:
        self.data = data
        self.headers = {} if length is None else {"Content-Length": length}
        self.streamed = 0
        self.closed = False

    def stream(self, size: int) -> Iterator[bytes]:
        for at in range(0, len(self.data), size):
            self.streamed += len(self.data[at : at + size])
            yield self.data[at : at + size]

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass


def _storage_serving(response: _Response) -> storage.Storage:
    served = storage.Storage.__new__(storage.Storage)
    served.client = cast(Any, SimpleNamespace(get_object=lambda *_, **__: response))
    return served


@pytest.mark.parametrize("length", ["8388608", None])  # told by the server, or not
def test_an_object_larger_than_declared_is_refused_without_reading_it_all(
    length: str | None,
) -> None:
    response = _Response(bytes(8 * 1024 * 1024), length)
    with pytest.raises(RecordRejected) as caught:
        _storage_serving(response).fetch("staging", "bgt/u/01.pdf", max_bytes=2048)
    assert caught.value.reason == "size-mismatch"
    assert "larger than the declared 2048 bytes" in caught.value.message
    assert response.streamed <= storage.CHUNK  # one chunk at most, none when the length is known
    assert response.closed


def test_an_object_of_the_declared_size_is_fetched_whole() -> None:
    data = b"%PDF-1.4 " + bytes(3 * storage.CHUNK)
    fetched = _storage_serving(_Response(data, str(len(data)))).fetch("s", "k", max_bytes=len(data))
    assert fetched.digests.size == len(data) and fetched.content.read() == data
    fetched.content.close()
