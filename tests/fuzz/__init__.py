"""Coverage-guided fuzzing (atheris, libFuzzer) of the decoder and metadata validation: the harness
in decode_validate.py, its committed seed corpus in corpus/decode_validate/, and test_fuzz.py, which
runs it for a bounded time under `make test` and fails on any crash."""
