"""All of recordflow's settings in one place, read from RECORDFLOW_* environment variables.

Build a `Settings` at an entry point (the CLI, a test fixture) and pass it down; nothing reads
the environment on its own. Defaults describe the local stack on 127.0.0.1; production points the
same names at a real Kafka cluster, schema registry and MinIO.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import ssl
import uuid
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDFLOW_", extra="ignore")

    # Where the local stack keeps its downloads, data and logs (git-ignored).
    home: Path = Path(".recordflow")
    # Set for the secure and replicated profiles: the plain stack's home, whose installs (so a
    # profile installs nothing the plain one has not) and schema registry they share.
    stack_shared_home: Path | None = None
    # The local stack's profile: "plain" (no authentication; what most tests share) or "secure"
    # (SASL/SCRAM and ACLs on Kafka, IAM accounts and bucket policies on S3; recordflow/localstack/secure.py
    # builds its Settings, `recordflow stack up --secure` runs it).
    # "replicated": three Kafka brokers (recordflow/localstack/replicated.py, `stack up --brokers 3`).
    stack_profile: Literal["plain", "secure", "replicated"] = "plain"

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # TLS to Kafka (kafka_security_protocol SSL or SASL_SSL). The CA certificates (PEM) that sign
    # the brokers' certificates, when they are not among the system's (a city's own CA,
    # Strimzi's cluster CA); unset: the system's. A client certificate and its unencrypted key
    # (PEM), for brokers that authenticate clients by certificate (mTLS: Strimzi's KafkaUsers
    # with `authentication: tls`, their Secret's user.crt and user.key); the certificate's
    # subject is then the principal ACLs grant to. Every client reads the same three files: the
    # confluent-kafka ones through kafka_config(), the workers' (faust, aiokafka) through
    # kafka_ssl_context().
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None
    # How long a reader (`records`, `review`, `deadletters`) goes on without any answer from Kafka
    # (no message, no end of a partition, no metadata) before it gives up with one line saying
    # so. Reading a long topic takes as long as it takes; it is the silence that is bounded.
    read_deadline_s: float = Field(default=30.0, gt=0)

    # Confluent-compatible schema registry (Apicurio's ccompat API locally). Empty: the local
    # stack's, on schema_registry_port.
    schema_registry_url: str = ""

    # S3 (versitygw locally, MinIO in production). Empty: the local stack's, on s3_port.
    s3_endpoint: str = ""
    s3_access_key: str = "recordflow"
    s3_secret_key: SecretStr = SecretStr("recordflow-local-secret")
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    # Names. Tests set the prefixes so that each test has its own topics and buckets.
    topic_prefix: str = ""
    bucket_prefix: str = ""
    app_id: str = "recordflow"

    # Who signs in as what: the Kafka users and S3 access key ids that ACLs and bucket policies
    # grant to (recordflow/principals.py). A cluster whose SCRAM or mTLS users are named
    # otherwise sets these; the local stack's secure profile creates users with these names.
    principal_pipeline: str = "pipeline"
    principal_subscriber: str = "subscriber"
    principal_archivist: str = "archivist"
    # The HTTP gateway for agency systems in any language: it submits on their behalf and
    # reads their receipts.
    principal_gateway: str = "gateway"
    # The lookup service, the portal's internet-facing read API: it reads the catalog and the
    # access decisions, writes the audit trail and signs download links of archived versions.
    principal_lookup: str = "lookup"
    principal_agency_prefix: str = "agency-"

    # Observability
    metrics_port: int = 19464
    # The address a worker's /metrics listens on. 127.0.0.1 suits the local stack, whose
    # Prometheus runs on the same machine; in a container set RECORDFLOW_METRICS_HOST=0.0.0.0
    # (all interfaces) so that the cluster's Prometheus can scrape it.
    metrics_host: str = "127.0.0.1"
    prometheus_port: int = 19090

    # Local stack ports (the defaults avoid the usual 9092/8081/9000/9090).
    kafka_controller_port: int = 19093
    schema_registry_port: int = 18081
    s3_port: int = 17070
    # The secure profile's own servers, beside the plain ones (it shares the schema registry).
    secure_kafka_port: int = 19192
    secure_kafka_controller_port: int = 19193
    secure_s3_port: int = 17170
    # The replicated profile's three brokers: client ports from the first, controller ports
    # from the second, one each (it shares the plain stack's schema registry and S3).
    replicated_kafka_port: int = 19292
    replicated_kafka_controller_port: int = 19392

    # Data
    agencies_file: Path = PACKAGE_DIR / "agencies.yaml"
    retention_dir: Path = PACKAGE_DIR / "retention"
    # Metadata rules: required elements, lengths, value domains … (intake, SDK and DA/T 70 check).
    metadata_rules_file: Path = PACKAGE_DIR / "metadata_rules.yaml"
    # The format registry (PRONOM ids, media types, what each format is kept as) and the DA/T 70
    # check items with their thresholds.
    formats_file: Path = PACKAGE_DIR / "formats.yaml"
    checks_file: Path = PACKAGE_DIR / "checks.yaml"
    # Linking digitized paper to its catalogue (目录挂接): column names, file-name rules, the DA/T 31
    # thresholds (archival/digitization/).
    digitization_file: Path = PACKAGE_DIR / "digitization.yaml"
    # How offline transfer packages' element names map to our metadata (archival/packages/).
    package_mappings_file: Path = PACKAGE_DIR / "package_mappings.yaml"
    # The font the receiving register's PDF embeds (`recordflow report transfer --pdf`): a
    # TrueType font or collection (face `report_font_index`) with Chinese glyphs; reportlab cannot
    # embed CFF outlines such as Noto CJK's. By default Debian's fonts-wqy-zenhei.
    report_font_file: Path = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    report_font_index: int = Field(default=0, ge=0)
    max_file_bytes: int = 512 * 1024 * 1024
    # A record whose retention period ends before this many days after its receipt (a late
    # transfer, the digitized backlog) is archived under an object lock of at least this long and
    # queued for appraisal (到期鉴定, `recordflow review list --appraisal`): S3 refuses a lock date in
    # the past, and nothing may leave the archive before archive staff have appraised it.
    appraisal_hold_days: int = Field(default=365, ge=1)
    # Fault injection for the exactly-once test (tests/integration/test_exactly_once.py): the
    # worker exits at once after publishing a record and before marking its event published, as
    # a SIGKILL at the worst moment would. Never set it in production.
    fault_exit_after_publish: bool = False
    # ClamAV's clamd for the virus check, e.g. tcp://127.0.0.1:3310 or unix:///run/clamav/clamd.ctl.
    # Unset, the check reports "not checked" (never "pass").
    clamd_address: str | None = None

    # The producer's outbox (`recordflow submit`, `recordflow outbox`): a SQLite database and a
    # spool of file copies holding each submission until S3 and Kafka have confirmed it. Unset:
    # <home>/outbox. Keep it on a disk that survives a restart of the producing machine.
    outbox_dir: Path | None = None
    # Where agencies drop offline transfer packages for `recordflow import packages --watch`: one
    # folder per agency below it (RECORDFLOW_DROP_DIR). Unset: <home>/drop.
    drop_dir: Path | None = None
    # How long `recordflow submit` (and each `outbox flush`) keeps retrying while Kafka or S3 is
    # unreachable before it leaves the submission held in the outbox.
    submit_deadline_s: float = 60.0

    # The HTTP gateway (`recordflow gateway`, connectors/gateway/): where it listens, how large a
    # one-step submission (POST /v1/submissions, every part together) may be (larger files go
    # through the two-step upload, each file up to max_file_bytes), how many requests an agency
    # may make per second on each replica (a token bucket: `gateway_rate_burst` at once), and the
    # Retry-After it sends while Kafka or S3 is unreachable.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 18090
    gateway_max_submission_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    gateway_rate_per_s: float = Field(default=20.0, gt=0)
    gateway_rate_burst: int = Field(default=40, ge=1)
    gateway_retry_after_s: int = Field(default=10, ge=1)
    # How long the gateway waits for Kafka's confirmation of an event before it answers 503.
    gateway_kafka_timeout_s: float = Field(default=15.0, gt=0)

    # The archive staff's web console (`recordflow console`, connectors/console/): where it
    # listens; the key that signs its session cookies (every replica behind one address must
    # share it; unset, each console keeps one of its own in its data folder, so sessions survive
    # its restarts); its data folder (the SQLite store it rebuilds from the topics, and that key;
    # unset: <home>/console); how long a session lasts without a request and at most; and how
    # many failed sign-ins lock an account, or a client address, for how long.
    console_host: str = "127.0.0.1"
    console_port: int = 18095
    console_secret_key: SecretStr | None = None
    console_data_dir: Path | None = None
    console_session_idle_minutes: int = Field(default=30, ge=1)
    console_session_max_hours: int = Field(default=12, ge=1)
    console_login_max_failures: int = Field(default=5, ge=1)
    # An office behind one NAT address shares it: a higher bar than one account's.
    console_login_max_failures_per_address: int = Field(default=20, ge=1)
    console_login_lock_minutes: int = Field(default=15, ge=1)
    # The time zone pages show times in and the audit log's days are counted in.
    console_timezone: str = "Asia/Shanghai"
    # The Prometheus that scrapes the workers, which the overview asks for their state and
    # backlog. Empty: the local stack's, on prometheus_port.
    prometheus_url: str = ""

    # The lookup service (`recordflow lookup`, connectors/lookup/): where it listens; its data
    # folder (the SQLite store it rebuilds from the catalog; unset: <home>/lookup); how long a
    # presigned download link of an open record's file lasts; and the rules that say when a
    # record opens to the public (开放, archival/access.py).
    lookup_host: str = "127.0.0.1"
    lookup_port: int = 18096
    lookup_data_dir: Path | None = None
    lookup_download_expiry_s: int = Field(default=300, ge=10, le=3600)
    # The S3 address the portal's users reach, which download links name, e.g.
    # https://files.archives.example.gov.cn (scheme and host, a port if not the scheme's own; no
    # path). A link's host is part of its SigV4 signature, so a proxy cannot rewrite an internal
    # one. Empty: s3_endpoint (and s3_secure), the address the service itself reaches S3 at.
    lookup_download_endpoint: str = ""
    # Bearer tokens (JWT, HS256) say who calls: staff tokens are signed with the staff key, which
    # only the archive holds (`recordflow lookup token`); the portal signs its citizens' tokens
    # with the portal key it shares with the archive. Unset: nobody but the public is served.
    lookup_staff_token_key: SecretStr | None = None
    lookup_portal_token_key: SecretStr | None = None
    access_rules_file: Path = PACKAGE_DIR / "access.yaml"
    # The key of the keyed hash (HMAC-SHA256) the archive keeps of each identity number a record
    # names (archival/persons.py): the register stage hashes with it, the lookup service finds a
    # citizen's records with it. Every worker and lookup replica needs the same key, from a
    # Secret; unset, `person_key()` keeps one in <home>/secrets (a single machine's stack).
    person_id_key: SecretStr | None = None

    # Worker: how many records one worker's register stage works on at once. Most of a record's
    # time is waiting on S3 and the broker; numbering still goes in arrival order (streams/window.py).
    register_concurrency: int = Field(default=16, ge=1, le=256)

    @model_validator(mode="after")
    def _local_stack_addresses(self) -> Settings:
        """Clients follow the local stack's ports unless an address is given outright."""
        if not self.schema_registry_url:
            self.schema_registry_url = (
                f"http://127.0.0.1:{self.schema_registry_port}/apis/ccompat/v7"
            )
        if not self.s3_endpoint:
            self.s3_endpoint = f"127.0.0.1:{self.s3_port}"
        if not self.prometheus_url:
            self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"
        return self

    @field_validator("lookup_download_endpoint")
    @classmethod
    def _download_endpoint(cls, value: str) -> str:
        if value:
            public_s3_address(value)  # ValueError, saying what is wrong
        return value

    @model_validator(mode="after")
    def _kafka_tls_files(self) -> Settings:
        """The TLS files make sense together and with a TLS protocol, and exist: a worker or
        gateway with a mistyped path stops at its start with this line, not at its first
        connection with librdkafka's or OpenSSL's."""
        files = {
            "kafka_ssl_ca_file": self.kafka_ssl_ca_file,
            "kafka_ssl_cert_file": self.kafka_ssl_cert_file,
            "kafka_ssl_key_file": self.kafka_ssl_key_file,
        }
        given = [name for name, path in files.items() if path is not None]
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError(
                "kafka_ssl_cert_file and kafka_ssl_key_file go together (a client certificate "
                f"and its key): only {given[-1]} is set"
            )
        if given and not self.kafka_tls:
            raise ValueError(
                f"{', '.join(given)} set, but kafka_security_protocol is "
                f"{self.kafka_security_protocol}: TLS files need SSL or SASL_SSL"
            )
        for name in given:
            path = files[name]
            if path is not None and not path.is_file():
                raise ValueError(f"{name} {path}: no such file")
        return self

    # --- derived names -------------------------------------------------------------------
    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def ingest_topic(self, agency_code: str) -> str:
        return self.topic(f"ingest.{agency_code}.lifecycle.v1")

    def receipts_topic(self, agency_code: str) -> str:
        """Every outcome of one agency's submissions (归档回执), keyed by its document id."""
        return self.topic(f"receipts.{agency_code}.v1")

    def ingest_agency(self, topic: str) -> str | None:
        """The agency code of an ingest topic (ingest_topic's inverse), or None for any other."""
        return ingest_agency_code(topic, self.topic_prefix)

    @property
    def archival_ready_topic(self) -> str:
        return self.topic("records.archival-ready.v1")

    @property
    def catalog_topic(self) -> str:
        return self.topic("records.catalog.v1")

    @property
    def deadletter_topic(self) -> str:
        return self.topic("records.deadletter.v1")

    @property
    def review_topic(self) -> str:
        """Records no retention rule decides, waiting for archive staff (`recordflow review`)."""
        return self.topic("records.retention-review.v1")

    @property
    def preservation_alert_topic(self) -> str:
        """Records that no longer match what the archive holds (`recordflow verify`)."""
        return self.topic("records.preservation-alert.v1")

    @property
    def verify_runs_topic(self) -> str:
        """A summary of every `recordflow verify` run, clean or not (connectors/verify.py)."""
        return self.topic("records.verify-runs.v1")

    @property
    def register_topic(self) -> str:
        """Internal: intake's accepted events, re-keyed by archival series for numbering."""
        return self.topic("recordflow.register.v1")

    @property
    def replay_ledger_topic(self) -> str:
        """Internal: which dead letters were replayed, by whom (connectors/deadletters.py)."""
        return self.topic("recordflow.deadletter-replays.v1")

    @property
    def access_decisions_topic(self) -> str:
        """开放鉴定: archivists' access decisions by 档号 (connectors/access_decisions.py)."""
        return self.topic("records.access-decisions.v1")

    @property
    def agencies_topic(self) -> str:
        """Internal: agencies onboarded or offboarded since installation (connectors/agency_registry.py)."""
        return self.topic("recordflow.agencies.v1")

    @property
    def gateway_credentials_topic(self) -> str:
        """Internal: the gateway's bearer tokens, hashed (connectors/gateway/credentials.py)."""
        return self.topic("recordflow.gateway-credentials.v1")

    @property
    def audit_topic(self) -> str:
        """Every staff action on the console and use of records through the lookup service,
        append-only (connectors/audit.py)."""
        return self.topic("recordflow.audit.v1")

    @property
    def console_users_topic(self) -> str:
        """Internal: the console's accounts, passwords argon2-hashed (connectors/console/users.py)."""
        return self.topic("recordflow.console-users.v1")

    @property
    def lifecycle_history_changelog_topic(self) -> str:
        return self.topic("recordflow.lifecycle-history.changelog")

    @property
    def item_numbers_changelog_topic(self) -> str:
        return self.topic("recordflow.item-numbers.changelog")

    @property
    def outbox_path(self) -> Path:
        """The outbox folder: `outbox_dir`, or `<home>/outbox`."""
        return self.outbox_dir if self.outbox_dir is not None else self.home / "outbox"

    @property
    def drop_path(self) -> Path:
        """The drop folder: `drop_dir`, or `<home>/drop`."""
        return self.drop_dir if self.drop_dir is not None else self.home / "drop"

    @property
    def console_path(self) -> Path:
        """The console's data folder: `console_data_dir`, or `<home>/console`."""
        return self.console_data_dir if self.console_data_dir is not None else self.home / "console"

    def person_key(self) -> bytes:
        """`person_id_key`, or the key kept in <home>/secrets/person-id.key (made on first use,
        readable by this user only)."""
        if self.person_id_key is not None:
            return self.person_id_key.get_secret_value().encode()
        path = self.home / "secrets" / "person-id.key"
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Written whole under another name, then linked: a process racing this one reads
            # either no file or the whole key, and the first link wins.
            draft = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        return path.read_text().strip().encode()

    @property
    def lookup_path(self) -> Path:
        """The lookup service's data folder: `lookup_data_dir`, or `<home>/lookup`."""
        return self.lookup_data_dir if self.lookup_data_dir is not None else self.home / "lookup"

    @property
    def staging_bucket(self) -> str:
        return f"{self.bucket_prefix}staging"

    @property
    def archive_bucket(self) -> str:
        return f"{self.bucket_prefix}archive"

    @property
    def exports_bucket(self) -> str:
        """Derived data for analysis: the catalog as Parquet (`recordflow export parquet`)."""
        return f"{self.bucket_prefix}exports"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.app_id}"

    @property
    def reader_group_prefix(self) -> str:
        """Readers that assign partitions and never commit still need a group id (librdkafka
        asks its coordinator); theirs share this prefix, so that one ACL covers them."""
        return self.topic("readers.")

    def reader_group(self, purpose: str) -> str:
        """A fresh group id for one reader: `<prefix>readers.<purpose>-<random>`."""
        return f"{self.reader_group_prefix}{purpose}-{uuid.uuid4().hex}"

    # --- client configuration ------------------------------------------------------------
    @property
    def kafka_tls(self) -> bool:
        """Whether clients speak TLS to Kafka (SSL or SASL_SSL; librdkafka takes either case)."""
        return self.kafka_security_protocol.upper() in ("SSL", "SASL_SSL")

    def kafka_config(self) -> dict[str, str]:
        """librdkafka's dotted keys for confluent-kafka clients."""
        config = {
            "bootstrap.servers": self.kafka_bootstrap,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
            config["sasl.username"] = self.kafka_sasl_username or ""
            config["sasl.password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
            )
        if self.kafka_tls:
            if self.kafka_ssl_ca_file is not None:
                config["ssl.ca.location"] = str(self.kafka_ssl_ca_file)
            if self.kafka_ssl_cert_file is not None and self.kafka_ssl_key_file is not None:
                config["ssl.certificate.location"] = str(self.kafka_ssl_cert_file)
                config["ssl.key.location"] = str(self.kafka_ssl_key_file)
        return config

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """The workers' TLS to Kafka (faust hands it to aiokafka), from the same files as
        kafka_config(): the brokers verified against kafka_ssl_ca_file (else the system's CAs),
        their host names checked, and the client certificate presented when one is set. None
        without TLS."""
        if not self.kafka_tls:
            return None
        cafile = str(self.kafka_ssl_ca_file) if self.kafka_ssl_ca_file is not None else None
        context = ssl.create_default_context(cafile=cafile)
        if self.kafka_ssl_cert_file is not None and self.kafka_ssl_key_file is not None:
            context.load_cert_chain(self.kafka_ssl_cert_file, self.kafka_ssl_key_file)
        return context

    def producer_config(self) -> dict[str, str | int | bool]:
        return {
            **self.kafka_config(),
            "enable.idempotence": True,
            "acks": "all",
            # The Java client's partitioner, which aiokafka (the workers) uses too: the same key
            # lands in the same partition whichever client wrote it.
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "compression.type": "zstd",
        }


def public_s3_address(url: str) -> tuple[str, bool]:
    """`http(s)://host[:port]` as minio's endpoint (`host[:port]`) and whether it is https;
    ValueError for anything else (another scheme, a path, a query, credentials in it)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for one that is not a number from 0 to 65535
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ValueError(f"{url!r}: expected http(s)://host[:port]")
    if parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{url!r}: only a scheme, a host and a port (S3's own paths follow it)")
    return parts.netloc, parts.scheme == "https"


INGEST_TOPIC = re.compile(r"ingest\.([a-z0-9-]+)\.lifecycle\.v1")


def ingest_agency_code(topic: str, topic_prefix: str = "") -> str | None:
    """The agency code in `<prefix>ingest.<code>.lifecycle.v1`, or None for any other topic."""
    match = (
        INGEST_TOPIC.fullmatch(topic.removeprefix(topic_prefix))
        if topic.startswith(topic_prefix)
        else None
    )
    return match.group(1) if match else None
