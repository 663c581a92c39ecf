"""The lookup service through HTTP (Starlette's TestClient), on a service built from parts: a store
on disk, the audit trail in a list, S3 that only presigns. Who sees what, refusals as
problem+json, downloads by presigned redirect, staff use audited and refused when it cannot be."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from archival.persons import id_hmac
from connectors.lookup.app import LookupService, create_app, download_storage
from connectors.lookup.tokens import CITIZEN, STAFF, issue
from recordflow.settings import Settings
from tests.unit.connectors.console.console_parts import ListAudit
from tests.unit.connectors.lookup.lookup_parts import archived, new_store, put

STAFF_KEY = "staff-key-" + "s" * 32
PORTAL_KEY = "portal-key-" + "p" * 32
PERSON_KEY = "person-key-" + "k" * 32
SETTINGS = Settings(topic_prefix="t1.", lookup_staff_token_key=SecretStr(STAFF_KEY),
                    lookup_portal_token_key=SecretStr(PORTAL_KEY),
                    person_id_key=SecretStr(PERSON_KEY), lookup_download_expiry_s=120)  # fmt: skip
ZHANG = "11010519491231002X"  # GB 11643-1999's own example: a valid number
OTHER = "440304198506121230"  # valid too: another person
OPEN = "Z109-WS·1990-D30-GHK-0001"  # formed 1990: open since 2015
INTERNAL = "Z109-WS·1990-D30-GHK-0002"  # 内部: controlled
SECRET = "Z109-WS·1990-D30-GHK-0003"  # 绝密: never shown
PROBLEM = "application/problem+json"


class Presigner:
    """S3 as the download sees it: `client.presigned_get_object`, each call kept; its links
    percent-encoded as minio's are."""

    def __init__(self) -> None:
        self.client = self
        self.calls: list[tuple[str, str, str | None, dt.timedelta]] = []

    def presigned_get_object(self, bucket: str, key: str, *, version_id: str | None = None,
                             expires: dt.timedelta) -> str:  # fmt: skip
        self.calls.append((bucket, key, version_id, expires))
        version = quote(version_id or "", safe="")
        return (f"https://s3.example/{bucket}/{quote(key)}?versionId={version}"
                f"&X-Amz-Expires={expires.seconds}&X-Amz-Signature=abc")  # fmt: skip


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def s3() -> Presigner:
    return Presigner()


@pytest.fixture
def client(tmp_path: Path, audit: ListAudit, s3: Presigner) -> Iterator[TestClient]:
    store = new_store(tmp_path)
    zhang = [{"role": "权利人", "name": "张三", "id_hmac": id_hmac(PERSON_KEY.encode(), ZHANG)}]
    put(store,
        archived(OPEN, description={"title": "关于不动产登记档案移交的请示"}),
        archived(INTERNAL, description={"title": "内部档案工作简报", "security_classification": "内部"},
                 persons=zhang),
        archived(SECRET, description={"title": "绝密档案", "security_classification": "绝密"},
                 persons=zhang))  # fmt: skip
    presigner: Any = s3  # a Storage to the service: it only presigns
    service = LookupService(SETTINGS, store, audit=audit, storage=lambda: presigner)
    with TestClient(create_app(SETTINGS, service), follow_redirects=False) as test_client:
        yield test_client


def bearer(key: str = STAFF_KEY, role: str = STAFF, subject: str = "wang",
           lifetime_s: int = 600) -> dict[str, str]:  # fmt: skip
    return {"Authorization": f"Bearer {issue(key, role, subject, lifetime_s)}"}


def found(answer: Any) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {hit["reference_code"] for hit in answer.json()["results"]}


