"""The console script's last boundary (recordflow/cli/__init__.py main): a failure no verb foresaw ends
the command with one line on stderr and exit status 1, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from minio.error import S3Error
from urllib3 import HTTPResponse

from recordflow import cli


@pytest.fixture
def failing_verb() -> Iterator[None]:
    @cli.app.command("explode")
    def explode() -> None:
        raise S3Error(HTTPResponse(status=403), "AccessDenied", "Access\n  Denied.", "/archive/x",
                      "req-1", "host-1")  # fmt: skip

    yield
    cli.app.registered_commands.pop()


def test_an_unforeseen_failure_is_one_line_even_a_frozen_exception(
    failing_verb: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # S3Error refuses new attributes: Typer's own entry point turned it into an AttributeError.
    monkeypatch.setattr(sys, "argv", ["recordflow", "explode"])
    monkeypatch.delenv("RECORDFLOW_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "error: S3Error: S3 operation failed; code: AccessDenied, message: Access Denied."
    )


def test_the_traceback_on_request(failing_verb: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["recordflow", "explode"])
    monkeypatch.setenv("RECORDFLOW_TRACEBACK", "1")
    with pytest.raises(S3Error):
        cli.main()


def test_usage_errors_stay_click_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["recordflow", "records", "show"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
