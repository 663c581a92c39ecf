"""The lookup service on the real stack: records a worker archived are found by the service's
store (built from the catalog), by Chinese words of two and three characters, by a 文号 with
〔〕 and by exact 档号; the public sees open records only (a 公告 at once, a 1990 通知 25 years on),
staff every record but state secrets; an open record's file comes through a presigned S3 link
with the archived bytes; what staff do is on the audit trail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from avro_schemas.codec import Codec
from avro_schemas.schemas import AUDIT_EVENT
from connectors.lookup.tokens import CITIZEN, STAFF, issue
from connectors.readback import read_topic, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.lookup import running_lookup
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests.examples import notice_metadata
from tests.integration.cli import run_cli

TIMEOUT_S = 120.0
STAFF_KEY = "lookup-integration-test-staff-key-0123456789"
PORTAL_KEY = "lookup-integration-test-portal-key-9876543210"
ZHANG = "11010519491231002X"

DOCUMENTS: dict[str, dict[str, object]] = {
    # A 公告 is public when it is formed: open at once.
    "LK-NOTICE": {"title": "关于不动产登记中心搬迁的公告", "document_type": "公告",
                  "document_number": "市不动产发〔2026〕3号"},
    # Formed in 1990: open since 2015 under the 25-year rule.
    "LK-1990": {"title": "关于房产档案移交工作的通知", "document_date": "1990-05-04",
                "document_number": "市府办发〔1990〕7号"},
    # Formed this year: open in 2051; 不动 and 动产 are in its title, 不动产 is not.
    "LK-RECENT": {"title": "关于不动 产业园区动产抵押登记的通知",
                  "document_number": "市府办发〔2026〕88号"},
    # A deed naming its owner by their identity number (GB 11643-1999's own example).
    "LK-DEED": {"title": "张三不动产权属登记材料", "document_type": "通知",
                "document_number": "市不动产发〔2026〕41号",
                "persons": [{"role": "权利人", "name": "张三", "id_number": "11010519491231002X"}]},
    # 内部: never open by the rule, whatever its age.
    "LK-INTERNAL": {"title": "房产交易内部工作方案", "security_classification": "内部",
                    "document_date": "1985-03-01", "document_number": "市府办发〔1985〕2号"},
}  # fmt: skip


def archive(submitting: Settings, watching: Settings, documents: dict[str, dict[str, object]],
            tmp_path: Path) -> dict[str, str]:  # fmt: skip
    """document id → 档号 of `documents`, each with its own PDF (`<tmp_path>/<document id>.pdf`),
    submitted for bgt as `submitting` and archived by a running worker; their outcomes read as
    `watching`."""
    submitter = Submitter(submitting)
    events = {}
    for document, overrides in documents.items():
        pdf = tmp_path / f"{document}.pdf"
        pdf.write_bytes(
            b"%PDF-1.4\n% " + document.encode() + b"\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        )
        receipt = submitter.submit(
            "bgt", [FileToSubmit(pdf)], notice_metadata(document, **overrides)
        )
        events[receipt.event_id] = document
    submitter.close()
    outcomes = watch_outcomes(watching, Codec.from_url(watching.schema_registry_url),
                              set(events), timeout_s=TIMEOUT_S)  # fmt: skip
    assert {o.status for o in outcomes.values()} == {"archived"}, outcomes
    return {events[event]: str(outcome.reference_code) for event, outcome in outcomes.items()}


def lookup_settings(settings: Settings) -> Settings:
    """`settings` for a lookup service of its own: a data folder of its topic prefix's under
    the home, and the tests' staff and portal keys."""
    own = settings.home / f"lookup-{settings.topic_prefix}"
    return settings.model_copy(update={"lookup_data_dir": own,
                                       "lookup_staff_token_key": SecretStr(STAFF_KEY),
                                       "lookup_portal_token_key": SecretStr(PORTAL_KEY)})  # fmt: skip


@pytest.fixture
def archived(pipeline_settings: Settings, worker: WorkerProcess,
             tmp_path: Path) -> dict[str, str]:  # fmt: skip
    """document id → 档号 of DOCUMENTS, archived by the worker (each with its own PDF)."""
    return archive(pipeline_settings, pipeline_settings, DOCUMENTS, tmp_path)


