"""档案 Records: search the store, show one record with its evidence, download its BagIt bag.

The page of a record shows what the catalog holds of it (DA/T 46 metadata, files with their formats
and digests, the DA/T 70 check item by item, PREMIS events, signatures, object lock, carrier, a
photo's or recording's description). The download is `recordflow records export` over HTTP: the
package's bag rebuilt from the archive (connectors/package.py), validated with bagit, sent as one
tar, and an audit event for it.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import bagit
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from archival.checks import load_items
from archival.metadata import load_metadata_rules
from archival.package import PackageError, bag_root
from connectors.audit import EXPORT, FAILURE, SUCCESS, audit_event
from connectors.console.auth import Session
from connectors.console.store import RecordQuery
from connectors.console.web import Unavailable, client_address, console, is_htmx, render, require
from connectors.package import export_record

log = logging.getLogger(__name__)
router = APIRouter()

CATEGORIES = {"WS": "文书", "ZP": "照片", "LY": "录音录像"}
RETENTIONS = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
PROPERTIES = {"1": "真实性 authenticity", "2": "完整性 integrity", "3": "可用性 usability",
              "4": "安全性 security"}  # fmt: skip
# Item results, and the verdicts of a whole check (a usability failure flags the record for
# review; a security failure quarantines it: recordflow/checks.yaml).
RESULTS = {"pass": "通过", "fail": "未通过", "not-checked": "未检测", "flagged": "已标记复核",
           "quarantined": "已隔离"}  # fmt: skip


@cache
def check_names(checks_file: Path, metadata_rules_file: Path) -> dict[str, tuple[str, str]]:
    """Each DA/T 70 item's Chinese and English name, by code (recordflow/checks.yaml)."""
    items = load_items(checks_file, metadata_rules=load_metadata_rules(metadata_rules_file))
    return {item.code: (item.zh, item.en) for item in items.items}


def _year(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) == 4 else None


@router.get("/records")
def search(request: Request, _: Annotated[Session, require("records.view")], code: str = "",
           q: str = "", number: str = "", agency: str = "", year: str = "", retention: str = "",
           category: str = "", page: int = 1) -> Response:  # fmt: skip
    app = console(request)
    query = RecordQuery(code=code.strip(), words=q, document_number=number, agency=agency,
                        year=_year(year), retention=retention if retention in RETENTIONS else "",
                        category=category if category in CATEGORIES else "", page=page)  # fmt: skip
    found = app.store.search(query)
    params = {"code": code, "q": q, "number": number, "agency": agency, "year": year,
              "retention": retention, "category": category}  # fmt: skip
    context = {"query": params, "found": found, "facets": app.store.facets(),
               "CATEGORIES": CATEGORIES, "RETENTIONS": RETENTIONS}  # fmt: skip
    return render(request, "records.html", context, block="results" if is_htmx(request) else None)


@router.get("/records/{code}")
def record_page(
    request: Request, code: str, _: Annotated[Session, require("records.view")]
) -> Response:
    app = console(request)
    record = app.store.record(code)
    if record is None:
        return render(request, "error.html", {"title": "未找到 Not found",
                      "message": f"没有档号为 {code} 的档案。No archived record {code}."},
                      status=404)  # fmt: skip
    formats = {f["sequence"]: f for f in record.get("formats") or []}
    media = {f["sequence"]: f for f in record.get("media_files") or []}
    details = {f["sequence"]: f for f in record.get("file_details") or []}
    files = [
        {**component, "format": formats.get(component["sequence"]),
         "media": media.get(component["sequence"]),
         "signatures": (details.get(component["sequence"]) or {}).get("signatures") or [],
         "digests": {c["algorithm"]: c["value"] for c in component["checksums"]}}
        for component in record["components"]
    ]  # fmt: skip
    names = check_names(app.settings.checks_file, app.settings.metadata_rules_file)
    check = record.get("check")
    items = [
        {**item, "name": names.get(item["code"], ("", "")),
         "property": PROPERTIES.get(item["code"].split("-")[1], "")}
        for item in (check or {}).get("items", [])
    ]  # fmt: skip
    context = {"record": record, "files": files, "check": check, "items": items,
               "CATEGORIES": CATEGORIES, "RETENTIONS": RETENTIONS, "RESULTS": RESULTS}  # fmt: skip
    return render(request, "record.html", context)


@router.get("/records/{code}/bag")
def download_bag(
    request: Request, code: str, current: Annotated[Session, require("records.export")]
) -> Response:
    """The record's bag as `<档号>.tar`, rebuilt from the archive and validated first. Runs in a
    worker thread (a sync route): S3 and the disk are blocking."""
    app = console(request)
    record = app.store.record(code)
    if record is None or not record.get("package"):
        return render(request, "error.html", {"title": "无档案包 No package",
                      "message": f"{code} 没有可下载的档案包。{code} has no package to download."},
                      status=404)  # fmt: skip

    def audited(outcome: str, detail: str) -> Any:
        return audit_event(current.user or "", current.role, EXPORT, outcome, target=code,
                           client_address=client_address(request), detail=detail)  # fmt: skip

    folder = Path(tempfile.mkdtemp(prefix="recordflow-console-bag-"))
    try:
        bag_dir = export_record(app.storage, record, record["package"], folder)
        bag = bagit.Bag(str(bag_dir))
        bag.validate()
        tar_path = folder / f"{bag_root(code)}.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(bag_dir, arcname=bag_dir.name)
        files = len(bag.payload_entries())
        # Fails closed: a download nobody can trace does not happen (AuditUnavailable → 503).
        app.audit.append(
            audited(SUCCESS, f"BagIt 包 {files} 个文件, {tar_path.stat().st_size} 字节")
        )
    except (PackageError, bagit.BagError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        app.audit.try_append(audited(FAILURE, str(exc)[:500]))
        return render(request, "error.html", {"title": "导出失败 Export failed",
                      "message": f"{code}: {exc}"}, status=502)  # fmt: skip
    except Unavailable:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except Exception as exc:  # S3 away, the audit unconfirmed: nothing is sent
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("console: export of %s failed: %s", code, exc)
        app.audit.try_append(audited(FAILURE, str(exc)[:500]))
        raise Unavailable(f"档案包暂不能导出 The package cannot be exported now: {exc}") from exc
    return FileResponse(tar_path, media_type="application/x-tar", filename=tar_path.name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))  # fmt: skip
