"""`recordflow bench --lookup`: how fast the lookup service answers (connectors/lookup/), against
a consumer that reads the catalog topic to answer the same query.

The run generates N realistic ArchivalRecords (default 1,000,000): 题名 made of the matters
agencies file (房产, 不动产, 防汛, 社保 …) and the usual 文种, a 文号 such as 市府办发〔2019〕12号,
keywords, some abstracts, dates over 1980–2026 (so that those formed 25 years ago and more are
open to the public), and a unique 档号 each. They are encoded with the project's codec and
produced, keyed by 档号, to a catalog topic of the run's own (`lkp<time>.records.catalog.v1`,
deleted at the end unless --keep-topics). Then:

- **rebuild**: a fresh store in a temporary folder follows the topic (`LookupFollower`, as
  `recordflow lookup rebuild` does) until it has caught up: seconds, records/s, the store's size;
- **queries**: typical queries, each kind run `runs` times with varied terms (a two-character
  word, a three-character word, a 文号, an exact 档号, a word with agency and years, a staff query,
  page 50, newest first, and one query repeated as it is) through `Store.search`: p50/p95/p99 and
  hits; two kinds again through the HTTP app (uvicorn in a thread, httpx over loopback);
- **baseline**: the same queries answered as a consumer can today, by reading the whole topic
  (`connectors.readback.read_topic`), decoding every record and filtering in Python with the
  store's own rules: seconds per query, and whether its hits equal the store's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from archival.access import AccessRules, load_access_rules, opening
from archival.reference import Series
from avro_schemas.codec import Codec, Subject
from avro_schemas.schemas import ARCHIVAL_RECORD
from connectors.lookup import text
from connectors.lookup.app import LookupService, create_app
from connectors.lookup.store import SEARCHED, Audience, Found, LookupFollower, Query, Store
from connectors.parquet_export.rows import row
from connectors.readback import read_topic
from recordflow.agencies import Agency, load_registry
from recordflow.bench import procstats, stats
from recordflow.jsonvalues import json_ready
from recordflow.localstack.webapp import serve_in_thread
from recordflow.settings import Settings
from topics.catalog import desired_topics
from topics.reconcile import reconcile

DEFAULT_RECORDS = 1_000_000
DEFAULT_RUNS = 200
DEFAULT_BASELINE_RUNS = 1
HTTP_RUNS_MAX = 200
SEED = 17
YEARS = (1980, 2026)
PERIODS = ("Y", "D30", "D10")
# The kinds of query measured through HTTP too (the public's: no token).
HTTP_KINDS = ("word2", "code")

# --- the words records are made of ------------------------------------------------------
# What agencies' documents are about. Each query word below is in some of them; 动产抵押 holds
# 动产 but not 不动产 (the index's substring confirmation has work to do).
MATTERS = (
    "房产交易", "房产测绘", "不动产登记", "不动产统一登记", "动产抵押", "档案管理", "档案数字化",
    "防汛抗旱", "防汛物资储备", "社保基金", "社保卡发放", "医保支付", "医保定点机构", "义务教育",
    "职业教育", "教育经费", "工程招标", "政府采购招标", "住房公积金", "公积金贷款", "保障房建设",
    "棚户区改造", "养老金发放", "安全生产", "消防安全", "食品安全", "环保督察", "生态环境保护",
    "城市更新", "老旧小区改造", "垃圾分类", "营商环境", "政务服务", "数据共享", "审计整改",
    "统计调查", "人口普查", "交通整治", "水利工程", "林业防火", "旅游市场", "文物保护",
    "供水管网", "燃气安全", "就业援助", "民政救助", "扶贫开发", "疫情防控", "财政预算", "税收征管",
)  # fmt: skip
ACTIONS = (
    "工作", "专项检查", "实施方案", "管理办法", "整改情况", "资金安排", "试点工作", "有关问题",
    "工作方案", "考核结果", "调整", "规划", "宣传", "培训", "应急预案", "督查", "情况",
)  # fmt: skip
GENERAL_KEYWORDS = ("工作部署", "资金", "检查", "制度建设", "考核", "宣传", "监督", "统计")
# 文种 and how often each is filed (of 111). A 公告 is public when formed (recordflow/access.yaml).
DOCUMENT_TYPES = {"通知": 30, "通报": 8, "请示": 10, "批复": 8, "公告": 5, "纪要": 6,
                  "报告": 10, "函": 10, "意见": 10, "决定": 4, "方案": 10}  # fmt: skip
# 密级 (intake refuses state secrets; 内部 is controlled: only an archivist's 开放鉴定 opens it).
CLASSIFICATIONS = {"公开": 70, "非密": 25, "内部": 5}
NUMBER_PREFIXES = {"bgt": "市府办发", "zjj": "市建发", "bdc": "市不动产发", "zwfw": "市政数发",
                   "fy": "市中法发"}  # fmt: skip

# The query words (in MATTERS).
WORDS_2 = ("房产", "档案", "防汛", "社保", "医保", "教育", "招标", "消防", "审计", "统计")
WORDS_3 = ("不动产", "公积金", "保障房", "棚户区", "养老金")

# --- a record's constant parts ------------------------------------------------------------
_CHECK_ITEM = {
    "code": "YJ-1-1",
    "result": "pass",
    "reason": "SHA-256 matches the producer's digest",
}
_FORMAT = {
    "sequence": 1, "puid": "fmt/354", "name": "Acrobat PDF/A - Portable Document Format",
    "version": "1b", "mime_type": "application/pdf", "basis": "byte match", "accepted": True,
    "technical": {"encrypted": "false"}, "problems": [],
}  # fmt: skip
_PUBLIC_MARK = {
    "parallel_title": None, "subtitle": None, "subject_terms": [], "classification_code": None,
    "primary_recipients": [], "copy_recipients": [], "secrecy_term": None, "draft_state": "正本",
    "rights_statement": None, "control_marks": ["主动公开"],
}  # fmt: skip
_RETENTION_RULES = {"Y": "city-default@2026.1/Y-policy", "D30": "city-default@2026.1/D30-request-reply",
                    "D10": "city-default@2026.1/D10-routine"}  # fmt: skip


class Catalog:
    """Generates the catalog: realistic, varied records with unique 档号 (item numbers counted
    per series, never above 9999), the same for the same seed."""

    def __init__(self, agencies: list[Agency], archives_code: str, seed: int = SEED) -> None:
        self.agencies = agencies
        self.archives_code = archives_code
        self.rng = random.Random(seed)
        self.items: dict[Series, int] = {}
        self.numbers: dict[tuple[str, int], int] = {}
        self.types = list(DOCUMENT_TYPES)
        self.type_weights = list(DOCUMENT_TYPES.values())
        self.classes = list(CLASSIFICATIONS)
        self.class_weights = list(CLASSIFICATIONS.values())
        self.last = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def record(self) -> dict[str, Any]:
        rng = self.rng
        agency = rng.choice(self.agencies)
        unit = rng.choice(agency.units)
        while True:
            year = rng.randint(*YEARS)
            period = rng.choice(PERIODS)
            series = Series(agency.fonds_code, year, period, unit.code)
            item = self.items.get(series, 0) + 1
            if item <= 9999:
                self.items[series] = item
                break
        code = series.code(item)
        start = dt.date(year, 1, 1).toordinal()
        date = dt.date.fromordinal(rng.randint(start, dt.date(year, 12, 31).toordinal()))
        kind = rng.choices(self.types, self.type_weights)[0]
        matter, action = rng.choice(MATTERS), rng.choice(ACTIONS)
        if kind == "纪要":
            title = f"{matter}专题会议纪要" if rng.random() < 0.5 else \
                f"第{rng.randint(1, 40)}次{matter}工作会议纪要"  # fmt: skip
        elif kind == "批复":
            title = f"关于同意{matter}{action}的批复"
        elif rng.random() < 0.3:
            title = f"关于{year}年{matter}{action}的{kind}"
        else:
            title = f"关于{unit.name}{matter}{action}的{kind}" if rng.random() < 0.15 else \
                f"关于{matter}{action}的{kind}"  # fmt: skip
        number = None
        if kind not in ("纪要", "函") or rng.random() < 0.5:
            count = self.numbers.get((agency.code, year), 0) + 1
            self.numbers[agency.code, year] = count
            number = (
                f"{NUMBER_PREFIXES.get(agency.code, '市' + agency.code + '发')}〔{year}〕{count}号"
            )
        keywords = [matter, rng.choice(GENERAL_KEYWORDS)]
        abstract = None
        if rng.random() < 0.3:
            abstract = (f"为进一步做好{matter}工作，根据有关规定，现就{matter}{action}有关事项"
                        f"{'通知' if kind == '通知' else '报告'}如下，请结合实际认真贯彻执行。")  # fmt: skip
        party = agency.name if rng.random() < 0.9 else f"{agency.name}、市财政局"
        filed = dt.datetime.combine(date, dt.time(9, 0), dt.UTC) + dt.timedelta(
            days=rng.randint(20, 400), seconds=rng.randint(0, 28_800)
        )
        filed = min(filed, self.last - dt.timedelta(seconds=rng.randint(0, 8_000_000)))
        archived = filed + dt.timedelta(seconds=2, milliseconds=rng.randint(0, 999))
        until = None if period == "Y" else dt.date(year + int(period[1:]) + 1, 1, 1)
        digest = f"{rng.getrandbits(256):064x}"
        size = rng.randint(20_000, 4_000_000)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        classification = rng.choices(self.classes, self.class_weights)[0]
        return {
            "reference_code": code, "fonds_code": agency.fonds_code,
            "fonds_name": agency.fonds_name, "category": "WS", "year": year,
            "retention_period": period, "retention_rule_id": _RETENTION_RULES[period],
            "unit_code": unit.code, "item_number": item,
            "agency": {"code": agency.code, "name": agency.name},
            "archives_code": self.archives_code, "event_id": event_id,
            "document_id": f"{agency.code.upper()}-{year}-{item:05d}", "source_system": "OA",
            "description": {
                "title": title, "document_number": number, "responsible_party": party,
                "document_date": date, "document_type": kind,
                "security_classification": classification,
                "urgency": "加急" if rng.random() < 0.1 else None, "keywords": keywords,
                "abstract": abstract, "unit_code": unit.code, "year": year,
                "page_count": rng.randint(1, 40), "language": "zh",
            },
            "components": [{
                "sequence": 1, "is_main": True, "title": None, "file_name": f"{title}.pdf",
                "mime_type": "application/pdf", "size_bytes": size,
                "checksums": [{"algorithm": "SHA256", "value": digest}],
                "payload": {"bucket": "archive", "key": f"{agency.fonds_code}/{year}/{code}/01-{digest}.pdf",
                            "version_id": f"{rng.getrandbits(96):024x}", "inline_content": None},
            }],
            "filed_at": filed, "archived_at": archived, "retain_until": until,
            "formats": [_FORMAT],
            "check": {"stage": "YJ", "checked_at": archived, "verdict": "pass",
                      "items": [_CHECK_ITEM]},
            "flags": [],
            "provenance": [{"type": "fixity check", "time": archived, "agent": "recordflow.register",
                            "outcome": "success", "detail": "SHA-256 and SM3 verified"}],
            "package": {"bucket": "archive", "key": f"{agency.fonds_code}/{year}/{code}/bag.tar",
                        "version_id": f"{rng.getrandbits(96):024x}", "inline_content": None},
            "supplementary": _PUBLIC_MARK if kind != "公告" and rng.random() < 0.05 else None,
            "file_details": [], "history": [], "agents": [], "relations": [],
            "retention_proposal": period, "issuer_relation": "self",
            "business_matter_code": None, "absent_elements": [], "lock_until": until,
            "appraisal_status": None, "carrier": None, "media": None, "media_files": [],
        }  # fmt: skip


# --- the queries ---------------------------------------------------------------------------
@dataclass
class Kind:
    """One kind of query: its variants (run in turn), for whom, and what it measured."""

    name: str
    label: str
    audience: Audience
    variants: list[Query]
    latencies_ms: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)

    @property
    def example(self) -> Query:
        """The variant the baseline runs and whose hits are reported."""
        return self.variants[0]


@dataclass
class Samples:
    """What the generator kept to query by: 档号 and 文号 of records open to the public, and
    (agency, year) pairs."""

    codes: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    every: int = 1

    def keep(self, index: int, record: dict[str, Any], rules: AccessRules, today: dt.date) -> None:
        if index % self.every or len(self.codes) >= 400:
            return
        if opening(record, rules).open_on(today):
            self.codes.append(record["reference_code"])
            number = record["description"]["document_number"]
            if number:
                self.numbers.append(number[number.index("〔") :])


def query_kinds(samples: Samples, agencies: list[str]) -> list[Kind]:
    def cycle(values: tuple[str, ...] | list[str], count: int = 50) -> list[str]:
        return [values[i % len(values)] for i in range(count)]

    spans = [(1985 + 5 * (i % 4), 1995 + 5 * (i % 4)) for i in range(8)]
    return [
        Kind("word2", "2字词 two-character word (q=房产)", "public",
             [Query(words=w) for w in cycle(WORDS_2)]),
        Kind("word2_same", "同一查询重复 the same query repeated (q=房产)", "public",
             [Query(words=WORDS_2[0])]),
        Kind("word3", "3字词 three-character word (q=不动产)", "public",
             [Query(words=w) for w in cycle(WORDS_3)]),
        Kind("doc_number", "文号 document number (q=〔YYYY〕N号)", "public",
             [Query(words=n) for n in (samples.numbers or ["〔2000〕1号"])]),
        Kind("code", "档号 exact reference code", "public",
             [Query(code=c) for c in (samples.codes or ["Z101-WS·2000-Y-BGS-0001"])]),
        Kind("filtered", "词+机构+年度 word + agency + years", "public",
             [Query(words=w, agency=agencies[i % len(agencies)], year_from=spans[i % 8][0],
                    year_to=spans[i % 8][1]) for i, w in enumerate(cycle(WORDS_2))]),
        Kind("staff", "工作人员 staff query (q=word)", "staff",
             [Query(words=w) for w in cycle(WORDS_2[1:] + WORDS_2[:1])]),
        Kind("deep_page", "第50页 page 50 (q=word, 20 a page)", "public",
             [Query(words=w, page=50) for w in cycle(WORDS_2)]),
        Kind("date_sort", "按日期 newest first (q=word)", "public",
             [Query(words=w, sort="date_desc") for w in cycle(WORDS_2[::-1])]),
    ]  # fmt: skip


# --- the baseline: what a consumer does today -------------------------------------------------
def matcher(query: Query, audience: Audience, rules: AccessRules,
            today: dt.date) -> Callable[[str, dict[str, Any]], bool]:  # fmt: skip
    """Whether a record (its key and decoded value) answers `query` for `audience`: the store's
    rules (Store.put and Store.search), in Python, on the decoded record."""
    words = text.words(query.words)
    terms = [term for term in text.match_expression(words).split(" AND ") if term] if words else []

    def visible(record: dict[str, Any]) -> bool:
        found = opening(record, rules)
        return found.open_on(today) if audience == "public" else found.status != "never"

    def matches(code: str, record: dict[str, Any]) -> bool:
        description = record["description"]
        for wanted, value in ((query.code, code), (query.agency, record["agency"]["code"]),
                              (query.period, record["retention_period"]),
                              (query.document_type, description["document_type"]),
                              (query.category, record["category"])):  # fmt: skip
            if wanted and wanted != value:
                return False
        year = int(record["year"])
        if (query.year_from is not None and year < query.year_from) or (
            query.year_to is not None and year > query.year_to
        ):
            return False
        if words:
            searched = [description[name] or "" for name in SEARCHED if name != "keywords"]
            searched += list(description["keywords"])
            haystack = "\n".join(text.normal(part) for part in searched)
            if not all(word in haystack for word in words):
                return False
            tokens = text.grams(searched).split()
            for term in terms:  # the index's part: each n-gram, or each word as a prefix
                if term.endswith("*"):
                    if not any(token.startswith(term[1:-2]) for token in tokens):
                        return False
                elif term[1:-1] not in tokens:
                    return False
        return visible(record)

    return matches


def baseline_query(settings: Settings, codec: Codec, query: Query, audience: Audience,
                   rules: AccessRules, today: dt.date,
                   tick: Callable[[int], None]) -> tuple[float, int]:  # fmt: skip
    """Seconds to answer `query` by reading the whole topic, and the hits: every record read and
    decoded, filtered, the hits sorted and the page's public fields made (as the store returns)."""
    matches = matcher(query, audience, rules, today)
    began = time.perf_counter()
    hits: list[tuple[str, str, dict[str, Any]]] = []
    read = 0
    for key, value in read_topic(settings, settings.catalog_topic):
        read += 1
        if read % 5000 == 0:
            tick(5000)
        if value is None or key is None:
            continue
        code = key.decode()
        record = codec.decode(value, ARCHIVAL_RECORD)
        if matches(code, record):
            hits.append((record["description"]["document_date"].isoformat(), code, record))
    tick(read % 5000)
    if query.sort == "date_asc":
        hits.sort(key=lambda hit: (hit[0], hit[1]))
    elif query.sort == "code":
        hits.sort(key=lambda hit: hit[1])
    else:  # newest first (the store orders by relevance, which Python cannot; the work is alike)
        hits.sort(key=lambda hit: hit[1])
        hits.sort(key=lambda hit: hit[0], reverse=True)
    start = (max(query.page, 1) - 1) * query.size
    [json_ready(row(record, "")) for _, _, record in hits[start : start + query.size]]
    return time.perf_counter() - began, len(hits)


