"""Appraisal (到期鉴定) by archive staff, on the real stack: a record whose retention period had
ended when it was received waits in `review list --appraisal`; `review appraise` extends the
object lock of every object of the record on the real versitygw before it writes the decision
and the record's new state in one transaction, or decides destroy and changes nothing in
storage; a second appraisal is refused with the first shown."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from minio.commonconfig import COMPLIANCE

from avro_schemas.codec import Codec
from avro_schemas.schemas import ARCHIVAL_RECORD, RETENTION_REVIEW
from connectors.readback import catalog, watch_outcomes
from connectors.review import Extension, lock_objects, record_objects
from connectors.sdk import FileToSubmit, Submitter
from connectors.storage import PERMANENT_UNTIL, Storage
from connectors.verify import LEGAL_HOLD_MISSING, RETENTION_WEAKENED, Verifier
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import TIMEOUT_S, run_cli
from tests.integration.review_fixtures import (
    committed,
    due_record,
    queue_appraisal,
    queue_retention_item,
    race,
)

# Short, so that the test's objects are not kept long unless an extension keeps them.
HOLD = dt.timedelta(days=2)
OUTCOME_TIMEOUT_S = 120.0


@pytest.fixture
def codec(pipeline_settings: Settings) -> Codec:
    return Codec.from_url(pipeline_settings.schema_registry_url)


@pytest.fixture
def storage(pipeline_settings: Settings) -> Storage:
    return Storage(pipeline_settings)


@pytest.fixture
def due(pipeline_settings: Settings, codec: Codec, storage: Storage) -> dict[str, Any]:
    """A D10 record of 2010, received now: its period ended on 2021-01-01; held two days."""
    record = due_record(pipeline_settings, storage, 2010, "D10", dt.date.today() + HOLD)
    item = queue_appraisal(pipeline_settings, codec, record)
    return {"record": record, "item": item}


def locks(
    storage: Storage, record: dict[str, Any]
) -> list[tuple[str | None, dt.date | None, bool]]:
    """Each object version's retention mode, retention date (UTC) and legal hold, as S3 says."""
    found = []
    for payload in record_objects(record):
        bucket, key, version = payload["bucket"], payload["key"], payload["version_id"]
        retention = storage.client.get_object_retention(bucket, key, version)
        held = storage.client.is_object_legal_hold_enabled(bucket, key, version)
        until = retention.retain_until_date if retention is not None else None
        found.append((retention.mode if retention is not None else None,
                      until.astimezone(dt.UTC).date() if until is not None else None, held))  # fmt: skip
    return found


def lock_problems(storage: Storage, record: dict[str, Any]) -> list[str]:
    """What `recordflow verify` finds wrong with the record's object locks."""
    return [problem.detail for problem in Verifier(storage).verify(record).problems
            if problem.code in (RETENTION_WEAKENED, LEGAL_HOLD_MISSING)]  # fmt: skip


def items(settings: Settings, codec: Codec, event_id: str) -> list[dict[str, Any]]:
    return [codec.decode(m.value(), RETENTION_REVIEW)
            for m in committed(settings, settings.review_topic) if m.key() == event_id.encode()]  # fmt: skip


def catalog_states(settings: Settings, codec: Codec, code: str) -> list[dict[str, Any]]:
    return [codec.decode(m.value(), ARCHIVAL_RECORD)
            for m in committed(settings, settings.catalog_topic) if m.key() == code.encode()]  # fmt: skip


def test_review_list_shows_due_records_and_disputed_proposals_apart(
    pipeline_settings: Settings, codec: Codec, due: dict[str, Any]
) -> None:
    settings, record = pipeline_settings, due["record"]
    disputed = queue_retention_item(settings, codec, "BDC-A-1", proposed_period="D10",
                                    schedule_period="D30", schedule_rule_id="bdc-schedule@2026.1/7")  # fmt: skip

    listed = run_cli(settings, "review", "list", "--appraisal", "--json")
    assert listed.returncode == 0, listed.stderr
    (item,) = json.loads(listed.stdout)
    assert (item["kind"], item["status"], item["reference_code"]) == (
        "APPRAISAL", "PENDING", record["reference_code"],
    )  # fmt: skip
    assert (item["retain_until"], item["lock_until"]) == (
        "2021-01-01",
        record["lock_until"].isoformat(),
    )
    assert "original_value" not in item

    table = run_cli(settings, "review", "list", "--appraisal")
    assert table.returncode == 0, table.stderr
    for shown in (record["reference_code"], "2021-01-01", record["lock_until"].isoformat(), "D10",
                  "PENDING", due["item"]["event_id"]):  # fmt: skip
        assert shown in table.stdout, shown

    retention = run_cli(settings, "review", "list", "--json")
    assert [i["event_id"] for i in json.loads(retention.stdout)] == [disputed["event_id"]]
    wrong = run_cli(settings, "review", "decide", due["item"]["event_id"], "--period", "D30",
                    "--by", "王档案")  # fmt: skip
    assert wrong.returncode == 1
    assert "waits for appraisal (到期鉴定); use `recordflow review appraise`" in wrong.stderr
    other = run_cli(settings, "review", "appraise", disputed["event_id"], "--outcome", "destroy",
                    "--by", "王档案")  # fmt: skip
    assert other.returncode == 1
    assert "waits for a retention decision; use `recordflow review decide`" in other.stderr
    plain = run_cli(settings, "review", "list")
    assert plain.returncode == 0, plain.stderr
    assert "D10 / D30 (bdc-schedule@2026.1/7)" in plain.stdout
    assert record["reference_code"] not in plain.stdout


