"""Archival reference codes (archival/reference.py) as DA/T 22-2015 writes them:
`全宗号-门类代码·年度-保管期限代码-机构代码-件号`, e.g. Z109-WS·2011-Y-BGS-0001."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archival.reference import CATEGORY_WS, MAX_ITEM, Series, parse

EXAMPLES = [
    ("Z109-WS·2011-Y-BGS-0001", Series("Z109", 2011, "Y", "BGS"), 1),
    ("Z215-WS·2026-D30-DJK-0012", Series("Z215", 2026, "D30", "DJK"), 12),
    ("Z101-WS·1990-D10-MSK-9999", Series("Z101", 1990, "D10", "MSK"), 9999),
    ("0001-KJ·2026-Y-A1B2C3D4-0100", Series("0001", 2026, "Y", "A1B2C3D4", "KJ"), 100),
]


@pytest.mark.parametrize(("code", "series", "item"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_standard_examples(code: str, series: Series, item: int) -> None:
    assert series.code(item) == code
    assert parse(code) == (series, item)


def test_series_is_the_code_without_its_item_number() -> None:
    series = Series("Z109", 2011, "Y", "BGS")
    assert series.category == CATEGORY_WS == "WS"
    assert str(series) == "Z109-WS·2011-Y-BGS"
    assert series.code(7).rpartition("-") == (str(series), "-", "0007")


ASCII_UPPER_DIGITS = string.ascii_uppercase + string.digits
SERIES = st.builds(
    Series,
    fonds_code=st.text(ASCII_UPPER_DIGITS, min_size=4, max_size=4),
    year=st.integers(min_value=1000, max_value=9999),
    period=st.sampled_from(["Y", "D30", "D10"]),
    unit_code=st.text(ASCII_UPPER_DIGITS, min_size=1, max_size=8),
    category=st.text(string.ascii_uppercase, min_size=2, max_size=2),
)
ITEMS = st.integers(min_value=1, max_value=MAX_ITEM)


@given(series=SERIES, item=ITEMS)
def test_format_parse_round_trip(series: Series, item: int) -> None:
    code = series.code(item)
    assert parse(code) == (series, item)
    assert len(code.rpartition("-")[2]) == 4


@given(series=SERIES, items=st.lists(ITEMS, min_size=2, max_size=10, unique=True))
def test_codes_sort_like_their_item_numbers(series: Series, items: list[int]) -> None:
    codes = [series.code(item) for item in items]
    assert sorted(codes) == [series.code(item) for item in sorted(items)]


@pytest.mark.parametrize(
    "code",
    [
        "",
        "Z109-WS-2011-Y-BGS-0001",  # "-" where DA/T 22 has "·"
        "Z109-WS.2011-Y-BGS-0001",  # ASCII full stop for "·"
        "Z109-WS・2011-Y-BGS-0001",  # katakana middle dot
        "Z10-WS·2011-Y-BGS-0001",  # fonds code of three characters
        "Z1090-WS·2011-Y-BGS-0001",
        "z109-WS·2011-Y-BGS-0001",
        "Z109-W·2011-Y-BGS-0001",
        "Z109-WS·11-Y-BGS-0001",
        "Z109-WS·20110-Y-BGS-0001",
        "Z109-WS·2011-D20-BGS-0001",
        "Z109-WS·2011-y-BGS-0001",
        "Z109-WS·2011-Y-bgs-0001",
        "Z109-WS·2011-Y-办公室-0001",
        "Z109-WS·2011-Y-ABCDEFGHI-0001",  # unit code of nine characters
        "Z109-WS·2011-Y--0001",
        "Z109-WS·2011-Y-BGS-1",
        "Z109-WS·2011-Y-BGS-001",
        "Z109-WS·2011-Y-BGS-00001",
        "Z109-WS·2011-Y-BGS",
        " Z109-WS·2011-Y-BGS-0001",
        "Z109-WS·2011-Y-BGS-0001 ",
        "Z109-WS·2011-Y-BGS-0001-0002",
    ],
)
def test_bad_codes_rejected(code: str) -> None:
    with pytest.raises(ValueError, match="not an archival reference code"):
        parse(code)


@given(
    series=SERIES,
    item=ITEMS,
    intruder=st.sampled_from([*string.ascii_lowercase, " ", "/", "_", ".", "中", "\t"]),
    at=st.integers(min_value=0),
)
def test_a_foreign_character_anywhere_spoils_a_code(
    series: Series, item: int, intruder: str, at: int
) -> None:
    code = series.code(item)
    position = at % (len(code) + 1)
    with pytest.raises(ValueError):
        parse(code[:position] + intruder + code[position:])


def test_trailing_newline_rejected() -> None:
    with pytest.raises(ValueError):
        parse("Z109-WS·2011-Y-BGS-0001\n")


@pytest.mark.parametrize(
    "code",
    ["Z109-WS·２０１１-Y-BGS-0001", "Z109-WS·2011-Y-BGS-٠٠٠١", "Z109-WS·2011-Y-BGS-０００１"],
)
def test_non_ascii_digits_rejected(code: str) -> None:
    with pytest.raises(ValueError):
        parse(code)


def test_item_number_zero_rejected_by_parse() -> None:
    with pytest.raises(ValueError):
        parse("Z109-WS·2011-Y-BGS-0000")


# --- item number bounds ------------------------------------------------------------------
def test_item_number_bounds() -> None:
    series = Series("Z109", 2011, "Y", "BGS")
    assert series.code(1).endswith("-0001")
    assert series.code(MAX_ITEM).endswith("-9999")
    for item in (0, -1, MAX_ITEM + 1):
        with pytest.raises(ValueError, match=r"outside 1\.\.9999"):
            series.code(item)


@given(item=st.integers().filter(lambda n: not 1 <= n <= MAX_ITEM))
def test_item_numbers_outside_the_range_are_refused(item: int) -> None:
    with pytest.raises(ValueError):
        Series("Z109", 2011, "Y", "BGS").code(item)