# --- the run ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LookupOptions:
    records: int = DEFAULT_RECORDS
    runs: int = DEFAULT_RUNS
    baseline_runs: int = DEFAULT_BASELINE_RUNS
    keep_topics: bool = False


def progress(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn())  # fmt: skip
    return Progress(*columns, console=console, transient=True)


def run_lookup_bench(settings: Settings, options: LookupOptions,
                     console: Console) -> dict[str, Any]:  # fmt: skip
    run_id = f"lkp{int(time.time())}"
    settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}{run_id}."})
    topic = settings.catalog_topic
    rules = load_access_rules(settings.access_rules_file)
    today = dt.datetime.now(ZoneInfo(settings.console_timezone)).date()
    began = time.monotonic()
    spec = next(s for s in desired_topics(settings) if s.name == topic)
    with console.status(f"准备主题 Creating {topic} ({spec.partitions} partitions)…"):
        reconcile(settings, desired=[spec])
    report: dict[str, Any] = {"records": options.records, "topic": topic,
                              "partitions": spec.partitions, "today": today.isoformat()}  # fmt: skip
    try:
        codec = Codec.from_url(settings.schema_registry_url)
        report["generate"], samples = generate(settings, codec, options.records, rules, today,
                                               console)  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="recordflow-bench-lookup-") as tmp:
            store = Store(Path(tmp) / "store.sqlite3", catalog_topic=topic, rules=rules)
            report["rebuild"] = rebuild(settings, store, codec, options.records, console)
            registry = load_registry(settings.agencies_file)
            kinds = query_kinds(samples, [a.code for a in registry.agencies if a.active])
            measure_store(store, kinds, options.runs, today, console)
            report["http"] = measure_http(settings, store, kinds, min(options.runs, HTTP_RUNS_MAX),
                                          today, console)  # fmt: skip
            # The store's side (generating, rebuilding, querying) before the baseline's reads,
            # which hold every hit's decoded record to sort them.
            report["peak_rss_mb_before_baseline"] = peak_rss_mb()
            baselines = measure_baseline(settings, codec, kinds, options.baseline_runs, rules,
                                         today, report["rebuild"]["records"], console)  # fmt: skip
            report["queries"] = [summary(kind, store, today, baselines.get(kind.name))
                                 for kind in kinds]  # fmt: skip
            report["access"] = access_counts(store, today)
    finally:
        report["topic_deleted"] = False
        if not options.keep_topics:
            report["topic_deleted"] = delete_topic(settings, topic)
    report["seconds"] = round(time.monotonic() - began, 1)
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def peak_rss_mb() -> float:
    """This process's peak resident set so far (VmHWM)."""
    return round((procstats.status_kb(os.getpid(), "VmHWM") or 0) / 1024, 1)


