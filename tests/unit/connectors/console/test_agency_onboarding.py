"""接入立档单位 from the console through HTTP, on a console built from parts: the administrator fills
the form, sees the dry run's plan (nothing written) and confirms it; the onboarding is
connectors/onboarding.py's onboard() as the CLI calls it without --secure (stood in for here, as
it is tested on the real stack; the stand-in refuses a taken code as the real one does, with
registry_with), and its gateway token is on the result page alone. A refused entry is the form
again with why (400); staff and the auditor are refused (403, audited); a POST needs its CSRF
token and the confirmation its dry run; on a Kafka that signs the console in, onboarding is the
CLI's."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.console import agency_onboarding
from connectors.console.agency_onboarding import OnboardForm, plan_digest
from connectors.console.app import create_app
from connectors.console.service import Console
from connectors.onboarding import OnboardingError, Outcome, Step, registry_with
from recordflow.agencies import Agency, AgencyRegistry, Unit, load_registry
from recordflow.settings import Settings
from tests.unit.connectors.console.console_parts import SETTINGS, ListAudit, accounts, console
from tests.unit.connectors.console.test_app import csrf, sign_in

REGISTRY = load_registry(SETTINGS.agencies_file)  # bgt, zjj, bdc, zwfw …: Z101 is bgt's fonds
SJJ = {"code": "sjj", "name": "市司法局", "fonds": "Z140", "fonds_name": "",
       "units": "BGS:办公室\nFZK: 法治科\n"}  # fmt: skip
ENTRY = Agency(code="sjj", name="市司法局", fonds_code="Z140", fonds_name="市司法局",
               units=[Unit(code="BGS", name="办公室"), Unit(code="FZK", name="法治科")])  # fmt: skip
TOKEN = "rfg_0123456789abcdef_once-and-never-again"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class Onboarding:
    """Stands in for connectors.onboarding.onboard: what it was asked, and the plan it answers.
    `failure` makes the real onboarding (not the dry run) fail as Kafka away would."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        self.onboarded: list[Agency] = []  # what the real one would have written
        self.failure: Exception | None = None

    def __call__(self, settings: Settings, registry: AgencyRegistry, agency: Agency, *,
                 schedule_dir: Path, create_principal: Any, dry_run: bool = False) -> Outcome:  # fmt: skip
        self.asked.append({"agency": agency, "schedule_dir": schedule_dir,
                           "create_principal": create_principal, "dry_run": dry_run})  # fmt: skip
        registry_with(registry, agency)  # the real refusal of a taken code or fonds code
        steps = [Step("topics", settings.ingest_topic(agency.code), "create 3 partitions"),
                 Step("registry", settings.agencies_topic, f"{agency.name} {agency.fonds_code}")]  # fmt: skip
        if dry_run:
            return Outcome(agency, steps)
        if self.failure is not None:
            raise self.failure
        self.onboarded.append(agency)
        return Outcome(agency, steps, token=TOKEN, token_id="0123456789abcdef")


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def onboarding(monkeypatch: pytest.MonkeyPatch) -> Onboarding:
    stand_in = Onboarding()
    monkeypatch.setattr(agency_onboarding, "onboard", stand_in)
    monkeypatch.setattr(agency_onboarding, "current_registry", lambda settings: REGISTRY)
    return stand_in


def client_for(tmp_path: Path, audit: ListAudit, settings: Settings = SETTINGS) -> TestClient:
    parts: Console = console(tmp_path, accounts(wang="staff", zhao="admin", li="auditor"),
                             settings=settings, audit=audit)  # fmt: skip
    return TestClient(create_app(settings, parts), follow_redirects=False)


@pytest.fixture
def client(tmp_path: Path, audit: ListAudit) -> Iterator[TestClient]:
    with client_for(tmp_path, audit) as test_client:
        yield test_client


def plan(client: TestClient, values: dict[str, str]) -> Any:
    return client.post("/agencies/onboard/plan",
                       data={**values, "csrf_token": csrf(client, "/agencies/onboard")})  # fmt: skip


def planned(values: dict[str, str]) -> str:
    """The digest a plan page of these values carries (none when the entry is refused)."""
    try:
        return plan_digest(OnboardForm(**values).agency())
    except OnboardingError:
        return ""


def confirmation(page: str) -> dict[str, str]:
    """The hidden fields of the plan page's confirm form, as a browser would send them."""
    form = page.split('data-testid="onboard-confirm-form"')[1].split("</form>")[0]
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form)}