def assert_problem(answer: Any, status: int, reason: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["reason"] == reason and body["status"] == status
    assert body["type"] == f"urn:recordflow:reason:{reason}"
    return body


# --- who sees what -------------------------------------------------------------------------------
def test_the_public_finds_open_records_only(client: TestClient) -> None:
    assert found(client.get("/v1/records")) == {OPEN}
    assert found(client.get("/v1/records", params={"q": "档案"})) == {OPEN}
    assert found(client.get("/v1/records", params={"code": INTERNAL})) == set()


def test_staff_find_controlled_records_but_never_state_secrets(client: TestClient) -> None:
    assert found(client.get("/v1/records", headers=bearer())) == {OPEN, INTERNAL}
    assert found(client.get("/v1/records", params={"q": "档案"}, headers=bearer())) == {
        OPEN, INTERNAL}  # fmt: skip


def citizen(id_number: str) -> dict[str, str]:
    token = issue(PORTAL_KEY, CITIZEN, "portal:8f3a", 600, id_number=id_number)
    return {"Authorization": f"Bearer {token}"}


def test_a_citizen_finds_exactly_the_records_naming_them_open_or_not_but_no_state_secret(
    client: TestClient, audit: ListAudit
) -> None:
    assert found(client.get("/v1/records", headers=citizen(ZHANG))) == {INTERNAL}
    assert found(client.get("/v1/records", headers=citizen(ZHANG.lower()))) == {INTERNAL}
    assert client.get(f"/v1/records/{INTERNAL}", headers=citizen(ZHANG)).status_code == 200
    assert_problem(client.get(f"/v1/records/{OPEN}", headers=citizen(ZHANG)), 404,
                   "record-not-found")  # fmt: skip
    assert found(client.get("/v1/records", headers=citizen(OTHER))) == set()
    # Every lookup of personal records is on the trail, under the portal's subject, never the number.
    assert [(e["actor"], e["role"], e["action"]) for e in audit.events][:2] == [
        ("portal:8f3a", "citizen", "lookup.search"),
        ("portal:8f3a", "citizen", "lookup.search"),
    ]
    assert ZHANG not in str(audit.events) and ZHANG.lower() not in str(audit.events)


def test_a_citizen_token_without_a_valid_number_is_refused(client: TestClient) -> None:
    assert_problem(client.get("/v1/records", headers=citizen("110105194912310021")), 401,
                   "lookup-token-invalid")  # fmt: skip
    no_number = {"Authorization": f"Bearer {issue(PORTAL_KEY, CITIZEN, 'portal:8f3a', 600)}"}
    assert_problem(client.get("/v1/records", headers=no_number), 401, "lookup-token-invalid")


def test_a_search_answers_its_page_and_highlights(client: TestClient) -> None:
    body = client.get("/v1/records", params={"q": "不动产", "size": 5}).json()
    assert (body["total"], body["page"], body["size"]) == (1, 1, 5)
    [hit] = body["results"]
    assert hit["highlights"] == {"title": "关于<mark>不动产</mark>登记档案移交的请示"}
    assert hit["access"]["status"] == "open" and hit["access"]["opens_on"] == "2015-06-01"


def test_a_controlled_record_is_not_found_by_the_public_and_shown_to_staff(
    client: TestClient,
) -> None:
    body = assert_problem(client.get(f"/v1/records/{INTERNAL}"), 404, "record-not-found")
    assert "内部档案工作简报" not in str(body)
    answer = client.get(f"/v1/records/{INTERNAL}", headers=bearer())
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["title"] == "内部档案工作简报" and shown["access"]["status"] == "controlled"


def test_a_state_secret_is_not_found_even_by_staff(client: TestClient) -> None:
    assert_problem(client.get(f"/v1/records/{SECRET}", headers=bearer()), 404, "record-not-found")
    assert_problem(client.get(f"/v1/records/{SECRET}/files/1", headers=bearer()), 404,
                   "record-not-found")  # fmt: skip


def test_a_record_page_links_its_files_and_hides_where_they_are(client: TestClient) -> None:
    answer = client.get(f"/v1/records/{OPEN}")
    assert answer.status_code == 200
    files = answer.json()["files"]
    assert [(f["sequence"], f["size_bytes"]) for f in files] == [(1, 48213), (2, 1000)]
    assert files[1]["download"].endswith(f"/v1/records/{OPEN}/files/2")
    assert "bucket" not in answer.text and f"v-{OPEN}-1" not in answer.text


# --- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"sort": "best"}, {"page": 0}, {"size": 1000}, {"size": 0}, {"year_from": "1990s"},
    {"q": "档" * 201},
])  # fmt: skip
def test_a_bad_query_is_refused_as_problem_json(client: TestClient, params: dict[str, Any]) -> None:
    body = assert_problem(client.get("/v1/records", params=params), 422, "invalid-query")
    assert body["detail"].startswith("query.")  # which parameter