def test_extend_to_d30_locks_every_object_first_then_records_it_in_one_transaction(
    pipeline_settings: Settings, codec: Codec, storage: Storage, due: dict[str, Any]
) -> None:
    settings, record, item = pipeline_settings, due["record"], due["item"]
    assert locks(storage, record) == [(COMPLIANCE, record["lock_until"], False)] * 2

    done = run_cli(settings, "review", "appraise", item["event_id"], "--outcome", "extend",
                   "--period", "D30", "--by", "王档案", "--note", "涉及产权，延长保管")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "extend to D30" in done.stdout and "2041-01-01" in done.stdout

    # 1 January after 2010, plus 30 years: on the real server, for the file and the package.
    assert locks(storage, record) == [(COMPLIANCE, dt.date(2041, 1, 1), False)] * 2
    extended = catalog(settings, codec)[record["reference_code"]]
    assert (extended["appraisal_status"], extended["retain_until"], extended["lock_until"]) == (
        "EXTENDED", dt.date(2041, 1, 1), dt.date(2041, 1, 1),
    )  # fmt: skip
    assert (extended["reference_code"], extended["retention_period"]) == (
        record["reference_code"], "D10",
    )  # fmt: skip
    assert lock_problems(storage, extended) == []
    step = extended["provenance"][-1]
    assert (step["type"], step["agent"]) == ("appraisal", "archive-staff:王档案")
    assert "涉及产权" in step["detail"]
    *_, decided = items(settings, codec, item["event_id"])
    assert (decided["status"], decided["appraisal_outcome"], decided["decided_period"],
            decided["decided_by"], decided["note"]) == (
        "DECIDED", "extend", "D30", "王档案", "涉及产权，延长保管",
    )  # fmt: skip
    # The record's update and the decision, each once: the catalog holds DUE, then EXTENDED.
    assert [r["appraisal_status"] for r in catalog_states(settings, codec, record["reference_code"])] == [
        "DUE", "EXTENDED",
    ]  # fmt: skip

    # Extending again changes nothing (and cannot shorten anything).
    assert (
        lock_objects(storage, record, Extension("D30", dt.date(2041, 1, 1), dt.date(2041, 1, 1)))
        == 0
    )

    again = run_cli(settings, "review", "appraise", item["event_id"], "--outcome", "destroy",
                    "--by", "李档案")  # fmt: skip
    assert again.returncode == 1
    (line,) = again.stderr.strip().splitlines()
    assert f"event {item['event_id']} was already decided: extend to D30 by 王档案 at " in line
    assert line.endswith("; note: 涉及产权，延长保管")
    assert len(catalog_states(settings, codec, record["reference_code"])) == 2


