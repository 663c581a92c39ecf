"""The lookup service's FastAPI application (`recordflow lookup serve`): search the archived
records, read one, download an open record's file through a short-lived presigned S3 link,
which names the S3 address the portal's users reach (`lookup_download_endpoint`).

Who sees what (archival/access.py): the public sees open records only; staff (a staff token)
every record but state secrets; a citizen (a token the portal signed, naming them by their
identity number) exactly the records that name them (权利人/当事人), open or not, found by the
keyed hash of the number. A record the caller may not see is answered 404, the same as one that
does not exist. What staff and citizens do here is audited (connectors/audit.py; never the
number), and fails closed: an action whose audit event Kafka does not confirm is refused with
503. Errors are problem+json with reason codes (connectors/problems.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from archival.access import load_access_rules
from archival.persons import id_hmac
from avro_schemas.codec import Codec
from connectors.audit import SUCCESS, AuditLog, AuditUnavailable, audit_event
from connectors.lookup import store as lookup_store
from connectors.lookup.store import Audience, Citizen, LookupFollower, Sort, Store
from connectors.lookup.store import Query as SearchQuery
from connectors.lookup.tokens import STAFF, Caller, TokenRefused, verify
from connectors.problems import HttpProblem, ProblemDetails, invalid_fields
from connectors.storage import Storage
from recordflow.settings import Settings, public_s3_address

log = logging.getLogger(__name__)

DESCRIPTION = """查询服务 Lookup service: the archive's records, found by words (题名, 关键词, 摘要,
责任者, 文号; Chinese words of two characters and more), by 档号, agency, year, 保管期限, 文种 and
门类. Anonymous callers see open records (开放档案) only; `Authorization: Bearer <token>` with a
staff token (`recordflow lookup token`) sees every record but state secrets, and with a citizen
token the e-government portal signed (HS256, `aud` recordflow-lookup, `role` citizen, `sub`, `exp`,
`id_number`) exactly the records naming that person. Errors are application/problem+json with a
`reason` code (docs/reason-codes.md)."""

# The region links are signed for when s3_region is empty: MinIO's default, and S3's own.
SIGNING_REGION = "us-east-1"
PROBLEM = {"model": ProblemDetails, "content": {"application/problem+json": {}}}


class Access(BaseModel):
    status: Literal["open", "controlled", "never"] = Field(
        description="open: open from opens_on; controlled: only by an archivist's 开放鉴定"
    )
    opens_on: str | None = Field(description="The day it opens (ISO date), if it is open")
    basis: str = Field(description="Why: the rule or the decision")


class Record(BaseModel):
    """A record's public fields (those a Parquet export holds)."""

    reference_code: str = Field(description="档号")
    title: str = Field(description="题名")
    agency_name: str = Field(description="立档单位")
    fonds_code: str
    fonds_name: str
    category: str = Field(description="门类: WS 文书, ZP 照片, LY 录音录像")
    document_number: str | None = Field(description="文号")
    responsible_party: str = Field(description="责任者")
    document_date: str = Field(description="日期 (ISO)")
    document_type: str = Field(description="文种")
    security_classification: str = Field(description="密级")
    language: str
    page_count: int | None
    keywords: list[str] = Field(description="关键词")
    abstract: str | None = Field(description="摘要")
    retention_period: str = Field(description="保管期限: Y, D30, D10")
    retain_until: str | None
    filed_at: str
    archived_at: str
    carrier_medium: str | None
    original_medium: str | None
    file_count: int
    total_bytes: int
    format_puids: list[str | None]
    format_names: list[str | None]
    access: Access


class Hit(Record):
    highlights: dict[str, str] = Field(
        description="The searched fields holding a query word, HTML-escaped, words in <mark>"
    )


class Results(BaseModel):
    total: int
    page: int
    size: int
    results: list[Hit]


class File(BaseModel):
    sequence: int
    mime_type: str | None
    size_bytes: int
    download: str = Field(description="GET it: a redirect to a short-lived link (open records)")


class RecordWithFiles(Record):
    files: list[File]


