"""立档单位 Agencies: the agency registry as workers and gateways see it (recordflow/agencies.yaml
merged with the entries of recordflow.agencies.v1, which the store follows), with what each agency
has transferred: records archived and the latest, documents rejected, items waiting for review.

The administrator onboards an agency from here (agency_onboarding.py: the form, its dry run, the
onboarding); offboarding stays with the CLI (`recordflow agencies offboard`), whose command the
page shows.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from connectors.console.auth import Session
from connectors.console.web import console, render, require
from recordflow.agencies import Agency, AgencyRegistry, load_registry

log = logging.getLogger(__name__)
router = APIRouter()

NOTHING_YET = {"records": 0, "last_archived": None, "rejected": 0, "reviewing": 0}


@cache
def installed(path: Path) -> AgencyRegistry:
    """The agencies the platform was installed with (read once: a change needs a restart, as it
    does for the workers)."""
    return load_registry(path)


def registry(base: AgencyRegistry, entries: list[dict[str, Any]]) -> tuple[list[Agency], str]:
    """The registry with the topic's entries, as connectors/agency_registry.py merges it, and
    what is wrong with it. A registry the workers would refuse (a fonds code twice) is shown
    entry by entry all the same, saying why they refuse it."""
    agencies = [Agency.model_validate(entry) for entry in entries]
    try:
        return base.merged(agencies).agencies, ""
    except ValueError as exc:
        log.warning("console: the agency registry is invalid: %s", exc)
        merged = {**base.by_code, **{agency.code: agency for agency in agencies}}
        return list(merged.values()), str(exc)


@router.get("/agencies")
def agencies(request: Request, _: Annotated[Session, require("agencies.view")]) -> Response:
    app = console(request)
    base = installed(app.settings.agencies_file)
    listed, problem = registry(base, app.store.agency_entries())
    activity = app.store.agency_activity()
    rows = [{"agency": agency, **activity.get(agency.code, NOTHING_YET)} for agency in listed]
    context = {"rows": rows, "archives": base.archives, "problem": problem,
               "active": sum(agency.active for agency in listed)}  # fmt: skip
    return render(request, "agencies.html", context)
