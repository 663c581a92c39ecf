"""Writes the seed corpus (corpus/decode_validate/): `python -m tests.fuzz.seeds`. The files are
committed; run this again when the event schema gets a version, and commit what changes."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

from tests.examples import lifecycle_event
from tests.fuzz.targets import LATEST_ID, decode_and_validate, encode

CORPUS = Path(__file__).resolve().parent / "corpus" / "decode_validate"
V2_ONLY = ("supplementary", "file_details", "history", "agents", "relations")


def seeds() -> dict[str, bytes]:
    event = lifecycle_event()
    event["agency"] = {"code": "bgt", "name": "市人民政府办公厅"}
    event["description"]["unit_code"] = "BGS"
    for component in event["components"]:
        component["payload"]["bucket"] = "staging"
        component["payload"]["key"] = f"bgt/upload-1/{component['sequence']:02d}.pdf"
    v1 = {key: value for key, value in copy.deepcopy(event).items() if key not in V2_ONLY}
    untitled = copy.deepcopy(event)
    untitled["description"]["title"] = ""
    unsafe = copy.deepcopy(event)
    unsafe["components"][0]["file_name"] = "../../etc/passwd"
    future = copy.deepcopy(event)
    future["description"]["document_date"] = dt.date(2030, 1, 1)
    valid = encode(event)
    return {
        "valid-v2": valid,
        "valid-v1": encode(v1, 1),
        "missing-title": encode(untitled),
        "unsafe-file-name": encode(unsafe),
        "future-date": encode(future),
        "truncated": valid[: len(valid) // 2],
        "trailing": valid + b"\x00",
        "header-only": valid[:5],
        "unknown-schema": b"\x00\x7f\xff\xff\xff" + valid[5:],
        "dead-letter-schema": b"\x00" + (LATEST_ID + 1).to_bytes(4, "big") + valid[5:],
        "broken-schema": b"\x00" + (LATEST_ID + 2).to_bytes(4, "big") + valid[5:],
        "json": b'{"event_id": "x", "action": "FILED"}',
        "empty": b"",
    }


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        digest = hashlib.sha1(data).hexdigest()[:12]
        (CORPUS / f"{name}-{digest}").write_bytes(data)
        print(f"{name}: {decode_and_validate(data)}")


if __name__ == "__main__":
    main()
