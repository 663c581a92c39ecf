"""The console's three roles (三员分立) and what each may do, as data: the one place to read it.

Chinese e-records systems are expected to separate the archive's work (档案管理员: review,
appraisal, dead letters, the records), the system's administration (系统管理员: agencies, replays)
and the audit of both (安全审计员: reads, and alone sees the audit log), so that nobody both acts
and checks the trail of their own actions. A page or action names its permission; a role without
it gets 403.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["staff", "admin", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)

ROLE_NAMES: dict[Role, str] = {
    "staff": "档案管理员",
    "admin": "系统管理员",
    "auditor": "安全审计员",
}
ROLE_LABELS: dict[Role, str] = {
    "staff": "Archivist",
    "admin": "Administrator",
    "auditor": "Auditor",
}

EVERYONE: frozenset[Role] = frozenset(ROLES)
PERMISSIONS: dict[str, frozenset[Role]] = {
    "overview.view": EVERYONE,
    "records.view": frozenset({"staff", "auditor"}),
    "records.export": frozenset({"staff"}),
    "review.view": frozenset({"staff", "auditor"}),
    "review.decide": frozenset({"staff"}),
    "deadletters.view": EVERYONE,
    "deadletters.replay": frozenset({"admin"}),
    "verify.view": EVERYONE,
    "reports.transfer": frozenset({"staff"}),  # making the receiving register, a download
    "agencies.view": EVERYONE,
    "agencies.manage": frozenset({"admin"}),
    "audit.view": frozenset({"auditor"}),  # never the roles whose actions it records
}


def allowed(role: str | None, permission: str) -> bool:
    """Whether `role` has `permission`; a permission nobody listed is nobody's."""
    return role in PERMISSIONS.get(permission, frozenset())
