"""Names under which a file is kept: safe as the last part of an object key and on any file
system, whatever name the agency gave it."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_BYTES = 120
MAX_EXTENSION_CHARS = 16
RESERVED_NAMES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


def safe_filename(name: str) -> str:
    """A file name that is safe as the last part of an object key and on any file system.

    Drops directories (`../`, absolute paths), control characters and NUL, Windows-reserved names
    (with any extensions: Windows reads `nul.tar.gz` as `NUL`), and trims to a byte length every
    file system accepts, keeping the extension. The result never ends in a space or a dot, and
    `safe_filename(safe_filename(x)) == safe_filename(x)`.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = extension[:MAX_EXTENSION_CHARS].rstrip(" ")
    if dot and not extension:  # nothing left of the extension: the stem is the whole name
        return safe_filename(stem)
    suffix = f".{extension}" if extension else ""
    stem = _fit(stem, suffix)
    device = stem.partition(".")[0].rstrip(" ").lower()  # what Windows compares with its devices
    if device in RESERVED_NAMES or not stem:
        stem = _fit(f"file-{stem}" if stem else "file", suffix)
    return stem + suffix


def _fit(stem: str, suffix: str) -> str:
    """`stem` cut so that `stem + suffix` fits MAX_FILENAME_BYTES and does not end in a space or a
    dot (Windows drops those, so the name would change on the way)."""
    while len((stem + suffix).encode("utf-8")) > MAX_FILENAME_BYTES:
        stem = stem[:-1]
    return stem if suffix else stem.rstrip(" .")
