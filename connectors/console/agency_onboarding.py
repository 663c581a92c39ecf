"""接入立档单位 Onboarding an agency from the console, by the administrator (`agencies.manage`): a
form for what `recordflow agencies onboard` takes, its dry run (the steps onboarding would take;
nothing changes), and the onboarding itself.

Both are connectors/onboarding.py's `new_agency()` and `onboard()`, called as the CLI calls them
without --secure (`onboarding()` below), in sync routes: they talk to Kafka and S3. As with a
dead-letter replay, only the form on the plan page onboards: it carries the values the plan was
made of and their digest. The gateway token onboarding issues is on the result page and nowhere
else: not logged, not in the audit event (which names the token's id, as the CLI prints it).

Every onboarding, done, refused (the entry, or a console that may not onboard) or failed, is an
audit event `agencies.onboard` whose target is the agency's code, appended once onboarding has
written what it writes, as well as can be (the rule for actions, audit.py). A dry run changes
nothing and is not one, as a replay's dry run is not.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from connectors.agency_registry import current_registry
from connectors.audit import FAILURE, REFUSED, SUCCESS, audit_event
from connectors.console.auth import Session
from connectors.console.web import Unavailable, client_address, console, render, require
from connectors.onboarding import OnboardingError, Outcome, new_agency, onboard
from recordflow.agencies import Agency
from recordflow.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter()

ONBOARD = "agencies.onboard"
TARGET_CHARS = 64  # the code as typed names the audit event's target: this much of it at most
LEFT_TO_THE_CLI = (
    "此控制台以 archivist 身份连接 Kafka，无权建立主题、权限、立档单位登记与网关令牌；安全配置下单位的"
    "Kafka 用户与 S3 账户须以管理员凭据创建。请系统管理员在服务器上运行 recordflow agencies onboard"
    "（本地安全配置加 --secure）。This console signs in to Kafka as the archivist, which may not "
    "create topics, ACLs, registry entries or gateway tokens, and the secure profile's agency "
    "principal is made with the admin's credentials: onboard from the CLI on the server."
)


class OnboardForm(BaseModel):
    """The form's values, as typed: `recordflow agencies onboard CODE --name --fonds --unit …
    [--fonds-name]`, a unit a line. `planned` is the digest of the plan they were shown in."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = ""
    name: str = ""
    fonds: str = ""
    fonds_name: str = ""
    units: str = ""
    planned: str = ""

    def agency(self) -> Agency:
        """The registry entry, by the CLI's own new_agency (OnboardingError when refused)."""
        units = [line.strip() for line in self.units.splitlines() if line.strip()]
        return new_agency(self.code, self.name, self.fonds, self.fonds_name or None, units)


def plan_digest(agency: Agency) -> str:
    """What the plan page's form carries, so that only an entry a plan was shown for is onboarded."""
    return hashlib.sha256(agency.model_dump_json().encode()).hexdigest()


def left_to_the_cli(settings: Settings) -> bool:
    """Whether only the CLI may onboard here. On a Kafka that signs its clients in (the secure
    profile, a production cluster) the console is the archivist principal, which topics/acls.py
    grants no topic creation, no ACLs and no write to the registry or the gateway credentials:
    those are the admin's. And the secure profile's new principal (its SCRAM user and S3 account)
    is made with the admin's own credentials (`agencies onboard --secure`,
    recordflow/localstack/secure.py), which a console must not hold. So the console onboards where
    Kafka signs nobody in (the plain local stack), with no principal to make: the CLI without
    --secure."""
    return settings.stack_profile == "secure" or settings.kafka_sasl_username is not None


def onboarding(settings: Settings, agency: Agency, *, dry_run: bool) -> Outcome:
    """connectors/onboarding.py's onboard() as `recordflow agencies onboard` calls it without
    --secure: the registry as it stands now (read from its topic, not the store, which may lag),
    the schedules' folder, no principal hook."""
    return onboard(settings, current_registry(settings), agency,
                   schedule_dir=settings.retention_dir, create_principal=None, dry_run=dry_run)  # fmt: skip


def _form(request: Request, values: OnboardForm, refusal: str = "", *,
          status: int = 200) -> Response:  # fmt: skip
    cli_only = left_to_the_cli(console(request).settings)
    return render(request, "onboard.html", {"values": values, "refusal": refusal,
                  "cli_only": cli_only, "LEFT_TO_THE_CLI": LEFT_TO_THE_CLI}, status=status)  # fmt: skip


@router.get("/agencies/onboard")
def onboard_form(
    request: Request,
    _: Annotated[Session, require("agencies.manage")],
    values: Annotated[OnboardForm, Query()],
) -> Response:
    """The form, empty or with the values a plan page sends back to be changed."""
    return _form(request, values)


@router.post("/agencies/onboard/plan")
def onboard_plan(
    request: Request,
    _: Annotated[Session, require("agencies.manage")],
    values: Annotated[OnboardForm, Form()],
) -> Response:
    """预演 Dry run: the steps onboarding would take, and the form that takes them; nothing
    changes. A refused entry is the form again, saying why (400)."""
    app = console(request)
    if left_to_the_cli(app.settings):
        return _form(request, values, status=409)
    try:
        agency = values.agency()
        outcome = onboarding(app.settings, agency, dry_run=True)
    except OnboardingError as exc:
        return _form(request, values, _one_line(exc), status=400)
    except Exception as exc:  # a request's boundary: Kafka away (ReadError, ReconcileError …)
        raise Unavailable(f"暂不能预演接入 The dry run cannot be made now: {exc}") from exc
    return render(request, "onboard_plan.html", {"values": values, "agency": agency,
                  "steps": outcome.steps, "planned": plan_digest(agency)})  # fmt: skip


@router.post("/agencies/onboard")
def onboard_agency(
    request: Request,
    current: Annotated[Session, require("agencies.manage")],
    values: Annotated[OnboardForm, Form()],
) -> Response:
    """接入 Onboard the agency the plan page showed: its topics, the staging grant, the schedule
    skeleton, a gateway token (shown here, once) and last its registry entry."""
    app = console(request)

    def audited(outcome: str, detail: str) -> None:
        app.audit.try_append(audit_event(current.user or "", current.role, ONBOARD, outcome,
                                         target=values.code[:TARGET_CHARS],
                                         client_address=client_address(request),
                                         detail=detail[:500]))  # fmt: skip

    if left_to_the_cli(app.settings):
        audited(REFUSED, "the console may not onboard on a Kafka that signs it in: the CLI's")
        return _form(request, values, status=409)
    try:
        agency = values.agency()
    except OnboardingError as exc:
        audited(REFUSED, _one_line(exc))
        return _form(request, values, _one_line(exc), status=400)
    if values.planned != plan_digest(agency):
        audited(REFUSED, "no dry run of these values")
        return render(request, "error.html", {"title": "请先预演 Dry run first",
                      "message": "接入前请先预演，确认将要进行的步骤。Make the dry run first: only the "
                                 "entry its plan showed is onboarded."}, status=409)  # fmt: skip
    try:
        outcome = onboarding(app.settings, agency, dry_run=False)
    except OnboardingError as exc:  # taken meanwhile (a code, a fonds code): nothing was written
        audited(REFUSED, _one_line(exc))
        return _form(request, values, _one_line(exc), status=400)
    except Exception as exc:  # Kafka or S3 away, or refusing a step
        log.warning("console: onboarding %s failed: %s", agency.code, exc)
        audited(FAILURE, _one_line(exc))
        return render(request, "error.html", {"title": "未接入 Not onboarded",
                      "message": f"接入未完成；登记条目最后写入，此单位尚未登记。The onboarding did not "
                                 f"finish; the registry entry is written last, so the agency is not "
                                 f"registered: {_one_line(exc)}"}, status=503)  # fmt: skip
    audited(SUCCESS, f"{agency.name} {agency.fonds_code}, units "
                     f"{' '.join(unit.code for unit in agency.units)}; gateway token {outcome.token_id}")  # fmt: skip
    return render(request, "onboarded.html", {"agency": agency, "outcome": outcome})


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