def test_a_bad_file_sequence_is_refused(client: TestClient) -> None:
    assert_problem(client.get(f"/v1/records/{OPEN}/files/0"), 422, "invalid-query")
    assert_problem(client.get(f"/v1/records/{OPEN}/files/9"), 404, "record-not-found")


def test_an_unknown_path_or_method_is_answered_as_problem_json(client: TestClient) -> None:
    """The router's own 404 and 405 (Starlette's HTTPException) go out as problem+json too."""
    assert_problem(client.get("/v1/record/Z109"), 404, "record-not-found")
    assert_problem(client.get(f"/v1/records/{OPEN}/extra/1"), 404, "record-not-found")
    answer = client.post("/v1/records")
    assert_problem(answer, 405, "invalid-query")
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize("authorization", [
    "Bearer garbage", "Basic d2FuZzpwYXNz", "Bearer ", f"Bearer {issue('x' * 32, STAFF, 'w', 60)}",
])  # fmt: skip
def test_a_bad_token_is_refused_never_served_as_public(client: TestClient,
                                                       authorization: str) -> None:  # fmt: skip
    answer = client.get("/v1/records", headers={"Authorization": authorization})
    assert_problem(answer, 401, "lookup-token-invalid")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_is_refused_as_expired(client: TestClient) -> None:
    answer = client.get(f"/v1/records/{OPEN}", headers=bearer(lifetime_s=-5))
    assert_problem(answer, 401, "lookup-token-expired")
    assert answer.headers["www-authenticate"] == "Bearer"


# --- downloads -------------------------------------------------------------------------------------
def test_a_download_redirects_to_a_presigned_link_of_that_version(client: TestClient,
                                                                  s3: Presigner) -> None:  # fmt: skip
    answer = client.get(f"/v1/records/{OPEN}/files/2")
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        "https://s3.example/archive/Z109-WS%C2%B71990-D30-GHK-0001/02.pdf"
        "?versionId=v-Z109-WS%C2%B71990-D30-GHK-0001-2&X-Amz-Expires=120&X-Amz-Signature=abc"
    )  # the link as S3 signed it: not encoded again
    assert s3.calls == [("archive", f"{OPEN}/02.pdf", f"v-{OPEN}-2", dt.timedelta(seconds=120))]


def test_no_link_is_made_for_a_record_the_caller_may_not_see(client: TestClient,
                                                             s3: Presigner) -> None:  # fmt: skip
    assert_problem(client.get(f"/v1/records/{INTERNAL}/files/1"), 404, "record-not-found")
    assert s3.calls == []
    assert client.get(f"/v1/records/{INTERNAL}/files/1", headers=bearer()).status_code == 303
    assert [call[1] for call in s3.calls] == [f"{INTERNAL}/01.pdf"]


