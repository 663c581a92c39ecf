"""The atheris harness: `python tests/fuzz/decode_validate.py [libFuzzer options] CORPUS…`.

Each input is the value of one ingest message. An exception other than the codec's and the
validators' own (with a known reason code) is a crash: libFuzzer stops and writes the input that
caused it. tests/fuzz/test_fuzz.py runs this for a bounded time over the committed seed corpus.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

with atheris.instrument_imports(include=["avro_schemas", "streams", "fastavro"]):
    from tests.fuzz.targets import decode_and_validate


def test_one_input(data: bytes) -> None:
    decode_and_validate(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
