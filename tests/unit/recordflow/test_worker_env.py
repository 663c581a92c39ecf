"""Worker processes of the demo, bench and tests (recordflow/localstack/workers.py) get every setting of their
parent by environment — not a chosen few — and are the only workers announced to the local
stack's Prometheus. No process is started: the child's environment and command are built and
read back the way the child's `Settings()` reads them."""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import SecretStr

from recordflow.localstack.prometheus import prometheus_targets_dir
from recordflow.localstack.workers import WorkerProcess, settings_environment
from recordflow.settings import Settings


def _other_value(name: str, annotation: Any, default: Any, tmp_path: Path) -> Any:
    """A value of the field's type that is not its default, so that a field the child does not
    get shows as a difference."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]  # `T | None`: a T
    if typing.get_origin(annotation) is Literal:
        return next(option for option in typing.get_args(annotation) if option != default)
    if annotation is bool:
        return not default
    if annotation is int:
        return default + 1
    if annotation is float:
        return default + 0.5
    if name == "kafka_security_protocol":
        return "SASL_SSL"  # not the default, and one the TLS files below go with
    if name == "lookup_download_endpoint":
        return "https://files.archives.example"  # Settings checks it is an address
    if annotation is str:
        return f"{name}-of-the-parent"
    if annotation is SecretStr:
        return SecretStr(f"{name}-secret")
    if annotation is Path:
        path = tmp_path / name
        if name.startswith("kafka_ssl_"):
            path.write_text("")  # Settings checks that the TLS files exist
        return path
    pytest.fail(f"no test value for Settings.{name}: {annotation}; teach _other_value its type")


@pytest.fixture
def parent(tmp_path: Path) -> Settings:
    """Settings with every field away from its default."""
    fields = Settings.model_fields
    return Settings(**{
        name: _other_value(name, field.annotation, field.default, tmp_path)
        for name, field in fields.items()
    })  # fmt: skip


def test_the_parent_differs_from_the_defaults_in_every_field(parent: Settings) -> None:
    defaults = Settings()
    assert [
        name for name in Settings.model_fields if getattr(parent, name) == getattr(defaults, name)
    ] == []


def test_every_setting_reaches_the_child_s_environment(parent: Settings) -> None:
    env = WorkerProcess(parent, name="w").environment()
    for name in Settings.model_fields:
        assert f"RECORDFLOW_{name.upper()}" in env, name
    assert env["RECORDFLOW_S3_SECRET_KEY"] == "s3_secret_key-secret"  # unwrapped
    assert env["RECORDFLOW_KAFKA_SASL_PASSWORD"] == "kafka_sasl_password-secret"


def test_the_child_reads_back_the_parent_s_settings(
    parent: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = WorkerProcess(parent, name="w").environment()
    monkeypatch.setattr(os, "environ", env)  # the child's os.environ
    child = Settings()
    assert child.model_dump() == parent.model_dump()
    assert child == parent  # SecretStr compares its secret


def test_relative_paths_are_resolved_for_the_child(tmp_path: Path) -> None:
    env = settings_environment(Settings(home=Path(".recordflow")))
    assert env["RECORDFLOW_HOME"] == str(Path(".recordflow").resolve())
    assert Path(env["RECORDFLOW_AGENCIES_FILE"]).is_absolute()


def test_an_unset_setting_is_left_out_and_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    # The parent's environment says one thing, the Settings it hands on another: the Settings win.
    monkeypatch.setenv("RECORDFLOW_CLAMD_ADDRESS", "tcp://127.0.0.1:3310")
    monkeypatch.setenv("recordflow_topic_prefix", "from-the-environment.")
    monkeypatch.setenv("RECORDFLOW_NOT_A_SETTING", "kept")
    settings = Settings(clamd_address=None, topic_prefix="t1.")
    env = WorkerProcess(settings, name="w").environment()
    assert "RECORDFLOW_CLAMD_ADDRESS" not in env
    assert "recordflow_topic_prefix" not in env and env["RECORDFLOW_TOPIC_PREFIX"] == "t1."
    assert env["RECORDFLOW_NOT_A_SETTING"] == "kept"
    assert env["PATH"] == os.environ["PATH"]


def test_no_setting_is_on_the_command_line(parent: Settings) -> None:
    command = " ".join(WorkerProcess(parent, name="w").command())
    assert "secret" not in command
    assert parent.kafka_bootstrap not in command


def test_the_local_stack_s_workers_are_announced_to_its_prometheus(parent: Settings) -> None:
    command = WorkerProcess(parent, name="w").command()
    at = command.index("--prometheus-targets")
    assert command[at + 1] == str(prometheus_targets_dir(parent))
