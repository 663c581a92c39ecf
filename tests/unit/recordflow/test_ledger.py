"""The chaos ledger's counting (tests/chaos/ledger.py), fed lists and offsets rather than a chaos
run: reference codes published twice, input partitions left behind their end, and what `clean`
demands. Reading them from Kafka: tests/integration/test_ledger_reading.py."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from tests.chaos.ledger import Ledger, behind, published_twice


def test_a_code_in_two_or_more_messages_counts_once() -> None:
    keys = [b"Z101-WS-0001", b"Z101-WS-0002", b"Z101-WS-0001", b"Z101-WS-0003", b"Z101-WS-0003",
            b"Z101-WS-0003", None, None]  # fmt: skip
    assert published_twice(keys) == 2  # 0001 twice, 0003 three times; keyless messages ignored
    assert published_twice([]) == 0
    assert published_twice([b"a", b"b", b"c"]) == 0


@given(st.sets(st.binary(min_size=1, max_size=8), max_size=30), st.data())
def test_each_code_published_again_is_counted(codes: set[bytes], data: st.DataObject) -> None:
    again = data.draw(
        st.lists(st.sampled_from(sorted(codes)), max_size=20) if codes else st.just([])
    )
    keys = data.draw(st.permutations([*codes, *again]))
    assert published_twice(keys) == len(set(again))


def test_partitions_behind_their_end() -> None:
    watermarks = {
        ("ingest", 0): (0, 10),  # committed to its end
        ("ingest", 1): (0, 10),  # committed short of it
        ("ingest", 2): (0, 0),  # never written: nothing to commit
        ("ingest", 3): (0, 4),  # written, nothing committed
        ("register", 0): (5, 9),  # committed before what retention kept
    }
    committed = {("ingest", 0): 10, ("ingest", 1): 7, ("register", 0): 2}
    assert behind(committed, watermarks) == {("ingest", 1): 7, ("ingest", 3): 0, ("register", 0): 5}


def test_committed_at_the_end_everywhere_is_nothing_behind() -> None:
    watermarks = {("ingest", p): (0, 3) for p in range(3)}
    assert behind({tp: 3 for tp in watermarks}, watermarks) == {}


def test_clean_requires_no_stalled_partition_and_nothing_published_twice() -> None:
    ledger = Ledger(fault="f", submitted=3, archived=3, dead_lettered=0, duplicated=0, lost=0,
                    series=1)  # fmt: skip
    assert ledger.clean
    assert not dataclasses.replace(ledger, stalled=["recordflow.register.v1[2] at 4 of 5"]).clean
    assert not dataclasses.replace(ledger, published_twice=1).clean
