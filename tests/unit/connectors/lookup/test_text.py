"""Chinese search without a segmenter (connectors/lookup/text.py): the n-grams indexed, the words
of a query, the MATCH expression, highlighting; and what a query finds through a real store."""

from __future__ import annotations

import pytest

from connectors.lookup import text
from connectors.lookup.store import Query, Store
from tests.unit.connectors.lookup.lookup_parts import TODAY, archived, new_store, put

TRANSFER = "Z109-WS·1998-D30-GHK-0001"  # 不动产 contiguous
APART = "Z109-WS·1998-D10-GHK-0002"  # 不动 … 动产 apart
HOUSING = "Z109-WS·1998-D10-GHK-0003"
METRO = "Z101-WS·1999-Y-BGS-0004"
FLOOD = "Z101-WS·1999-Y-BGS-0005"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    built = new_store(tmp_path_factory.mktemp("text"))
    put(built,
        archived(TRANSFER, description={"title": "关于不动产登记档案移交的请示"}),
        archived(APART, description={"title": "关于不动用公款购置动产的函"}),
        archived(HOUSING, description={"title": "旧城改造房产测绘成果", "keywords": []}),
        archived(METRO, description={"title": "Shenzhen Metro Line 12 规划 ２０２６年度报告"}),
        archived(FLOOD, description={"title": "关于做好防汛工作的通知",
                                     "document_number": "市府办发〔2026〕12号"}))  # fmt: skip
    return built


def found(store: Store, words: str) -> set[str]:
    return {hit["reference_code"] for hit in store.search(Query(words=words), "public",
                                                         TODAY).records}  # fmt: skip


# --- the pure parts ----------------------------------------------------------------------------
def test_cjk_runs_are_indexed_as_characters_and_pairs_and_other_words_whole() -> None:
    assert text.grams(["不动产"]) == "不 动 产 不动 动产"
    assert text.grams(["Metro ２０２６年", "〔2026〕12号"]) == "metro 2026 年 2026 12 号"


def test_normal_is_nfkc_and_case_folded() -> None:
    assert text.normal("ＡＢＣ Ｍetro ２０２６") == "abc metro 2026"


def test_words_drop_punctuation_only_words_and_normalize_the_rest() -> None:
    assert text.words("  档案 —— ， ＲＥＰＯＲＴ ！ 〔2026〕12号 ") == ["档案", "report",
                                                                     "〔2026〕12号"]  # fmt: skip
    assert text.words("，。、 —— ") == []


def test_the_match_expression_ands_pairs_single_characters_and_word_prefixes() -> None:
    assert text.match_expression(["不动产"]) == '"不动" AND "动产"'
    assert text.match_expression(["档"]) == '"档"'
    assert text.match_expression(["〔2026〕12号"]) == '"2026"* AND "12"* AND "号"'
    assert text.match_expression(["档案", "档案馆"]) == '"档案" AND "案馆"'  # each term once


def test_highlight_escapes_html_and_marks_every_occurrence() -> None:
    assert text.highlight('<b>档案</b> & "档案馆"', ["档案"]) == (
        "&lt;b&gt;<mark>档案</mark>&lt;/b&gt; &amp; &quot;<mark>档案</mark>馆&quot;"
    )
    assert text.highlight("R&D 档案", ["r&d"]) == "<mark>R&amp;D</mark> 档案"  # marked, escaped


def test_highlight_merges_overlapping_and_touching_marks() -> None:
    assert text.highlight("不动产登记", ["不动", "动产"]) == "<mark>不动产</mark>登记"
    assert text.highlight("不动产登记", ["不动", "产登"]) == "<mark>不动产登</mark>记"


def test_highlight_is_case_insensitive_and_keeps_the_texts_own_case() -> None:
    assert text.highlight("Shenzhen METRO", ["metro"]) == "Shenzhen <mark>METRO</mark>"


def test_highlight_is_none_without_an_occurrence() -> None:
    assert text.highlight("关于防汛的通知", ["档案"]) is None
    assert text.highlight(None, ["档案"]) is None
    assert text.highlight("", ["档案"]) is None


# --- through the store ---------------------------------------------------------------------------
def test_two_character_words_are_found(store: Store) -> None:
    assert found(store, "档案") == {TRANSFER}
    assert found(store, "房产") == {HOUSING}


def test_a_longer_word_is_found_only_where_it_is_contiguous(store: Store) -> None:
    """APART holds 不动 and 动产 (its index has both pairs) but not 不动产."""
    assert found(store, "不动") == {TRANSFER, APART}
    assert found(store, "动产") == {TRANSFER, APART}
    assert found(store, "不动产") == {TRANSFER}


def test_a_single_character_is_found(store: Store) -> None:
    assert found(store, "函") == {APART}
    assert found(store, "测") == {HOUSING}


def test_every_word_of_a_query_must_be_found(store: Store) -> None:
    assert found(store, "关于 请示") == {TRANSFER}
    assert found(store, "房产 请示") == set()


def test_latin_words_and_digits_are_found_case_insensitively(store: Store) -> None:
    assert found(store, "METRO") == {METRO}
    assert found(store, "shenzhen line 12") == {METRO}
    assert found(store, "ｍｅｔｒｏ") == {METRO}  # full-width letters, NFKC
    assert found(store, "Metros") == set()


def test_full_width_digits_match_ascii_ones_through_nfkc(store: Store) -> None:
    assert found(store, "2026年度") == {METRO}  # the title has ２０２６年度
    assert found(store, "２０２６年度") == {METRO}


def test_a_document_number_is_found_as_written(store: Store) -> None:
    assert found(store, "〔2026〕12号") == {FLOOD}
    assert found(store, "市府办发〔2026〕12号") == {FLOOD}
    assert found(store, "〔2026〕13号") == set()
    assert found(store, "〔2025〕12号") == set()


def test_a_query_of_punctuation_only_restricts_nothing(store: Store) -> None:
    assert found(store, "，。") == found(store, "")
    assert len(found(store, "")) == 5