class LookupService:
    """What the app reaches through `app.state.lookup`: settings, the store and its follower,
    S3 (presigned links), the audit trail and today's date in the archive's time zone."""

    def __init__(self, settings: Settings, store: Store, *, audit: Any = None,
                 follower: LookupFollower | None = None,
                 storage: Callable[[], Storage] | None = None,
                 metrics: CollectorRegistry | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.store = store
        self.audit = audit
        self.follower = follower
        # One S3 client for the service's life, which only signs download links.
        self.storage = functools.cache(storage or (lambda: download_storage(settings)))
        self.metrics = metrics or CollectorRegistry()
        self.zone = ZoneInfo(settings.console_timezone)

    @functools.cached_property
    def person_key(self) -> bytes:
        """The key citizens' identity numbers are hashed with (read once, not per request)."""
        return self.settings.person_key()

    def today(self) -> dt.date:
        return dt.datetime.now(self.zone).date()

    @property
    def ready(self) -> bool:
        return self.follower is None or self.follower.caught_up.is_set()

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
        if self.audit is not None:
            self.audit.close()


def download_storage(settings: Settings) -> Storage:
    """The S3 client that signs download links, for the address the portal's users reach:
    `lookup_download_endpoint`, or the service's own `s3_endpoint` when that is unset. SigV4
    signs the link's host, so the link must name that address from the start. Signing asks
    nothing of the server: the client knows its region (`s3_region`; minio-py would otherwise
    ask the bucket's over the network, here of an address the service may not reach)."""
    signing: dict[str, object] = {"s3_region": settings.s3_region or SIGNING_REGION}
    if settings.lookup_download_endpoint:
        endpoint, secure = public_s3_address(settings.lookup_download_endpoint)
        signing |= {"s3_endpoint": endpoint, "s3_secure": secure}
    return Storage(settings.model_copy(update=signing))


def start_lookup(settings: Settings) -> LookupService:
    """The service on real servers: the store follows the catalog from where it stopped."""
    staff, portal = settings.lookup_staff_token_key, settings.lookup_portal_token_key
    if staff is not None and portal is not None and staff == portal:
        # The portal could then sign staff tokens: the two keys are for two signers.
        raise ValueError("RECORDFLOW_LOOKUP_STAFF_TOKEN_KEY and ..._PORTAL_TOKEN_KEY must differ")
    store = Store.for_settings(settings, load_access_rules(settings.access_rules_file))
    codec = Codec.from_url(settings.schema_registry_url)
    metrics = CollectorRegistry()
    follower = LookupFollower(store, settings, codec, metrics).start()
    return LookupService(settings, store, audit=AuditLog(settings, codec), follower=follower,
                         metrics=metrics)  # fmt: skip


def caller(request: Request) -> Caller | None:
    """The caller the bearer token names; None (the public) without one."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpProblem("lookup-token-invalid", 401, "Authorization: Bearer <token> expected",
                          headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    settings = request.app.state.lookup.settings
    keys = (settings.lookup_staff_token_key, settings.lookup_portal_token_key)
    try:
        return verify(token.strip(), *(k.get_secret_value() if k else None for k in keys))
    except TokenRefused as exc:
        raise HttpProblem(exc.reason, 401, exc.detail,
                          headers={"WWW-Authenticate": "Bearer"}) from exc  # fmt: skip


Who = Annotated[Caller | None, Depends(caller)]


def audience(request: Request, who: Caller | None) -> Audience:
    """What the caller may see: as staff, as the citizen the token names, or as the public."""
    if who is None:
        return "public"
    if who.role == STAFF:
        return "staff"
    key = request.app.state.lookup.person_key
    return Citizen(id_hmac(key, str(who.claims["id_number"])))


def audited(request: Request, who: Caller | None, action: str, target: str) -> None:
    """Append what a known caller did; 503 when the trail cannot take it (fails closed)."""
    service: LookupService = request.app.state.lookup
    if who is None or service.audit is None:
        return
    client = request.client.host if request.client else None
    try:
        service.audit.append(audit_event(who.subject, who.role, action, SUCCESS, target=target,
                                         client_address=client))  # fmt: skip
    except AuditUnavailable as exc:
        raise HttpProblem("service-unavailable", 503, "the audit trail is unavailable",
                          headers={"Retry-After": "10"}) from exc  # fmt: skip


def create_app(settings: Settings, service: LookupService | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = service is None
        app.state.lookup = service or start_lookup(settings)
        try:
            yield
        finally:
            if own:
                app.state.lookup.close()

    app = FastAPI(title="recordflow lookup", version="1", description=DESCRIPTION,
                  lifespan=lifespan)  # fmt: skip

    @app.get("/v1/records", response_model=Results, responses={401: PROBLEM, 422: PROBLEM})
    def search(
        request: Request,
        who: Who,
        q: Annotated[
            str, Query(max_length=200, description="Words, all of which must be found")
        ] = "",
        code: Annotated[str, Query(max_length=100, description="档号, exact")] = "",
        agency: Annotated[str, Query(max_length=50, description="立档单位代码")] = "",
        year_from: Annotated[int | None, Query(ge=1000, le=9999)] = None,
        year_to: Annotated[int | None, Query(ge=1000, le=9999)] = None,
        period: Annotated[str, Query(max_length=10, description="保管期限: Y, D30, D10")] = "",
        document_type: Annotated[str, Query(max_length=50, description="文种")] = "",
        category: Annotated[str, Query(max_length=10, description="门类: WS, ZP, LY")] = "",
        sort: Sort = "relevance",
        page: Annotated[int, Query(ge=1, le=10000)] = 1,
        size: Annotated[int, Query(ge=1, le=lookup_store.MAX_PAGE_SIZE)] = 20,
    ) -> Results:
        """Search the records the caller may see."""
        lookup: LookupService = request.app.state.lookup
        query = SearchQuery(words=q, code=code, agency=agency, year_from=year_from,
                            year_to=year_to, period=period, document_type=document_type,
                            category=category, sort=sort, page=page, size=size)  # fmt: skip
        audited(request, who, "lookup.search", str(request.url.query)[:500])
        found = lookup.store.search(query, audience(request, who), lookup.today())
        return Results(total=found.total, page=page, size=size,
                       results=[Hit(**record) for record in found.records])  # fmt: skip

    @app.get("/v1/records/{code}", response_model=RecordWithFiles,
             responses={401: PROBLEM, 404: PROBLEM})  # fmt: skip
    def record(request: Request, who: Who,
               code: Annotated[str, Path(max_length=100)]) -> RecordWithFiles:  # fmt: skip
        """One record's public fields, its access and its files."""
        lookup: LookupService = request.app.state.lookup
        found = lookup.store.record(code, audience(request, who), lookup.today())
        if found is None:
            raise HttpProblem("record-not-found", 404, f"no record {code} you may see")
        audited(request, who, "lookup.record", code)
        files = [File(**f, download=str(request.url_for("download", code=code,
                                                         sequence=f["sequence"])))
                 for f in found.pop("files")]  # fmt: skip
        return RecordWithFiles(**found, files=files)

    @app.get("/v1/records/{code}/files/{sequence}", status_code=303, name="download",
             responses={303: {"description": "To a presigned S3 link, valid a few minutes"},
                        401: PROBLEM, 404: PROBLEM})  # fmt: skip
    def download(request: Request, who: Who, code: Annotated[str, Path(max_length=100)],
                 sequence: Annotated[int, Path(ge=1, le=10000)]) -> Response:  # fmt: skip
        """A file of a record the caller may see, through a short-lived presigned link to the
        archive's read path (GET only)."""
        lookup: LookupService = request.app.state.lookup
        found = lookup.store.file(code, sequence, audience(request, who), lookup.today())
        if found is None:
            raise HttpProblem("record-not-found", 404, f"no file {sequence} of a record {code} "
                              "you may see")  # fmt: skip
        audited(request, who, "lookup.download", f"{code}#{sequence}")
        url = lookup.storage().client.presigned_get_object(
            found["bucket"], found["key"], version_id=found["version_id"],
            expires=dt.timedelta(seconds=lookup.settings.lookup_download_expiry_s),
        )  # fmt: skip
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(HttpProblem)
    async def problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpProblem)
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return HttpProblem("invalid-query", 422, invalid_fields(exc.errors())).response()

    # Starlette's HTTPException, not FastAPI's subclass: the router raises Starlette's for an
    # unknown path (404) or method (405), which a handler of FastAPI's never saw (they went out
    # as plain JSON, not problem+json).
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return HttpProblem("record-not-found", 404, str(exc.detail)[:500]).response()
        # a wrong method stays 405 with its Allow header (as in the gateway): not a bad parameter
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        return HttpProblem("invalid-query", status, str(exc.detail)[:500],
                           headers=exc.headers).response()  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("lookup: unexpected error")
        return HttpProblem("internal-error", 500).response()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        ready = request.app.state.lookup.ready
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        registry = request.app.state.lookup.metrics
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
