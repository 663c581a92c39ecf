"""Finding Chinese words without a dictionary: the lookup index holds every CJK character alone
and every pair of neighbours (1- and 2-grams), and the alphanumeric words whole.

A word is found by its n-grams (a two-character word such as 档案 or 房产 is one 2-gram; a longer
one all of its 2-grams), then confirmed by an exact, case-insensitive substring test on the
record's searched text, so that 不动产 does not match a title holding 不动 and 动产 apart, and a
文号 such as 〔2026〕12号 matches only as written. No segmenter guesses where words end: a query
finds what it spells, anywhere in 题名, 关键词, 摘要, 责任者 and 文号.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# CJK ideographs (the unified blocks, extensions A–F, compatibility ideographs) and the
# alphanumeric runs of any other script.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKENS = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")


def normal(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII) and case-folded: what is compared."""
    return unicodedata.normalize("NFKC", text).casefold()


def grams(texts: Iterable[str]) -> str:
    """The index's tokens for `texts`, space-separated (for FTS5's unicode61 tokenizer)."""
    out: list[str] = []
    for text in texts:
        for run in _TOKENS.findall(normal(text)):
            if _IS_CJK.match(run):
                out.extend(run)
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
            else:
                out.append(run)
    return " ".join(out)


def words(query: str) -> list[str]:
    """The words of a query: split on white space, normalized; empty ones dropped."""
    return [word for word in normal(query).split() if _TOKENS.search(word)]


def match_expression(query_words: Iterable[str]) -> str:
    """An FTS5 MATCH expression finding every record that may hold all `query_words` (each
    confirmed afterwards by a substring test): their n-grams and word prefixes, ANDed."""
    terms: list[str] = []
    for word in query_words:
        for run in _TOKENS.findall(word):
            if _IS_CJK.match(run):
                pairs = [run[i : i + 2] for i in range(len(run) - 1)] or [run]
                terms.extend(f'"{pair}"' for pair in pairs)
            else:
                terms.append(f'"{run}"*')
    return " AND ".join(dict.fromkeys(terms))


def highlight(text: str | None, query_words: Iterable[str]) -> str | None:
    """`text` HTML-escaped with each occurrence of a query word in <mark>; None when it holds
    none (or is None). Matching is case-insensitive; a word found only after NFKC is not marked."""
    if not text:
        return None
    lowered = text.casefold()
    if len(lowered) != len(text):  # a letter that folds to two (ß → ss): compare as written
        lowered = text
    spans: list[tuple[int, int]] = []
    for word in query_words:
        start = lowered.find(word)
        while word and start >= 0:
            spans.append((start, start + len(word)))
            start = lowered.find(word, start + len(word))
    if not spans:
        return None
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [_escape(text[at:start]), "<mark>", _escape(text[start:end]), "</mark>"]
        at = end
    out.append(_escape(text[at:]))
    return "".join(out)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
