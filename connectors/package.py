"""`export_record` turns a package back into a complete bag on disk, verifiable with the `bagit`
library alone: it unpacks the tag files, downloads every `fetch.txt` entry into its `data/` path
(hashing while it downloads) and keeps `fetch.txt`, which `bagit.Bag(path).validate()` accepts
once every file it lists is present. Keeping it leaves every tag file byte-identical to the
archived package, so the tag manifest still proves it, and records where each file came from.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minio.error import S3Error

from archival.package import PackageError, bag_root, check_relative, parse_s3_url
from connectors.storage import CHUNK, Storage


def export_record(
    storage: Storage, record: Mapping[str, Any], package: Mapping[str, Any], dest: Path
) -> Path:
    """Rebuild the record's bag as a complete bag in `dest/<档号>/` and return its folder.

    Downloads the package object, checks its tag files against its tag manifest, unpacks them,
    and downloads every `fetch.txt` entry (by bucket, key and version id) into its `data/` path,
    hashing as it writes; a size or SHA-256 that differs from `fetch.txt` or the manifest raises
    PackageError. All or nothing: on any failure the half-built folder is removed.
    """
    code = record["reference_code"]
    bag_dir = dest / bag_root(code)
    if bag_dir.exists():
        raise PackageError("export-exists", f"{bag_dir} exists already; export into a new folder")
    tar_bytes = _download(storage, package["bucket"], package["key"], package.get("version_id"))
    members, folders = _unpack(tar_bytes, bag_root(code))
    _verify_tag_files(members)
    info = _tags(members, "bag-info.txt")
    if info.get("External-Identifier") != code:
        raise PackageError(
            "package-mismatch",
            f"package {package['key']} is for {info.get('External-Identifier')!r}, not {code}",
        )
    manifest = _manifest(members, "manifest-sha256.txt")
    fetch = _fetch_entries(members)
    if set(manifest) != {path for _, _, path in fetch}:
        raise PackageError("bad-package", "fetch.txt and manifest-sha256.txt list different files")
    try:
        for folder in sorted(folders):
            (bag_dir / folder).mkdir(parents=True, exist_ok=True)
        for path, content in members.items():
            target = bag_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        for url, size, path in fetch:
            _fetch_verified(storage, url, size, manifest[path], bag_dir / path, path)
    except BaseException:
        shutil.rmtree(bag_dir, ignore_errors=True)
        raise
    return bag_dir


def _download(storage: Storage, bucket: str, key: str, version_id: str | None) -> bytes:
    try:
        return storage.read(bucket, key, version_id)
    except S3Error as exc:
        raise _s3_error(exc, bucket, key, version_id) from exc


def _fetch_verified(
    storage: Storage, url: str, size: int | None, sha256: str, target: Path, path: str
) -> None:
    bucket, key, version_id = parse_s3_url(url)
    digest = hashlib.sha256()
    written = 0
    try:
        response = storage.client.get_object(bucket, key, version_id=version_id)
    except S3Error as exc:
        raise _s3_error(exc, bucket, key, version_id) from exc
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            for chunk in response.stream(CHUNK):
                digest.update(chunk)
                written += len(chunk)
                out.write(chunk)
    finally:
        response.close()
        response.release_conn()
    if size is not None and written != size:
        raise PackageError("size-mismatch", f"{path}: fetch.txt says {size} bytes, got {written}")
    if digest.hexdigest() != sha256:
        raise PackageError(
            "checksum-mismatch",
            f"{path}: manifest SHA-256 {sha256}, downloaded {digest.hexdigest()} from {url}",
        )


def _s3_error(exc: S3Error, bucket: str, key: str, version_id: str | None) -> PackageError:
    where = f"{bucket}/{key}" + (f" version {version_id}" if version_id else "")
    if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchBucket"):
        return PackageError("object-missing", f"{where} does not exist")
    return PackageError("storage-error", f"{where}: {exc.code}: {exc.message}")


def _unpack(tar_bytes: bytes, root: str) -> tuple[dict[str, bytes], set[str]]:
    """The package's tag files (path in the bag → bytes) and folders; nothing else is allowed."""
    members: dict[str, bytes] = {}
    folders: set[str] = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for member in tar:
                if member.name.rstrip("/") == root and member.isdir():
                    continue
                path = member.name.removeprefix(f"{root}/").rstrip("/")
                try:
                    check_relative(path)
                except ValueError as exc:
                    raise PackageError("bad-package", f"unsafe member {member.name!r}") from exc
                if not member.name.startswith(f"{root}/") or not (
                    member.isdir() or member.isfile()
                ):
                    raise PackageError("bad-package", f"unexpected member {member.name!r}")
                if member.isdir():
                    folders.add(path)
                else:
                    extracted = tar.extractfile(member)
                    assert extracted is not None, "regular files can be read"
                    members[path] = extracted.read()
    except tarfile.TarError as exc:
        raise PackageError("bad-package", f"the package is not a readable tar: {exc}") from exc
    for required in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        if required not in members:
            raise PackageError("bad-package", f"the package has no {required}")
    return members, folders


def _verify_tag_files(members: dict[str, bytes]) -> None:
    listed = _manifest(members, "tagmanifest-sha256.txt")
    for path, expected in listed.items():
        if path not in members:
            raise PackageError("bad-package", f"tag manifest lists {path}, not in the package")
        actual = hashlib.sha256(members[path]).hexdigest()
        if actual != expected:
            raise PackageError("checksum-mismatch", f"tag file {path}: {actual} != {expected}")


def _manifest(members: dict[str, bytes], name: str) -> dict[str, str]:
    entries = {}
    for line in _lines(members, name):
        digest, _, path = line.partition(" ")
        entries[path.strip().lstrip("*")] = digest.lower()
    return entries


def _fetch_entries(members: dict[str, bytes]) -> list[tuple[str, int | None, str]]:
    entries = []
    for line in _lines(members, "fetch.txt"):
        try:
            url, size, path = line.split(None, 2)
            check_relative(path)
            length = None if size == "-" else int(size)
        except ValueError as exc:
            raise PackageError("bad-package", f"bad fetch.txt line {line!r}") from exc
        if not path.startswith("data/"):
            raise PackageError("bad-package", f"fetch.txt entry outside data/: {path!r}")
        entries.append((url, length, path))
    return entries


def _tags(members: dict[str, bytes], name: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for line in _lines(members, name):
        label, _, value = line.partition(":")
        tags.setdefault(label.strip(), value.strip())
    return tags


def _lines(members: dict[str, bytes], name: str) -> list[str]:
    try:
        text = members.get(name, b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageError("bad-package", f"{name} is not UTF-8") from exc
    return [line for line in text.splitlines() if line.strip()]