def test_the_administrator_goes_from_the_agencies_page_to_the_form(
    client: TestClient, onboarding: Onboarding
) -> None:
    sign_in(client, "zhao")
    assert 'href="/agencies/onboard" data-testid="onboard-link"' in client.get("/agencies").text
    form = client.get("/agencies/onboard")
    assert form.status_code == 200 and 'data-testid="onboard-form"' in form.text
    for field in ("code", "name", "fonds", "fonds_name", "units", "csrf_token"):
        assert f'name="{field}"' in form.text, field
    assert 'action="/agencies/onboard/plan"' in form.text
    prefilled = client.get("/agencies/onboard", params={"code": "sjj", "name": "市司法局"})
    assert 'value="sjj"' in prefilled.text and 'value="市司法局"' in prefilled.text
    assert onboarding.asked == []


def test_the_dry_run_shows_the_plan_and_writes_nothing(
    client: TestClient, onboarding: Onboarding, audit: ListAudit
) -> None:
    sign_in(client, "zhao")
    shown = plan(client, SJJ)
    assert shown.status_code == 200 and 'data-testid="onboard-plan"' in shown.text
    assert SETTINGS.ingest_topic("sjj") in shown.text and "create 3 partitions" in shown.text
    assert "尚未做任何改动" in shown.text and "法治科" in shown.text
    assert onboarding.asked == [{"agency": ENTRY, "schedule_dir": SETTINGS.retention_dir,
                                 "create_principal": None, "dry_run": True}]  # fmt: skip
    sent_back = confirmation(shown.text)
    assert {key: sent_back[key] for key in SJJ} == {**SJJ, "units": SJJ["units"].strip()}
    assert re.fullmatch(r"[0-9a-f]{64}", sent_back["planned"])
    assert TOKEN not in shown.text
    assert audit.actions()[-1] == ("zhao", "login", "success")  # a dry run is no onboarding


def test_the_confirmation_onboards_with_the_values_and_shows_the_token_once(
    client: TestClient, onboarding: Onboarding, audit: ListAudit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in(client, "zhao")
    done = client.post("/agencies/onboard", data=confirmation(plan(client, SJJ).text))
    assert done.status_code == 200 and 'data-testid="onboarded"' in done.text
    assert onboarding.onboarded == [ENTRY]
    assert onboarding.asked[-1]["create_principal"] is None  # the CLI without --secure
    token = re.search(r'data-testid="gateway-token">([^<]+)<', done.text)
    assert token is not None and token[1] == TOKEN
    assert "只显示这一次" in done.text and "shown once and never again" in done.text
    assert done.headers["cache-control"] == "no-store"
    assert audit.actions()[-1] == ("zhao", "agencies.onboard", "success")
    event = audit.events[-1]
    assert event["target"] == "sjj" and "0123456789abcdef" in (event["detail"] or "")
    assert all(TOKEN not in str(event.values()) for event in audit.events)
    assert TOKEN not in caplog.text
    assert TOKEN not in client.get("/agencies").text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code": "bgt", "fonds": "Z999"}, "agency 'bgt' is already registered; a code is never"),
        ({"fonds": "Z101"}, "duplicate agency fonds_code: Z101"),
        ({"fonds": "z14"}, "fonds_code: String should match pattern"),
        ({"name": "  "}, "name: String should have at least 1 character"),
        ({"units": "BGS 办公室"}, "write it as CODE:名称"),
    ],
)
def test_a_refused_entry_is_the_form_again_saying_why(
    client: TestClient, onboarding: Onboarding, audit: ListAudit, changes: dict[str, str],
    message: str,
) -> None:  # fmt: skip
    sign_in(client, "zhao")
    values = {**SJJ, **changes}
    refused = plan(client, values)
    assert refused.status_code == 400 and 'data-testid="onboard-form"' in refused.text
    shown = re.search(r'data-testid="onboard-refused">([^\n]+)</p>', refused.text)
    assert shown is not None and "未接受此登记条目" in shown[1]
    assert message in html.unescape(shown[1])
    assert f'value="{html.escape(values["fonds"])}"' in refused.text  # the values, to correct
    assert audit.actions()[-1] == ("zhao", "login", "success")
    # Confirmed all the same (taken since its dry run, or sent by hand): refused, audited.
    again = client.post("/agencies/onboard", data={**values, "planned": planned(values),
                                                   "csrf_token": csrf(client, "/agencies")})  # fmt: skip
    assert again.status_code == 400 and message in html.unescape(again.text)
    assert onboarding.onboarded == []
    assert audit.actions()[-1] == ("zhao", "agencies.onboard", "refused")
    assert audit.events[-1]["target"] == values["code"]
    assert message in (audit.events[-1]["detail"] or "")


