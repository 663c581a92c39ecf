"""Onboarding and offboarding an agency: everything that derives from one registry entry, in one
command (`recordflow agencies onboard / offboard`).

Onboarding, in this order, so that no step finds the one before it missing:
  1. its topics (ingest.<code>.lifecycle.v1, receipts.<code>.v1) and, on a cluster with an
     authorizer, the ACLs of the new registry;
  2. its principal (the caller's hook: the local stack's secure profile creates the SCRAM user and
     the S3 account; elsewhere the platform's identity system does, and the plan says so);
  3. the staging bucket's policy (on a server with bucket policies), so it may stage its prefix;
  4. a retention-schedule skeleton (`<schedule dir>/<code>.yaml`, no rules of its own: the city
     default decides until the agency's schedule is approved and filled in);
  5. its gateway credentials (printed once, stored hashed);
  6. last, its registry entry on recordflow.agencies.v1: running workers subscribe to the new
     ingest topic within seconds (streams/app.py) and gateways accept its token.

Offboarding writes the entry with offboarded_at, removes the agency's write ACLs and its staging
grant, and revokes its gateway tokens. Its topics, receipts and archived records stay as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import ValidationError

from connectors.agency_registry import publish_entry
from connectors.bucket_policies import apply_bucket_policies, bucket_policies
from connectors.gateway import credentials
from connectors.storage import Storage
from recordflow.agencies import Agency, AgencyRegistry, Unit
from recordflow.principals import Principals
from recordflow.settings import Settings
from topics.catalog import desired_topics
from topics.reconcile import admin_client, has_authorizer, reconcile, revoke_writes

SCHEDULE_SKELETON = """\
# {name} 归档范围和保管期限表 (agency schedule): a skeleton written by `recordflow agencies onboard`
# on {today}. It has no rules yet, so the city default decides every record of this agency. Fill in
# the agency's business matters and rules (see zjj.yaml), have the archives bureau approve them,
# and deploy the file with the workers.
ruleset: {code}-schedule
agency: {code}
version: "0.1-draft"
business_matters: {{}}
rules: []
"""


class OnboardingError(Exception):
    """The entry or the cluster refuses the onboarding; the message says why, in one line."""


@dataclass(frozen=True)
class Step:
    action: str  # registry, topics, principal, bucket-policy, schedule, credentials, acls
    target: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Outcome:
    agency: Agency
    steps: list[Step]
    token: str | None = None  # the gateway token, shown once
    token_id: str | None = None


def new_agency(code: str, name: str, fonds: str, fonds_name: str | None,
               units: list[str]) -> Agency:  # fmt: skip
    """The registry entry from the command's arguments; units as `CODE:名称`."""
    parsed = []
    for unit in units:
        unit_code, sep, unit_name = unit.partition(":")
        if not sep or not unit_name.strip():
            raise OnboardingError(f"--unit {unit!r}: write it as CODE:名称, e.g. BGS:办公室")
        parsed.append(Unit(code=unit_code.strip(), name=unit_name.strip()))
    if not parsed:
        raise OnboardingError("give at least one --unit CODE:名称")
    try:
        return Agency(code=code, name=name, fonds_code=fonds, fonds_name=fonds_name or name,
                      units=parsed)  # fmt: skip
    except ValidationError as exc:
        raise OnboardingError(_one_line(exc)) from exc


def registry_with(registry: AgencyRegistry, agency: Agency) -> AgencyRegistry:
    """`registry` with the new agency; OnboardingError when its code or fonds code is taken."""
    existing = registry.get(agency.code)
    if existing is not None:
        state = "offboarded" if not existing.active else "registered"
        raise OnboardingError(f"agency {agency.code!r} is already {state}; a code is never reused")
    try:
        return registry.merged([agency])
    except ValidationError as exc:
        raise OnboardingError(_one_line(exc)) from exc


def onboard(
    settings: Settings,
    registry: AgencyRegistry,
    agency: Agency,
    *,
    schedule_dir: Path,
    create_principal: Callable[[str], None] | None,
    dry_run: bool = False,
) -> Outcome:
    """Onboard `agency` (see the module's docstring); with `dry_run`, only the plan."""
    merged = registry_with(registry, agency)
    names = Principals.of(settings)
    principal = names.agency(agency.code)
    specs = [
        spec for spec in desired_topics(settings, registry=merged) if spec.agency == agency.code
    ]
    schedule = schedule_dir / f"{agency.code}.yaml"
    topic_changes = reconcile(settings, desired=specs, registry=merged, dry_run=True)
    who_creates = (
        "Kafka user and S3 account (secure local stack)"
        if create_principal
        else "to be created in the platform's identity system (Strimzi KafkaUser, MinIO user)"
    )
    schedule_note = "kept as it is" if schedule.exists() else "skeleton: the city default decides"
    steps = [
        *(Step("topics", c.topic, f"{c.action} {c.detail}".strip()) for c in topic_changes),
        Step("principal", principal, who_creates),
        Step("bucket-policy", settings.staging_bucket, f"{principal} may stage {agency.code}/"),
        Step("schedule", str(schedule), schedule_note),
        Step("credentials", agency.code, "a gateway token, shown once"),
        Step("registry", settings.agencies_topic, f"{agency.name} {agency.fonds_code}"),
    ]
    outcome = Outcome(agency, steps)
    if dry_run:
        return outcome
    reconcile(settings, desired=specs, registry=merged)
    if create_principal is not None:
        create_principal(principal)
    if (
        settings.stack_profile == "secure"
    ):  # where the S3 server keeps bucket policies (as prepare())
        storage = Storage(settings)
        apply_bucket_policies(storage.client, bucket_policies(settings, merged))
    if not schedule.exists():
        schedule.parent.mkdir(parents=True, exist_ok=True)
        schedule.write_text(SCHEDULE_SKELETON.format(name=agency.name, code=agency.code,
                                                     today=dt.date.today()), encoding="utf-8")  # fmt: skip
    outcome.token_id, outcome.token = credentials.issue(settings, agency.code, merged)
    publish_entry(settings, agency)
    return outcome


def offboard(settings: Settings, registry: AgencyRegistry, code: str, *,
             dry_run: bool = False) -> Outcome:  # fmt: skip
    """Revoke `code`'s right to submit; keep everything it sent."""
    agency = registry.get(code)
    if agency is None:
        raise OnboardingError(f"unknown agency {code!r}")
    if not agency.active:
        raise OnboardingError(f"agency {code!r} was offboarded on {agency.offboarded_at:%Y-%m-%d}")
    principal = Principals.of(settings).agency(code)
    gone = agency.model_copy(update={"offboarded_at": dt.datetime.now(dt.UTC)})
    after = registry.merged([gone])
    steps = [
        Step("acls", principal, "remove its WRITE and IDEMPOTENT_WRITE bindings"),
        Step("bucket-policy", settings.staging_bucket, f"{principal} may no longer stage"),
        Step("credentials", code, "revoke every gateway token"),
        Step("registry", settings.agencies_topic, f"{code} offboarded; its records stay readable"),
    ]
    outcome = Outcome(gone, steps)
    if dry_run:
        return outcome
    admin = admin_client(settings)
    if has_authorizer(admin):
        revoke_writes(admin, principal)
    if settings.stack_profile == "secure":
        storage = Storage(settings)
        apply_bucket_policies(storage.client, bucket_policies(settings, after))
    credentials.revoke_agency(settings, code)
    publish_entry(settings, gone)
    return outcome


def _one_line(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
