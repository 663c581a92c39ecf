"""The replicated profile (`recordflow stack up --brokers 3`): three Kafka nodes on loopback, each
a broker and a KRaft controller, beside the plain stack, whose schema registry and S3 server it
shares. It rehearses production's replicated cluster: every topic with three replicas and
min.insync.replicas=2, so one broker can stop without losing or stalling anything
(tests/chaos/test_replicated.py), and the bench measures throughput on it
(`recordflow bench --brokers 3`).

    <plain home>/brokers3/data/kafka-N/     node N's log
    <plain home>/brokers3/data/cluster-id   the cluster's id, shared by the nodes' formats
"""

from __future__ import annotations

from pathlib import Path

from recordflow.localstack.kafka import Kafka, new_cluster_id, replicated_kafka_properties
from recordflow.localstack.service import StackError
from recordflow.settings import Settings

BROKERS = 3
REPLICATED_HOME = "brokers3"


def replicated_settings(plain: Settings) -> Settings:
    """Settings for the replicated profile beside the plain stack `plain` describes: its three
    brokers as the bootstrap list (a client that loses one goes on with the others); names, the
    schema registry and S3 as in `plain`."""
    if plain.stack_profile != "plain":
        raise StackError("replicated_settings() takes the plain stack's Settings")
    return plain.model_copy(
        update={
            "home": plain.home.resolve() / REPLICATED_HOME,
            "stack_profile": "replicated",
            "stack_shared_home": plain.home.resolve(),
            "kafka_bootstrap": ",".join(
                f"127.0.0.1:{port}" for port in node_ports(plain.replicated_kafka_port)
            ),
        }
    )


def node_ports(first: int) -> list[int]:
    return [first + offset for offset in range(BROKERS)]


class KafkaNode(Kafka):
    """Node `node_id` (1, 2 or 3) of the replicated profile's cluster."""

    # The voters are listed in each node's properties: no node formats itself as the quorum.
    quorum_format_args = ()

    def __init__(self, settings: Settings, node_id: int) -> None:
        super().__init__(settings)
        self.node_id = node_id
        self.name = f"kafka-{node_id}"

    @property
    def port(self) -> int:
        return node_ports(self.settings.replicated_kafka_port)[self.node_id - 1]

    @property
    def controller_port(self) -> int:
        return node_ports(self.settings.replicated_kafka_controller_port)[self.node_id - 1]

    @property
    def properties_file(self) -> Path:
        return self.home / "config" / f"{self.name}.properties"

    def server_properties(self, admin_password: str | None) -> str:
        controllers = node_ports(self.settings.replicated_kafka_controller_port)
        return replicated_kafka_properties(self.node_id, self.port, controllers, self.data_dir)

    def cluster_id(self) -> str:
        """The id every node is formatted with: made by the first node to need it."""
        path = self.home / "data" / "cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()
