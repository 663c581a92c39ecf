"""The demo's downstream doors (利用网络化): what a portal and staff find through the lookup service,
and the catalog exported as Parquet for analysis.

The demo serves its own lookup service for its settings (in this process, its store under the
demo's folder, signing its own staff token), as it runs its own gateway: the stack's service
follows the stack's topics, a test's demo its own. The word asked is 通知: the public finds the
demo's digitized 1998 通知 (open since 2023, 25 years after they were formed), staff find this
year's too (open in 2051)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console

from avro_schemas.codec import Codec
from connectors.lookup.tokens import STAFF, issue
from connectors.parquet_export.export import export_catalog
from connectors.storage import Storage
from recordflow.localstack.lookup import running_lookup
from recordflow.settings import Settings

WORD = "通知"


@dataclass
class LookupShown:
    word: str
    public: dict[str, Any]  # the public's answer to /v1/records?q=WORD
    staff_total: int  # how many records staff find for the same word

    def as_json(self) -> dict[str, Any]:
        return {"word": self.word, "public_total": self.public["total"],
                "public": self.public["results"], "staff_total": self.staff_total}  # fmt: skip


def look_up(settings: Settings, console: Console) -> LookupShown:
    key = secrets.token_urlsafe(32)
    own = settings.model_copy(update={
        "lookup_data_dir": settings.home / "demo" / "lookup" / (settings.topic_prefix or "stack"),
        "lookup_staff_token_key": SecretStr(key),
    })  # fmt: skip
    with (
        console.status("查询服务 Lookup service: reading the catalog…"),
        running_lookup(own) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        public = client.get("/v1/records", params={"q": WORD, "size": 10})
        public.raise_for_status()
        staff = client.get("/v1/records", params={"q": WORD, "size": 1},
                           headers={"Authorization": f"Bearer {issue(key, STAFF, 'demo', 60)}"})  # fmt: skip
        staff.raise_for_status()
    return LookupShown(WORD, public.json(), int(staff.json()["total"]))


def export(settings: Settings, console: Console) -> dict[str, Any]:
    """An incremental Parquet export of the catalog (`recordflow export parquet`)."""
    with console.status("导出 Exporting the catalog as Parquet…"):
        outcome = export_catalog(settings, Codec.from_url(settings.schema_registry_url),
                                 Storage(settings))  # fmt: skip
    return outcome.as_json(settings.exports_bucket)
