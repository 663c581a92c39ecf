"""`recordflow demo`: the main job, end to end, on the local stack.

Brings the stack up, applies the topic catalog, registers the schemas, creates the buckets, starts
a worker, submits the bundled sample documents (good and deliberately bad) through the SDK, waits
for every one of them to be archived or dead-lettered, then onboards an agency and submits through
the HTTP gateway, reading the archival receipts back (recordflow/demo/gateway.py), imports a small
digitization batch of paper records under their legacy 档号 (recordflow/demo/digitized.py), and
prints what happened. Running it again submits the same
bytes, which the archive recognises: no record is duplicated.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from archival.packages.intake import PackageReport, RecordLine
from avro_schemas.codec import Codec
from connectors.readback import Outcome, watch_outcomes
from connectors.sdk import FileToSubmit, Receipt, Submitter, description_from_metadata, event_id_for
from recordflow.demo.digitized import (
    BATCH_ROWS,
    PACKAGE_RECORD,
    PHOTO_ROWS,
    demo_rows,
    import_batch,
    import_package_sample,
    import_photos,
)
from recordflow.demo.downstream import LookupShown, export, look_up
from recordflow.demo.gateway import HttpSubmission, submit_over_http
from recordflow.demo.samples import (
    FORGED,
    SAMPLES,
    TAMPERED,
    UNKNOWN_AGENCY,
    Sample,
    submission_metadata,
    write_files,
)
from recordflow.errors import SubmitError
from recordflow.localstack.setup import prepare
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings

OUTCOME_TIMEOUT_S = 180.0


@dataclass
class DemoRow:
    sample: Sample
    event_id: str
    via: str = "sdk"  # sdk | gateway (plain HTTP)
    outcome: Outcome | None = None


@dataclass
class Demo:
    """What the demo did: each submission and its outcome, what the lookup service finds of them,
    and the Parquet export of the catalog."""

    rows: list[DemoRow]
    lookup: LookupShown
    export: dict[str, Any]


def submit_sample(submitter: Submitter, sample: Sample, directory: Path) -> Receipt:
    """Submit one sample the way an agency system would, or, for a bad one, the way it goes wrong."""
    paths = write_files(sample, directory)
    files = [FileToSubmit(path) for path in paths]
    if sample.bad in (None, FORGED):  # a forged signature looks right to the agency's system
        return submitter.submit(
            sample.agency, files, submission_metadata(sample, paths), wait=False
        )
    agency = submitter.agency(sample.agency)
    upload_id = uuid.uuid4().hex
    components = submitter.stage(agency, upload_id, files)
    if sample.bad == TAMPERED:
        # The staged file changes after the agency hashed it: tampering or corruption in transit.
        # Same length, different bytes: only the digest can tell.
        path = files[0].path
        content = bytearray(path.read_bytes())
        content[-40:-20] = b"X" * 20
        path.write_bytes(content)
        with path.open("rb") as stream:
            submitter.storage.stage(
                components[0]["payload"]["key"], stream, len(content), "application/pdf"
            )
    if sample.bad == UNKNOWN_AGENCY:
        # A misconfigured system sends another (unregistered) agency's document on this topic.
        sha256s = [component["checksums"][0]["value"] for component in components]
        event = {
            "event_id": event_id_for(
                sample.claimed_agency["code"], sample.metadata["document_id"], "FILED", sha256s
            ),
            "action": "FILED",
            "event_time": dt.datetime.now(dt.UTC),
            "agency": sample.claimed_agency,
            "document_id": sample.metadata["document_id"],
            "upload_id": upload_id,
            "source_system": "OA",
            "actor": None,
            "description": description_from_metadata(sample.metadata),
            "components": components,
        }
        return submitter.produce_event(sample.agency, event)
    return submitter.publish(agency, sample.metadata, components, upload_id, validate=False)


def run_demo(settings: Settings, console: Console, *, keep_worker: bool = False) -> Demo:
    prepare(settings, console)
    worker = WorkerProcess(settings, name="demo")
    worker.start()
    try:
        worker.wait_ready(console)
        submitter = Submitter(settings)
        rows = []
        with (
            tempfile.TemporaryDirectory(prefix="recordflow-demo-") as tmp,
            console.status("提交样例文件 Submitting samples…"),
        ):
            for sample in SAMPLES:
                try:
                    receipt = submit_sample(submitter, sample, Path(tmp))
                    rows.append(DemoRow(sample, receipt.event_id))
                except SubmitError as exc:
                    console.print(f"[red]submit failed[/] {sample.metadata['document_id']}: {exc}")
            submitter.close()
        outcomes = watch_outcomes(
            settings, Codec.from_url(settings.schema_registry_url),
            {row.event_id for row in rows}, timeout_s=OUTCOME_TIMEOUT_S, console=console,
        )  # fmt: skip
        for row in rows:
            row.outcome = outcomes.get(row.event_id)
        with tempfile.TemporaryDirectory(prefix="recordflow-demo-http-") as tmp:
            rows += [gateway_row(http) for http in submit_over_http(settings, console, Path(tmp))]
        with tempfile.TemporaryDirectory(prefix="recordflow-demo-scans-") as tmp:
            imported = import_batch(settings, console, Path(tmp))
        console.print(
            f"挂接报告 Linking report: {imported.folder / 'report.html'}", highlight=False
        )
        rows += [DemoRow(sample, event_id, via="import", outcome=outcome)
                 for sample, event_id, outcome in demo_rows(imported, BATCH_ROWS)]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="recordflow-demo-photos-") as tmp:
            photos = import_photos(settings, console, Path(tmp))
        rows += [DemoRow(sample, event_id, via="photos", outcome=outcome)
                 for sample, event_id, outcome in demo_rows(photos, PHOTO_ROWS)]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="recordflow-demo-package-") as tmp:
            package = import_package_sample(settings, console, Path(tmp))
        rows += [package_row(package, line) for line in package.records]
        return Demo(rows, look_up(settings, console), export(settings, console))
    finally:
        if not keep_worker:
            worker.stop()


# The gateway's status words (connectors/gateway/status.py) as the demo's outcomes.
GATEWAY_STATUS = {"archived": "archived", "rejected": "rejected", "in-review": "review"}


def gateway_row(http: HttpSubmission) -> DemoRow:
    """A submission over HTTP, its outcome as its archival receipt tells it."""
    status, reason = http.status, http.status.get("reason") or {}
    retention = status.get("retention") or {}
    outcome = (
        Outcome(GATEWAY_STATUS[status["status"]], status.get("archival_code"),
                retention.get("period"), reason.get("code"), reason.get("text"))
        if status["status"] in GATEWAY_STATUS
        else None
    )  # fmt: skip
    return DemoRow(http.sample, http.event_id, via="gateway", outcome=outcome)


def package_row(package: PackageReport, line: RecordLine) -> DemoRow:
    """A record of the offline package, as the demo shows it."""
    status = "archived" if line.status == "already-archived" else line.status
    sample = Sample(package.agency, {**PACKAGE_RECORD, "document_id": line.document_id})
    outcome = Outcome(status, line.reference_code, None, line.reason, line.detail)
    return DemoRow(sample, line.event_id or "", via="package", outcome=outcome)


def demo_summary(rows: list[DemoRow]) -> list[dict[str, Any]]:
    """One JSON-ready line per submission."""
    summary = []
    for row in rows:
        outcome = row.outcome
        summary.append({
            "agency": row.sample.agency,
            "document_id": row.sample.metadata["document_id"],
            "title": row.sample.metadata["title"],
            "event_id": row.event_id,
            "via": row.via,
            "status": outcome.status if outcome else "pending",
            "reference_code": outcome.reference_code if outcome else None,
            "retention_period": outcome.retention_period if outcome else None,
            "reason": outcome.reason if outcome else None,
            "detail": outcome.detail if outcome else None,
            "expected_status": row.sample.expected_status,
            "expected_reason": row.sample.expected_reason,
        })  # fmt: skip
    return summary
