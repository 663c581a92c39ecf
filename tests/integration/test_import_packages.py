"""`recordflow import packages` on the real stack (issue 15): an EEP signed with SM2, a 2012
carrier and a bag are archived, the carrier's legacy 档号 kept, and a rerun adds nothing; the
watcher with --once takes the complete packages of a local and an S3 drop to done/, leaves the
incomplete ones alone, sends a hostile one to failed/ with its reason, and finishes a package a
stopped watcher left in in-progress/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from avro_schemas.codec import Codec
from connectors.readback import catalog
from connectors.storage import Storage
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests import packages
from tests.integration.cli import run_cli

LEGACY = ["Z101-WS·2012-D30-BGS-0002", "Z101-WS·2012-Y-BGS-0001"]


def eep(path: Path) -> Path:
    """The signed EEP, proposing the period the city's schedule gives a routine 通知 (the fixture's
    永久 would go to appraisal review, not straight to the archive)."""
    record = packages.eep_record()
    record["档号"] = {**record["档号"], "保管期限": "10年"}  # type: ignore[dict-item]
    return packages.write_xml(packages.eep_package([record]), path)


def carrier(folder: Path) -> Path:
    """The 2012 carrier, its 报告 given the 文号 the metadata rules require of one."""
    second = {**packages.CATALOGUE_ENTRIES[1], "文号": "市府办〔2012〕9号"}
    return packages.carrier_folder(folder, [packages.CATALOGUE_ENTRIES[0], second])


def bag(folder: Path) -> Path:
    """The bag, its 请示 given the 文号 the metadata rules require of one."""
    return packages.bag(folder, {"Document-Number": "市住建〔2026〕12号"})


def run_import(settings: Settings, tmp_path: Path, *args: str) -> Any:
    env = {"RECORDFLOW_OUTBOX_DIR": str(tmp_path / "outbox"),
           "RECORDFLOW_DROP_DIR": str(tmp_path / "drop")}  # fmt: skip
    return run_cli(settings, "import", "packages", *args, "--json", env=env)


def statuses(summary: dict[str, Any]) -> dict[str, list[str]]:
    return {p["package"]: [r["status"] for r in p["records"]] for p in summary["packages"]}


def test_packages_are_archived_once_with_their_legacy_codes(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    signed = eep(tmp_path / "eep.xml")
    zipped = packages.zip_folder(carrier(tmp_path / "carrier"), tmp_path / "c.zip")
    bagged = bag(tmp_path / "bag")
    first = run_import(pipeline_settings, tmp_path, "--agency", "bgt", str(signed), str(zipped),
                       "--report", str(tmp_path / "report"))  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    assert statuses(json.loads(first.stdout)) == {
        "eep.xml": ["archived"], "c.zip": ["archived", "archived"]
    }  # fmt: skip
    zjj = run_import(pipeline_settings, tmp_path, "--agency", "zjj", str(bagged))
    assert zjj.returncode == 0, zjj.stderr[-3000:]
    assert statuses(json.loads(zjj.stdout)) == {"bag": ["archived"]}

    report = json.loads((tmp_path / "report" / "eep.xml.report.json").read_text(encoding="utf-8"))
    assert [c["result"] for c in report["signature_checks"]] == ["pass", "pass"]
    assert "archived" in (tmp_path / "report" / "c.zip.report.txt").read_text(encoding="utf-8")

    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    archived = catalog(pipeline_settings, codec)
    assert len(archived) == 4
    assert set(LEGACY) <= set(archived)  # the legacy 档号 kept, never renumbered
    assert archived[LEGACY[1]]["carrier"]["medium"] == "electronic"
    assert {r["document_id"] for r in archived.values()} >= {"BGT-2026-0041", "ZJJ-2026-0077"}

    again = run_import(pipeline_settings, tmp_path, "--agency", "bgt", str(signed), str(zipped))
    assert again.returncode == 0, again.stderr[-3000:]
    assert statuses(json.loads(again.stdout)) == {
        "eep.xml": ["already-archived"], "c.zip": ["already-archived"] * 2
    }  # fmt: skip
    assert catalog(pipeline_settings, codec).keys() == archived.keys()  # nothing added

    # A package of another agency's fonds: read, its records refused with the reason.
    wrong = run_import(pipeline_settings, tmp_path, "--agency", "zjj", str(zipped))
    assert wrong.returncode == 0, wrong.stderr[-3000:]
    records = json.loads(wrong.stdout)["packages"][0]["records"]
    assert {(r["status"], r["reason"]) for r in records} == {
        ("rejected", "package-agency-mismatch")
    }
    # A package whose signature fails is refused whole: exit status 1, one line on stderr.
    tampered = run_import(pipeline_settings, tmp_path, "--agency", "bgt",
                          str(packages.tampered_eep(tmp_path / "tampered.xml")))  # fmt: skip
    assert tampered.returncode == 1
    assert "tampered.xml: package-signature-invalid" in tampered.stderr
    assert json.loads(tampered.stdout)["packages"][0]["records"] == []


def test_the_watcher_takes_complete_packages_of_both_drops_and_fails_hostile_ones(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    local = tmp_path / "drop" / "bgt"
    (local / "in-progress").mkdir(parents=True)
    packages.xml_bomb(local / "a-bomb.xml")
    eep(local / "eep.xml.part").rename(local / "eep.xml")  # temp name, renamed
    packages.carrier_folder(local / "filling")  # no marker: left alone
    packages.signed_eep(local / "writing.xml.part")  # still being written: left alone
    # A stopped watcher's package: taken up again.
    carrier(tmp_path / "resumed")
    shutil.move(tmp_path / "resumed", local / "in-progress" / "resumed")

    client = Storage(pipeline_settings).client
    bucket = pipeline_settings.staging_bucket
    scratch = tmp_path / "s3"
    scratch.mkdir()
    for name, path in {
        "a-bomb.xml": packages.xml_bomb(scratch / "bomb.xml"),
        "a-bomb.xml.ready": scratch / "bomb.xml",
        "bag.zip": packages.zip_folder(bag(scratch / "bag"), scratch / "bag.zip"),
        "bag.zip.ready": scratch / "bomb.xml",
        "waiting.zip": scratch / "bag.zip",  # no marker: left alone
    }.items():
        client.fput_object(bucket, f"drop/zjj/{name}", str(path))

    # Two agencies' drops only, so that the round is short.
    env = {"RECORDFLOW_OUTBOX_DIR": str(tmp_path / "outbox"),
           "RECORDFLOW_DROP_DIR": str(tmp_path / "drop")}  # fmt: skip
    runs = [run_cli(pipeline_settings, "import", "packages", "--watch", "--once", "--agency", a,
                    "--json", env=env) for a in ("bgt", "zjj")]  # fmt: skip
    for run in runs:
        assert run.returncode == 1, run.stderr[-3000:]  # a hostile package in each drop
        assert "a-bomb.xml: package-hostile-xml" in run.stderr
    assert statuses(json.loads(runs[0].stdout)) == {
        "a-bomb.xml": [], "eep.xml": ["archived"], "resumed": ["archived", "archived"]
    }  # fmt: skip
    assert statuses(json.loads(runs[1].stdout)) == {"a-bomb.xml": [], "bag.zip": ["archived"]}

    assert sorted(p.name for p in local.iterdir()) == [
        "done", "failed", "filling", "in-progress", "writing.xml.part"
    ]  # fmt: skip
    assert sorted(p.name for p in (local / "done").iterdir()) == [
        "eep.xml", "eep.xml.report.json", "eep.xml.report.txt",
        "resumed", "resumed.report.json", "resumed.report.txt",
    ]  # fmt: skip
    failed = json.loads((local / "failed" / "a-bomb.xml.report.json").read_text(encoding="utf-8"))
    assert failed["problems"][0]["reason"] == "package-hostile-xml"
    assert not list((local / "in-progress").iterdir())

    keys = sorted(o.object_name for o in client.list_objects(bucket, "drop/zjj/", recursive=True))
    assert keys == [
        "drop/zjj/done/bag.zip", "drop/zjj/done/bag.zip.report.json",
        "drop/zjj/done/bag.zip.report.txt", "drop/zjj/failed/a-bomb.xml",
        "drop/zjj/failed/a-bomb.xml.report.json", "drop/zjj/failed/a-bomb.xml.report.txt",
        "drop/zjj/waiting.zip",
    ]  # fmt: skip
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    assert len(catalog(pipeline_settings, codec)) == 4  # eep, the carrier's two, the bag

    again = run_cli(pipeline_settings, "import", "packages", "--watch", "--once", "--agency",
                    "bgt", "--json", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["packages"] == []  # nothing new is complete


def test_a_watcher_takes_up_the_drops_of_an_agency_registered_while_it_runs(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    from connectors.drops import DropWatcher
    from connectors.outbox import Outbox
    from recordflow.agencies import load_registry

    settings = pipeline_settings.model_copy(update={"drop_dir": tmp_path / "drop"})
    installed = load_registry(settings.agencies_file)
    registry = [installed.by_code["bgt"]]  # what the live registry says, round by round
    outbox = Outbox(tmp_path / "outbox")
    try:
        watcher = DropWatcher(settings, registry, outbox, registry=lambda: list(registry))
        assert watcher.once() == [] and watcher.watched == {"bgt"}
        registry.append(installed.by_code["zjj"])  # onboarded meanwhile: its system drops a bag
        drop = tmp_path / "drop" / "zjj"
        drop.mkdir(parents=True)
        bag(tmp_path / "scratch" / "bag").rename(drop / "bag")
        (drop / "bag.ready").touch()  # a folder is complete with its marker
        (report,) = watcher.once()  # the next round takes up zjj's drops, and the bag
        assert watcher.watched == {"bgt", "zjj"} and watcher.failures == []
        assert (report.package, [line.status for line in report.records]) == ("bag", ["archived"])
    finally:
        outbox.close()
