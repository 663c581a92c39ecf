"""Reading what the receiving register (`recordflow report transfer`) is made of: the catalog's
records, the dead letters with the replay ledger, and the review items, each read to its end as
it stands (read_committed, the readers of connectors/readback.py and deadletters.py), then
archival/transfer_register builds the register from them. Every topic is read whole: the catalog
is compacted (one message per 档号), and the agency and period are known only from each value."""

from __future__ import annotations

import datetime as dt

from archival.transfer_register.build import (
    Labels,
    Period,
    Rejection,
    TransferRegister,
    build_register,
)
from avro_schemas.codec import Codec
from connectors.deadletters import Letter, read_letters, read_replays, recorded_replay
from connectors.readback import catalog
from connectors.review import review_items
from recordflow.agencies import Agency, Archives
from recordflow.settings import Settings


def rejection(letter: Letter, replayed: bool) -> Rejection:
    """A dead letter as the register counts it: its submission is its event id (the SDK derives
    it from the agency, document id, action and file digests), or the letter's own id when the
    input never decoded to an event."""
    event_id = (letter.record or {}).get("event_id")
    return Rejection(
        reason=letter.reason,
        failed_at=letter.failed_at,
        agency_code=letter.agency_code,
        submission=event_id or f"letter:{letter.id}",
        replayed=replayed,
    )


def transfer_register(
    settings: Settings,
    codec: Codec,
    *,
    agency: Agency,
    archives: Archives,
    period: Period,
    prepared_by: str | None,
    produced_at: dt.datetime,
) -> TransferRegister:
    """The register of what `agency` transferred in `period`, as the topics stand now. ReadError
    or DeadLetterError (one line each) when a topic cannot be read."""
    records = catalog(settings, codec).values()
    replays = read_replays(settings)
    rejections = [
        rejection(letter, recorded_replay(replays, letter) is not None)
        for letter in read_letters(settings, codec)
    ]
    items = review_items(settings, codec).values()
    return build_register(
        records,
        rejections,
        items,
        agency=agency,
        archives=archives,
        period=period,
        labels=Labels.load(settings.metadata_rules_file, settings.checks_file),
        prepared_by=prepared_by,
        produced_at=produced_at,
    )