def test_links_name_the_public_s3_address_and_signing_asks_no_server() -> None:
    """Signed for the address the portal's users reach, not the one the service uses; neither
    answers here (port 9 is closed, .example never resolves), so signing is all local: minio-py
    would ask an unknown region of the server, and the client is given one (us-east-1 when
    s3_region is empty)."""
    public = Settings(s3_endpoint="127.0.0.1:9", s3_region="",
                      lookup_download_endpoint="https://files.archives.example:8443/")  # fmt: skip
    link = urlsplit(download_storage(public).client.presigned_get_object(
        "archive", "Z109/01.pdf", version_id="v1", expires=dt.timedelta(seconds=120)))  # fmt: skip
    assert (link.scheme, link.netloc, link.path) == (
        "https", "files.archives.example:8443", "/archive/Z109/01.pdf")  # fmt: skip
    signed = parse_qs(link.query)
    assert signed["versionId"] == ["v1"] and signed["X-Amz-Expires"] == ["120"]
    assert signed["X-Amz-Credential"][0].split("/")[2] == "us-east-1"
    assert signed["X-Amz-SignedHeaders"] == ["host"]  # the host is signed: no proxy may rewrite
    # Unset, links name the service's own S3 address, as before.
    own = urlsplit(download_storage(Settings(s3_endpoint="127.0.0.1:9")).client
                   .presigned_get_object("archive", "k", expires=dt.timedelta(seconds=60)))  # fmt: skip
    assert (own.scheme, own.netloc) == ("http", "127.0.0.1:9")


@pytest.mark.parametrize("endpoint", [
    "files.archives.example", "ftp://files.archives.example", "https://files.archives.example/s3",
    "https://portal:secret@files.archives.example", "https://files.archives.example?x=1",
    "https://files.archives.example:0", "https://files.archives.example:99999", "https://",
])  # fmt: skip
def test_a_download_endpoint_is_a_scheme_host_and_port(endpoint: str) -> None:
    with pytest.raises(ValidationError, match="lookup_download_endpoint"):
        Settings(lookup_download_endpoint=endpoint)
    assert Settings(lookup_download_endpoint="http://localhost:17070").lookup_download_endpoint


# --- the audit trail -----------------------------------------------------------------------------
def test_what_staff_do_is_audited_under_their_name(client: TestClient, audit: ListAudit) -> None:
    client.get("/v1/records", params={"q": "档案"}, headers=bearer())
    client.get(f"/v1/records/{INTERNAL}", headers=bearer())
    client.get(f"/v1/records/{INTERNAL}/files/2", headers=bearer())
    assert audit.actions() == [("wang", "lookup.search", "success"),
                               ("wang", "lookup.record", "success"),
                               ("wang", "lookup.download", "success")]  # fmt: skip
    assert [e["target"] for e in audit.events][1:] == [INTERNAL, f"{INTERNAL}#2"]
    assert {e["role"] for e in audit.events} == {STAFF}


def test_what_the_public_does_is_not_audited(client: TestClient, audit: ListAudit) -> None:
    assert client.get("/v1/records", params={"q": "档案"}).status_code == 200
    assert client.get(f"/v1/records/{OPEN}").status_code == 200
    assert client.get(f"/v1/records/{OPEN}/files/1").status_code == 303
    assert audit.events == []


def test_staff_are_refused_when_the_audit_trail_is_away(client: TestClient, audit: ListAudit,
                                                        s3: Presigner) -> None:  # fmt: skip
    audit.down = True
    for path in ("/v1/records?q=档案", f"/v1/records/{INTERNAL}", f"/v1/records/{OPEN}/files/1"):
        answer = client.get(path, headers=bearer())
        assert_problem(answer, 503, "service-unavailable")
        assert "内部档案工作简报" not in answer.text and "results" not in answer.text
        assert "location" not in answer.headers
    assert s3.calls == [] and audit.events == []
    assert client.get(f"/v1/records/{OPEN}").status_code == 200  # the public needs no trail


# --- the document --------------------------------------------------------------------------------
def test_the_openapi_document_lists_the_three_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    routes = {"/v1/records", "/v1/records/{code}", "/v1/records/{code}/files/{sequence}"}
    assert routes <= set(paths)
    assert "/healthz" not in paths and "/metrics" not in paths
    assert "303" in paths["/v1/records/{code}/files/{sequence}"]["get"]["responses"]