def test_extend_to_y_puts_a_legal_hold_and_permanent_retention(
    pipeline_settings: Settings, codec: Codec, storage: Storage, due: dict[str, Any]
) -> None:
    settings, record, item = pipeline_settings, due["record"], due["item"]
    done = run_cli(settings, "review", "appraise", item["event_id"], "--outcome", "extend",
                   "--period", "Y", "--by", "王档案", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["objects_locked"] == 2
    assert (result["record"]["retain_until"], result["record"]["lock_until"]) == (
        None, PERMANENT_UNTIL.date().isoformat(),
    )  # fmt: skip
    assert locks(storage, record) == [(COMPLIANCE, PERMANENT_UNTIL.date(), True)] * 2
    extended = catalog(settings, codec)[record["reference_code"]]
    assert (extended["appraisal_status"], extended["retention_period"]) == ("EXTENDED", "D10")
    assert lock_problems(storage, extended) == []
    assert items(settings, codec, item["event_id"])[-1]["decided_period"] == "Y"


def test_destroy_changes_nothing_in_storage(
    pipeline_settings: Settings, codec: Codec, storage: Storage, due: dict[str, Any]
) -> None:
    settings, record, item = pipeline_settings, due["record"], due["item"]
    before = locks(storage, record)
    done = run_cli(settings, "review", "appraise", item["event_id"], "--outcome", "destroy",
                   "--by", "王档案", "--note", "无保存价值")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "destroy once the hold ends" in done.stdout
    assert locks(storage, record) == before == [(COMPLIANCE, record["lock_until"], False)] * 2
    appraised = catalog(settings, codec)[record["reference_code"]]
    assert appraised["appraisal_status"] == "DESTROY-AFTER-HOLD"
    assert lock_problems(storage, appraised) == []
    assert (appraised["retain_until"], appraised["lock_until"]) == (
        record["retain_until"], record["lock_until"],
    )  # fmt: skip
    decided = items(settings, codec, item["event_id"])[-1]
    assert (decided["appraisal_outcome"], decided["decided_period"], decided["decided_by"]) == (
        "destroy", None, "王档案",
    )  # fmt: skip
    listed = json.loads(run_cli(settings, "review", "list", "--appraisal", "--json").stdout)
    assert listed == []


def test_two_appraisals_at_once_exactly_one_is_recorded(
    pipeline_settings: Settings, codec: Codec, storage: Storage, due: dict[str, Any]
) -> None:
    settings, record, item = pipeline_settings, due["record"], due["item"]
    choices = {
        "王档案": ["--outcome", "destroy"],
        "李档案": ["--outcome", "extend", "--period", "D30"],
    }
    results = race(settings, ["appraise", item["event_id"]], choices, TIMEOUT_S)
    winners = [name for name, (code, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    (loser,) = set(choices) - set(winners)
    assert results[loser][0] == 1
    assert "already decided" in results[loser][1] or "another reviewer" in results[loser][1]
    decided = [i for i in items(settings, codec, item["event_id"]) if i["status"] == "DECIDED"]
    assert [i["decided_by"] for i in decided] == winners
    states = catalog_states(settings, codec, record["reference_code"])
    expected = "EXTENDED" if winners == ["李档案"] else "DESTROY-AFTER-HOLD"
    assert [r["appraisal_status"] for r in states] == ["DUE", expected]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "keep"], "--outcome must be destroy or extend, not 'keep'"),
        (["--outcome", "extend"], "--outcome extend needs --period D30 or Y"),
        (["--outcome", "extend", "--period", "D10"], "--outcome extend needs --period D30 or Y"),
        (["--outcome", "destroy", "--period", "Y"], "--outcome destroy takes no --period"),
    ],
)
def test_a_bad_appraisal_is_a_usage_error(
    stack_settings: Settings, args: list[str], message: str
) -> None:
    result = run_cli(stack_settings, "review", "appraise", "some-event", *args, "--by", "王档案")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {message}"


def test_an_extension_that_would_already_be_over_is_refused(
    pipeline_settings: Settings, codec: Codec, storage: Storage
) -> None:
    settings = pipeline_settings
    record = due_record(settings, storage, 1990, "D10", dt.date.today() + HOLD)
    item = queue_appraisal(settings, codec, record)
    refused = run_cli(settings, "review", "appraise", item["event_id"], "--outcome", "extend",
                      "--period", "D30", "--by", "王档案")  # fmt: skip
    assert refused.returncode == 1
    assert "a D30 period would have ended on 2021-01-01, which is past" in refused.stderr
    assert locks(storage, record) == [(COMPLIANCE, record["lock_until"], False)] * 2
    assert items(settings, codec, item["event_id"])[-1]["status"] == "PENDING"


def test_a_late_record_from_the_pipeline_is_appraised_and_still_verifies(
    pipeline_settings: Settings, worker: WorkerProcess, codec: Codec, storage: Storage,
    tmp_path: Path,
) -> None:  # fmt: skip
    """End to end with the register stage: a 2010 notice (D10, ended 2021-01-01) received now is
    queued for appraisal; extended to D30 its objects are locked to 2041-01-01, and `recordflow
    verify` finds the record as the catalog now describes it."""
    settings = pipeline_settings
    document = tmp_path / "通知.pdf"
    document.write_bytes(b"%PDF-1.4 " + os.urandom(2048))
    metadata = notice_metadata("BGT-AP-2010", document_date="2010-05-06", year=2010,
                               document_number="市府办发〔2010〕9号")  # fmt: skip
    submitter = Submitter(settings)
    receipt = submitter.submit("bgt", [FileToSubmit(document)], metadata)
    submitter.close()
    outcome = watch_outcomes(settings, codec, {receipt.event_id}, timeout_s=OUTCOME_TIMEOUT_S)
    assert outcome[receipt.event_id].status == "archived"

    listed = run_cli(settings, "review", "list", "--appraisal", "--json")
    assert listed.returncode == 0, listed.stderr
    (item,) = json.loads(listed.stdout)
    assert (item["event_id"], item["reference_code"], item["retain_until"]) == (
        receipt.event_id, "Z101-WS·2010-D10-BGS-0001", "2021-01-01",
    )  # fmt: skip

    done = run_cli(settings, "review", "appraise", receipt.event_id, "--outcome", "extend",
                   "--period", "D30", "--by", "王档案")  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = catalog(settings, codec)["Z101-WS·2010-D10-BGS-0001"]
    assert (record["appraisal_status"], record["lock_until"]) == ("EXTENDED", dt.date(2041, 1, 1))
    assert locks(storage, record) == [(COMPLIANCE, dt.date(2041, 1, 1), False)] * 2
    verified = run_cli(settings, "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    (result,) = json.loads(verified.stdout)
    assert (result["reference_code"], result["status"], result["problems"]) == (
        "Z101-WS·2010-D10-BGS-0001", "ok", [],
    )  # fmt: skip
    assert result["objects_checked"] == 2
