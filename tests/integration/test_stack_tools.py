"""The stack's install steps against the real Kafka tools it installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from recordflow.localstack.kafka import Kafka, kafka_server_properties
from recordflow.settings import Settings


def test_storage_format_takes_a_cluster_id_that_begins_with_a_dash(
    stack_settings: Settings, tmp_path: Path
) -> None:
    # One random id in 64 begins with "-"; Kafka's argument parser once read such an id as an
    # option and the first start of the stack failed.
    kafka = Kafka(stack_settings)
    properties = tmp_path / "server.properties"
    properties.write_text(kafka_server_properties(29092, 29093, tmp_path / "data"))
    cluster_id = "-Xa_cl7hQBGaOgrCyIRr8w"

    done = subprocess.run(
        kafka.format_command(cluster_id, properties), capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}" in meta
