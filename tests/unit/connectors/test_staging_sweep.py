"""The staging sweep's pure parts (connectors/staging_sweep.py): which keys a marker names, and
which markers are obeyed; and who may write, list and delete in staging
(connectors/bucket_policies.py). The sweep itself runs against S3 in
tests/integration/test_staging_sweep.py."""

from __future__ import annotations

import pytest

from connectors.bucket_policies import bucket_policies
from connectors.staging_sweep import MARKER_PREFIX, Marker, marker_key, staged_keys
from recordflow.agencies import Agency, load_registry
from recordflow.settings import Settings
from tests.examples import lifecycle_event

EVENT_ID = "5d2b1c7e-8f3a-5b6c-9d0e-1f2a3b4c5d6e"


def test_only_staged_files_are_named_not_inline_ones() -> None:
    event = lifecycle_event()
    assert staged_keys(event, "staging") == ["zjj/0f1e2d3c4b5a69788796a5b4c3d2e1f0/01-请示.pdf"]
    # The same key in another bucket is not staging's to sweep.
    assert staged_keys(event, "b-staging") == []


def test_a_marker_round_trips() -> None:
    marker = Marker("zjj", EVENT_ID, "0102-WS-2026-D30-BGS-0001", ("zjj/u1/01-请示.pdf",))
    key = marker_key("zjj", EVENT_ID)
    assert key == f"{MARKER_PREFIX}zjj/{EVENT_ID}.json"
    assert Marker.parse(key, marker.as_json()) == marker


@pytest.mark.parametrize(
    ("place", "staged", "problem"),
    [
        (("zjj", EVENT_ID), "bgt/u1/01.pdf", "not under zjj/"),  # another agency's file
        (("zjj", EVENT_ID), "zjj/../bgt/u1/01.pdf", "not a normalised path"),
        (("zjj", EVENT_ID), "zjj/u1/%2e%2e/01.pdf", "percent-encoded"),
        (("zjj", EVENT_ID), "gateway/idempotency/k", "not under zjj/"),
        (("bgt", EVENT_ID), "zjj/u1/01.pdf", "names another place"),  # stored under bgt's name
        (("zjj", "other-event"), "zjj/u1/01.pdf", "names another place"),
    ],
)
def test_a_marker_naming_anything_but_its_own_agencys_uploads_is_refused(
    place: tuple[str, str], staged: str, problem: str
) -> None:
    data = Marker("zjj", EVENT_ID, "X", (staged,)).as_json()
    with pytest.raises(ValueError, match=problem):
        Marker.parse(marker_key(*place), data)


def test_a_marker_that_is_not_json_or_lacks_a_field_is_refused() -> None:
    key = marker_key("zjj", EVENT_ID)
    with pytest.raises(ValueError):
        Marker.parse(key, b"not json")
    with pytest.raises(KeyError):
        Marker.parse(key, b'{"agency": "zjj", "event_id": "%s"}' % EVENT_ID.encode())


def test_the_pipeline_marks_lists_and_deletes_in_staging_and_the_gateway_cannot_mark() -> None:
    settings = Settings(bucket_prefix="b-")
    statements = bucket_policies(settings, load_registry(settings.agencies_file))["b-staging"][
        "Statement"
    ]

    def grants(who: str, effect: str = "Allow") -> set[tuple[str, str]]:
        return {
            (action, resource)
            for st in statements
            if st["Effect"] == effect and who in st["Principal"]["AWS"]
            for action in st["Action"]
            for resource in st["Resource"]
        }

    pipeline = grants("pipeline")
    assert ("s3:PutObject", "arn:aws:s3:::b-staging/_archived/*") in pipeline
    assert ("s3:PutObject", "arn:aws:s3:::b-staging/*") not in pipeline  # it stages nothing
    assert ("s3:DeleteObject", "arn:aws:s3:::b-staging/*") in pipeline
    assert ("s3:ListBucket", "arn:aws:s3:::b-staging") in pipeline
    # The gateway may stage anywhere, so only a Deny keeps it from writing a marker.
    assert ("s3:PutObject", "arn:aws:s3:::b-staging/*") in grants("gateway")
    assert grants("gateway", "Deny") == {("s3:PutObject", "arn:aws:s3:::b-staging/_archived/*")}
    assert not any(action == "s3:DeleteObject" for action, _ in grants("gateway"))


@pytest.mark.parametrize("code", ["gateway", "drop"])
def test_an_agency_cannot_take_a_prefix_the_platform_keeps(code: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        Agency(code=code, name="某单位", fonds_code="0999", fonds_name="某单位", units=[])