def test_the_confirmation_needs_the_dry_run_of_those_values(
    client: TestClient, onboarding: Onboarding, audit: ListAudit
) -> None:
    sign_in(client, "zhao")
    sent = confirmation(plan(client, SJJ).text)
    changed = client.post("/agencies/onboard", data={**sent, "name": "市财政局"})
    blind = client.post("/agencies/onboard", data={**sent, "planned": ""})
    for answer in (changed, blind):
        assert answer.status_code == 409 and "请先预演" in answer.text
    assert onboarding.onboarded == []
    assert audit.actions()[-2:] == [("zhao", "agencies.onboard", "refused")] * 2


def test_a_failed_onboarding_is_audited_and_says_the_agency_is_not_registered(
    client: TestClient, onboarding: Onboarding, audit: ListAudit
) -> None:
    sign_in(client, "zhao")
    why = f"could not write sjj to {SETTINGS.agencies_topic}"
    onboarding.failure = RuntimeError(f"{why}:\n timed out")
    failed = client.post("/agencies/onboard", data=confirmation(plan(client, SJJ).text))
    assert failed.status_code == 503 and "此单位尚未登记" in failed.text
    assert audit.actions()[-1] == ("zhao", "agencies.onboard", "failure")
    assert audit.events[-1]["detail"] == f"{why}: timed out"  # in one line


@pytest.mark.parametrize("name", ["wang", "li"])
def test_staff_and_the_auditor_may_not_onboard(
    client: TestClient, onboarding: Onboarding, audit: ListAudit, name: str
) -> None:
    sign_in(client, name)
    assert "onboard-link" not in client.get("/agencies").text
    token = csrf(client, "/agencies")
    answers = [
        client.get("/agencies/onboard"),
        client.post("/agencies/onboard/plan", data={**SJJ, "csrf_token": token}),
        client.post("/agencies/onboard", data={**SJJ, "planned": "0" * 64, "csrf_token": token}),
    ]
    assert [answer.status_code for answer in answers] == [403] * 3
    assert onboarding.asked == []
    assert audit.actions()[-3:] == [(name, "access", "refused")] * 3
    assert [event["target"] for event in audit.events[-3:]] == [
        "/agencies/onboard", "/agencies/onboard/plan", "/agencies/onboard"
    ]  # fmt: skip


def test_a_post_without_its_csrf_token_is_refused(
    client: TestClient, onboarding: Onboarding
) -> None:
    sign_in(client, "zhao")
    sent = confirmation(plan(client, SJJ).text)
    del sent["csrf_token"]
    for path, data in (("/agencies/onboard/plan", SJJ), ("/agencies/onboard", sent)):
        refused = client.post(path, data=data)
        assert refused.status_code == 403 and "请求已拒绝" in refused.text, path
    assert onboarding.onboarded == [] and len(onboarding.asked) == 1  # the one dry run above


@pytest.mark.parametrize(
    "settings",
    [
        SETTINGS.model_copy(update={"stack_profile": "secure"}),
        SETTINGS.model_copy(update={"kafka_sasl_username": "archivist"}),
    ],
)
def test_where_kafka_signs_the_console_in_onboarding_is_left_to_the_cli(
    tmp_path: Path, audit: ListAudit, onboarding: Onboarding, settings: Settings
) -> None:
    with client_for(tmp_path, audit, settings) as client:
        sign_in(client, "zhao")
        form = client.get("/agencies/onboard")
        assert form.status_code == 200 and 'data-testid="cli-only"' in form.text
        assert 'data-testid="onboard-form"' not in form.text and "--secure" in form.text
        assert plan(client, SJJ).status_code == 409
        token = csrf(client, "/agencies")
        confirmed = client.post("/agencies/onboard", data={**SJJ, "planned": "0" * 64,
                                                           "csrf_token": token})  # fmt: skip
        assert confirmed.status_code == 409 and 'data-testid="cli-only"' in confirmed.text
    assert onboarding.asked == []
    assert audit.actions()[-1] == ("zhao", "agencies.onboard", "refused")
