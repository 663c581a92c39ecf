"""A 批复 that names the 请示 it answers by the agency's document id takes the period of that 请示
once the 请示 is in the archive (issue 12): the register stage notes each record's 档号 under its
document id in the archive bucket, and intake reads it when it classifies a reply."""

from __future__ import annotations

import os
from pathlib import Path

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import Storage
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata

TIMEOUT_S = 120.0
REQUEST = "BGT-REQ-0029"


def reply(document_id: str, answers: str) -> dict[str, object]:
    """A 批复 of 市人民政府 to 市人民政府办公厅, answering `answers` by its document id."""
    return notice_metadata(
        document_id,
        title="关于同意调整办公用房维修经费的批复",
        document_type="批复",
        responsible_party="市人民政府",
        issuer_relation="higher",
        document_number=f"市政复〔2026〕{document_id[-2:]}号",
        relations=[{"related_id": answers, "relation_type": "responds-to"}],
    )


def submit(settings: Settings, tmp_path: Path, documents: dict[str, dict[str, object]]) -> None:
    submitter = Submitter(settings)
    ids = set()
    for document_id, metadata in documents.items():
        path = tmp_path / f"{document_id}.pdf"
        path.write_bytes(b"%PDF-1.4 " + os.urandom(1024))
        ids.add(submitter.submit("bgt", [FileToSubmit(path)], metadata).event_id)
    submitter.close()
    codec = Codec.from_url(settings.schema_registry_url)
    outcomes = watch_outcomes(settings, codec, ids, timeout_s=TIMEOUT_S)
    assert {o.status for o in outcomes.values()} == {"archived"}, outcomes


def test_a_reply_takes_the_period_of_the_archived_request_it_names_by_document_id(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    request = notice_metadata(
        REQUEST, title="关于申请重大项目前期工作经费的请示", document_type="请示"
    )
    submit(pipeline_settings, tmp_path, {REQUEST: request})
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    (archived,) = catalog(pipeline_settings, codec).values()
    assert (
        Storage(pipeline_settings).reference_code_of("bgt", REQUEST) == archived["reference_code"]
    )

    submit(pipeline_settings, tmp_path, {
        "BGT-REP-0031": reply("BGT-REP-0031", answers=REQUEST),
        "BGT-REP-0032": reply("BGT-REP-0032", answers="BGT-REQ-0404"),  # no such request archived
    })  # fmt: skip
    records = {r["document_id"]: r for r in catalog(pipeline_settings, codec).values()}
    answered, unanswered = records["BGT-REP-0031"], records["BGT-REP-0032"]
    assert answered["retention_rule_id"].endswith("/reply-follows-request")
    assert answered["retention_period"] == archived["retention_period"]
    # The same reply without an archived request is decided by the reply's own rules, and
    # those give another period: the relation is what made the difference.
    assert not unanswered["retention_rule_id"].endswith("/reply-follows-request")
    assert unanswered["retention_period"] != archived["retention_period"]
