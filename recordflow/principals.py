"""The principals the platform grants rights to, by role, named as Settings say.

    pipeline     the workers: read the ingest topics, write records.*, receipts.* and recordflow.*
    subscriber   downstream systems: read records.archival-ready.v1 / records.catalog.v1
    archivist    archive staff's tools: review decisions and appraisals (and their receipts),
                 dead-letter replays, reading the records, the queues and the dead letters
    gateway      the HTTP gateway for agency systems in any language: submits on their behalf
                 (every ingest topic, the staging bucket) and reads their receipts
    lookup       the lookup service, the portal's internet-facing read API: reads the catalog
                 and the access decisions, writes the audit trail, and reads archived versions
                 (the presigned download links it signs); it changes nothing else
    agency       one per agency in the registry (`<prefix><code>`): write its own ingest topic
                 and its own staging prefix, and read its own receipts topic

topics/acls.py and connectors/bucket_policies.py derive every grant from these names; the local
stack's secure profile (recordflow/localstack/secure.py) creates a user for each, beside its
super user.
"""

from __future__ import annotations

from dataclasses import dataclass

from recordflow.agencies import AgencyRegistry
from recordflow.settings import Settings


@dataclass(frozen=True)
class Principals:
    pipeline: str
    subscriber: str
    archivist: str
    gateway: str
    lookup: str
    agency_prefix: str

    @classmethod
    def of(cls, settings: Settings) -> Principals:
        return cls(
            settings.principal_pipeline,
            settings.principal_subscriber,
            settings.principal_archivist,
            settings.principal_gateway,
            settings.principal_lookup,
            settings.principal_agency_prefix,
        )

    def agency(self, code: str) -> str:
        return f"{self.agency_prefix}{code}"

    def everyone(self, registry: AgencyRegistry) -> list[str]:
        """Every principal but a super user: the roles, then one per agency."""
        roles = [self.pipeline, self.subscriber, self.archivist, self.gateway, self.lookup]
        return [*roles, *(self.agency(agency.code) for agency in registry.agencies)]