@pytest.fixture
def lookup(pipeline_settings: Settings, archived: dict[str, str]) -> Iterator[str]:
    with running_lookup(lookup_settings(pipeline_settings)) as url:
        yield url


def search(url: str, token: str | None = None, **params: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(f"{url}/v1/records", params=params, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def codes(found: dict[str, Any]) -> set[str]:
    return {record["reference_code"] for record in found["results"]}


def test_the_public_finds_open_records_by_chinese_words_and_staff_find_the_rest(
    lookup: str, archived: dict[str, str]
) -> None:
    staff = issue(STAFF_KEY, STAFF, "wang.li", 600)
    notice, old, recent, deed, internal = (archived[d] for d in DOCUMENTS)

    # Two characters: 房产 is in the 1990 通知 (open) and the 内部 方案 (not for the public).
    assert codes(search(lookup, q="房产")) == {old}
    assert codes(search(lookup, staff, q="房产")) == {old, internal}
    # Three characters, contiguous only: the recent 通知 holds 不动 and 动产 apart.
    assert codes(search(lookup, staff, q="不动产")) == {notice, deed}
    assert codes(search(lookup, staff, q="动产")) == {notice, recent, deed}
    assert codes(search(lookup, q="动产")) == {notice}
    # A 文号 as written, and an exact 档号.
    assert codes(search(lookup, q="〔2026〕3号")) == {notice}
    assert codes(search(lookup, q="〔1990〕")) == {old}
    assert codes(search(lookup, code=old)) == {old}
    assert codes(search(lookup, code=recent)) == set()
    assert codes(search(lookup, staff, code=recent)) == {recent}

    found = search(lookup, q="不动产")
    (hit,) = found["results"]
    assert hit["highlights"]["title"] == "关于<mark>不动产</mark>登记中心搬迁的公告"
    assert hit["access"]["status"] == "open" and "公告" in hit["access"]["basis"]
    assert search(lookup, staff, code=recent)["results"][0]["access"]["opens_on"] == "2051-05-06"
    assert search(lookup, staff, code=internal)["results"][0]["access"]["status"] == "controlled"


def test_an_open_records_file_downloads_through_a_presigned_link_and_staff_use_is_audited(
    pipeline_settings: Settings, lookup: str, archived: dict[str, str], tmp_path: Path
) -> None:
    notice, recent = archived["LK-NOTICE"], archived["LK-RECENT"]
    page = httpx.get(f"{lookup}/v1/records/{notice}", timeout=10)
    assert page.status_code == 200, page.text
    (file,) = page.json()["files"]
    assert "key" not in file and "bucket" not in file

    link = httpx.get(file["download"], timeout=10)
    assert link.status_code == 303 and "X-Amz-Signature=" in link.headers["location"]
    assert "X-Amz-Expires=300" in link.headers["location"]
    assert (
        httpx.get(link.headers["location"], timeout=10).content
        == (tmp_path / "LK-NOTICE.pdf").read_bytes()
    )

    hidden = httpx.get(f"{lookup}/v1/records/{recent}/files/1", timeout=10)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    assert hidden.json()["reason"] == "record-not-found"

    staff = issue(STAFF_KEY, STAFF, "wang.li", 600)
    shown = httpx.get(f"{lookup}/v1/records/{recent}/files/1",
                      headers={"Authorization": f"Bearer {staff}"}, timeout=10)  # fmt: skip
    assert shown.status_code == 303
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    trail = [codec.decode(value, AUDIT_EVENT)
             for _, value in read_topic(pipeline_settings, pipeline_settings.audit_topic)]  # fmt: skip
    assert [(e["actor"], e["role"], e["action"], e["target"]) for e in trail] == [
        ("wang.li", "staff", "lookup.download", f"{recent}#1")
    ]

    refused = httpx.get(
        f"{lookup}/v1/records", headers={"Authorization": "Bearer nonsense"}, timeout=10
    )
    assert refused.status_code == 401 and refused.json()["reason"] == "lookup-token-invalid"


def test_a_citizen_finds_the_records_naming_them_and_the_number_is_nowhere_in_clear(
    pipeline_settings: Settings, lookup: str, archived: dict[str, str]
) -> None:
    """The portal vouches for 张三 by their identity number: the service finds the deed naming
    them (not open to the public: formed this year) and nothing else. The number is on the
    agency's ingest topic only: the catalog, the archival-ready topic and the lookup store hold
    its keyed hash."""
    token = issue(PORTAL_KEY, CITIZEN, "portal:zhangsan", 600, id_number=ZHANG)
    assert codes(search(lookup, token)) == {archived["LK-DEED"]}
    assert codes(search(lookup, q="不动产权属")) == set()  # the public: not open
    page = httpx.get(f"{lookup}/v1/records/{archived['LK-DEED']}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    assert page.status_code == 200 and page.json()["access"]["status"] == "open"
    other = issue(PORTAL_KEY, CITIZEN, "portal:lisi", 600, id_number="440304198506121230")
    assert codes(search(lookup, other)) == set()

    for topic in (pipeline_settings.catalog_topic, pipeline_settings.archival_ready_topic):
        values = b"".join(value or b"" for _, value in read_topic(pipeline_settings, topic))
        assert ZHANG.encode() not in values and "张三".encode() in values
    for written in lookup_settings(pipeline_settings).lookup_path.glob("store.sqlite3*"):
        assert ZHANG.encode() not in written.read_bytes()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    trail = [codec.decode(value, AUDIT_EVENT)
             for _, value in read_topic(pipeline_settings, pipeline_settings.audit_topic)]  # fmt: skip
    # Keyed by actor, so in order per person (partitions differ between persons).
    assert sorted((e["actor"], e["role"], e["action"]) for e in trail) == [
        ("portal:lisi", "citizen", "lookup.search"),
        ("portal:zhangsan", "citizen", "lookup.record"),
        ("portal:zhangsan", "citizen", "lookup.search"),
    ]
    assert ZHANG not in str(trail)


def test_an_archivists_decision_opens_or_closes_a_record_for_the_public(
    pipeline_settings: Settings, lookup: str, archived: dict[str, str]
) -> None:
    """`recordflow records access` (开放鉴定): the recent 通知 opened today, the 1990 one kept
    controlled; the running service follows the decisions topic and the public sees the change."""
    old, recent = archived["LK-1990"], archived["LK-RECENT"]
    for code, access in ((recent, "open"), (old, "controlled")):
        decided = run_cli(pipeline_settings, "records", "access", code, access,
                          "--reason", "2026年第1次开放鉴定会议", "--by", "wang.li", "--json")  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        assert json.loads(decided.stdout)["access"] == access
    deadline = time.monotonic() + 30
    while codes(search(lookup, code=old)) and time.monotonic() < deadline:  # the later decision
        time.sleep(0.5)
    assert codes(search(lookup, code=recent)) == {recent}
    assert codes(search(lookup, code=old)) == set()
    (hit,) = search(lookup, issue(STAFF_KEY, STAFF, "wang.li", 600), code=old)["results"]
    assert hit["access"]["status"] == "controlled" and "开放鉴定会议" in hit["access"]["basis"]

    wrong = run_cli(pipeline_settings, "records", "access", recent, "sealed", "--reason", "x",
                    "--by", "wang.li")  # fmt: skip
    assert (
        wrong.returncode == 2 and wrong.stderr.strip() == "error: 'sealed': give open or controlled"
    )


def test_the_store_is_rebuilt_from_the_catalog_by_the_cli(
    pipeline_settings: Settings, archived: dict[str, str], tmp_path: Path
) -> None:
    """`recordflow lookup rebuild` reads the whole catalog into a new store: every archived record,
    and again the same when run twice (the store is deleted first, never added to)."""
    env = {"RECORDFLOW_LOOKUP_DATA_DIR": str(tmp_path / "rebuilt")}
    for _ in range(2):
        rebuilt = run_cli(pipeline_settings, "lookup", "rebuild", "--json", env=env)
        assert rebuilt.returncode == 0, rebuilt.stderr
        report = json.loads(rebuilt.stdout)
        assert report["records"] == len(archived) == len(DOCUMENTS)
        assert report["bytes"] > 0 and report["store"].startswith(str(tmp_path / "rebuilt"))