def generate(settings: Settings, codec: Codec, count: int, rules: AccessRules, today: dt.date,
             console: Console) -> tuple[dict[str, Any], Samples]:  # fmt: skip
    """Generate and produce `count` records keyed by 档号; the figures and what was kept."""
    registry = load_registry(settings.agencies_file)
    catalog = Catalog([a for a in registry.agencies if a.active], registry.archives.code)
    subject = Subject.for_topic(settings.catalog_topic, ARCHIVAL_RECORD)
    codec.register(subject)
    samples = Samples(every=max(1, count // 2000))
    producer = Producer({**settings.producer_config(), "linger.ms": 50,
                         "batch.num.messages": 10_000, "queue.buffering.max.messages": 200_000,
                         "queue.buffering.max.kbytes": 262_144})  # fmt: skip
    failed: list[str] = []

    def delivered(error: Any, _: Any) -> None:
        if error is not None:
            failed.append(str(error))

    size = 0
    began = time.perf_counter()
    with progress(console) as shown:
        task = shown.add_task("生成 generating and producing", total=count, rate="")
        for index in range(count):
            record = catalog.record()
            samples.keep(index, record, rules, today)
            value = codec.encode(subject, record)
            size += len(value)
            key = record["reference_code"].encode()
            while True:
                try:
                    producer.produce(settings.catalog_topic, value, key, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.05)
            if index % 2000 == 1999:
                producer.poll(0)
                elapsed = time.perf_counter() - began
                shown.update(task, completed=index + 1,
                             rate=f"{(index + 1) / elapsed:,.0f} records/s")  # fmt: skip
        shown.update(task, description="生成 waiting for Kafka's acknowledgements")
        while producer.flush(1.0):
            pass
    seconds = time.perf_counter() - began
    if failed:
        raise RuntimeError(f"{len(failed)} record(s) not produced, first: {failed[0]}")
    figures = {"seconds": round(seconds, 1), "records_per_s": stats.rate(count, seconds),
               "mean_value_bytes": round(size / count), "megabytes": round(size / 1e6, 1)}  # fmt: skip
    return figures, samples


def rebuild(settings: Settings, store: Store, codec: Codec, count: int,
            console: Console) -> dict[str, Any]:  # fmt: skip
    """A fresh store follows the topic until caught up: the figures of `recordflow lookup rebuild`."""
    follower = LookupFollower(store, settings, codec, CollectorRegistry())
    began = time.perf_counter()
    follower.start()
    try:
        with progress(console) as shown:
            task = shown.add_task("重建 rebuilding the store", total=count, rate="")
            while not follower.caught_up.wait(1.0):
                read = sum(store.offsets().values())
                elapsed = time.perf_counter() - began
                shown.update(task, completed=read, rate=f"{read / elapsed:,.0f} records/s")
    finally:
        follower.close()
    seconds = time.perf_counter() - began
    records = store.count()
    main = store.path.stat().st_size
    wal_path = store.path.with_name(store.path.name + "-wal")
    wal = wal_path.stat().st_size if wal_path.exists() else 0
    with store.reading() as db:  # what the records (with their indexes) and the FTS index take
        pages = {name: db.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ?"
                                  " OR name LIKE ?", patterns).fetchone()[0]
                 for name, patterns in (("records", ("records%", "sqlite_autoindex_records%")),
                                        ("index", ("grams%", "grams%")))}  # fmt: skip
    return {
        "records": records, "seconds": round(seconds, 1),
        "records_per_s": stats.rate(records, seconds),
        "store_mb": round((main + wal) / 1e6, 1), "file_mb": round(main / 1e6, 1),
        "wal_mb": round(wal / 1e6, 1), "records_table_mb": round(pages["records"] / 1e6, 1),
        "fts_index_mb": round(pages["index"] / 1e6, 1),
        "bytes_per_record": round((main + wal) / records) if records else None,
    }  # fmt: skip


def measure_store(store: Store, kinds: list[Kind], runs: int, today: dt.date,
                  console: Console) -> None:  # fmt: skip
    """Each kind `runs` times through Store.search, the variants in turn (one warm-up first)."""
    with progress(console) as shown:
        for kind in kinds:
            task = shown.add_task(f"查询 {kind.name}", total=runs, rate="")
            store.search(kind.example, kind.audience, today)
            for run in range(runs):
                query = kind.variants[run % len(kind.variants)]
                began = time.perf_counter()
                found = store.search(query, kind.audience, today)
                kind.latencies_ms.append((time.perf_counter() - began) * 1000)
                kind.hits.append(found.total)
                if run % 10 == 9 or run == runs - 1:
                    shown.update(task, completed=run + 1,
                                 rate=f"p50 {stats.percentile(kind.latencies_ms, 0.5):,.1f} ms")  # fmt: skip


def measure_http(settings: Settings, store: Store, kinds: list[Kind], runs: int,
                 today: dt.date, console: Console) -> list[dict[str, Any]]:  # fmt: skip
    """Kinds of HTTP_KINDS again, as GET /v1/records over loopback to the app in uvicorn (the
    public's: no token)."""
    service = LookupService(settings, store)
    results = []
    with serve_in_thread(create_app(settings, service), "lookup-bench") as url, \
            httpx.Client(base_url=url, timeout=60) as client, progress(console) as shown:  # fmt: skip
        for kind in kinds:
            if kind.name not in HTTP_KINDS:
                continue
            task = shown.add_task(f"HTTP {kind.name}", total=runs, rate="")
            client.get("/v1/records", params=params(kind.example)).raise_for_status()
            latencies = []
            for run in range(runs):
                query = kind.variants[run % len(kind.variants)]
                began = time.perf_counter()
                answer = client.get("/v1/records", params=params(query))
                latencies.append((time.perf_counter() - began) * 1000)
                answer.raise_for_status()
                if run % 10 == 9 or run == runs - 1:
                    shown.update(task, completed=run + 1)
            figures = stats.latency_summary(latencies)
            store_p50 = stats.percentile(kind.latencies_ms[: len(latencies)], 0.5)
            results.append({"kind": kind.name, "runs": runs, **figures,
                            "store_p50_ms": round(store_p50, 1),
                            "overhead_p50_ms": round((figures["p50_ms"] or 0) - store_p50, 1)})  # fmt: skip
    return results


def params(query: Query) -> dict[str, Any]:
    fields = {"q": query.words, "code": query.code, "agency": query.agency,
              "year_from": query.year_from, "year_to": query.year_to, "sort": query.sort,
              "page": query.page, "size": query.size}  # fmt: skip
    return {key: value for key, value in fields.items() if value not in ("", None)}


def measure_baseline(settings: Settings, codec: Codec, kinds: list[Kind], runs: int,
                     rules: AccessRules, today: dt.date, count: int,
                     console: Console) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Each kind's example query, `runs` times, by reading the topic (the repeated-query kind
    is word2's example again: not run twice)."""
    results: dict[str, dict[str, Any]] = {}
    with progress(console) as shown:
        for kind in kinds:
            if kind.name == "word2_same":
                continue
            seconds, hits = [], set()
            for run in range(runs):
                task = shown.add_task(f"基线 baseline {kind.name} {run + 1}/{runs}",
                                      total=count, rate="")  # fmt: skip
                tick = _ticker(shown, task)
                took, found = baseline_query(settings, codec, kind.example, kind.audience, rules,
                                             today, tick)  # fmt: skip
                shown.remove_task(task)
                seconds.append(took)
                hits.add(found)
            results[kind.name] = {"runs": runs, "seconds": round(sum(seconds) / len(seconds), 2),
                                  "seconds_min": round(min(seconds), 2),
                                  "seconds_max": round(max(seconds), 2),
                                  "hits": hits.pop() if len(hits) == 1 else sorted(hits)}  # fmt: skip
    if "word2" in results:
        results["word2_same"] = {**results["word2"], "as": "word2"}
    return results


def _ticker(shown: Progress, task: Any) -> Callable[[int], None]:
    began = time.perf_counter()
    done = [0]

    def tick(count: int) -> None:
        done[0] += count
        rate = done[0] / max(time.perf_counter() - began, 1e-9)
        shown.update(task, completed=done[0], rate=f"{rate:,.0f} records/s")

    return tick


def summary(kind: Kind, store: Store, today: dt.date,
            baseline: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    found: Found = store.search(kind.example, kind.audience, today)
    figures = stats.latency_summary(kind.latencies_ms)
    result: dict[str, Any] = {
        "kind": kind.name, "label": kind.label, "audience": kind.audience,
        "example": params(kind.example),
        "variants": len(kind.variants), "runs": len(kind.latencies_ms), **figures,
        "hits": found.total, "hits_min": min(kind.hits, default=0),
        "hits_max": max(kind.hits, default=0), "returned": len(found.records),
    }  # fmt: skip
    if baseline is not None:
        result["baseline"] = {**baseline, "agrees": baseline["hits"] == found.total}
        if figures["p50_ms"]:
            result["baseline_to_p50"] = round(baseline["seconds"] * 1000 / figures["p50_ms"])
    return result


def access_counts(store: Store, today: dt.date) -> dict[str, int]:
    with store.reading() as db:
        counts = {r[0]: r[1] for r in
                  db.execute("SELECT access, count(*) FROM records GROUP BY access")}  # fmt: skip
        counts["public_now"] = db.execute(
            "SELECT count(*) FROM records WHERE access = 'open' AND opens_on <= ?",
            (today.isoformat(),),
        ).fetchone()[0]
    return counts


def delete_topic(settings: Settings, topic: str) -> bool:
    """Delete the run's topic; whether it is gone."""
    admin = AdminClient({**settings.kafka_config()})
    with contextlib.suppress(KafkaException):
        admin.delete_topics([topic], operation_timeout=30)[topic].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if topic not in admin.list_topics(timeout=10).topics:
            return True
        time.sleep(0.5)
    return False
