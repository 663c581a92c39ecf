"""Running the `recordflow` console script as a user does, against a test's own pipeline."""

from __future__ import annotations

import os
import subprocess
import sys

from recordflow.settings import Settings

TIMEOUT_S = 600


def run_cli(
    settings: Settings, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`recordflow ARGS…` in a child process, seeing this test's Kafka, topics and buckets (and
    `env` on top of the environment), `stdin` as its standard input."""
    env = {
        **os.environ,
        "RECORDFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "RECORDFLOW_TOPIC_PREFIX": settings.topic_prefix,
        "RECORDFLOW_BUCKET_PREFIX": settings.bucket_prefix,
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "recordflow", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        input=stdin,
    )


def signed_in(settings: Settings) -> dict[str, str]:
    """The environment that signs the CLI in as `settings`' principal (a secure-profile
    Settings), as an operator's shell does in production."""
    assert settings.kafka_sasl_password is not None, "a secure-profile Settings"
    return {
        "RECORDFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "RECORDFLOW_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "RECORDFLOW_KAFKA_SASL_MECHANISM": str(settings.kafka_sasl_mechanism),
        "RECORDFLOW_KAFKA_SASL_USERNAME": str(settings.kafka_sasl_username),
        "RECORDFLOW_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password.get_secret_value(),
        "RECORDFLOW_S3_ENDPOINT": settings.s3_endpoint,
        "RECORDFLOW_S3_ACCESS_KEY": settings.s3_access_key,
        "RECORDFLOW_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
    }
