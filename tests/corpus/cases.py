"""The bad-input corpus as data: one `Case` per kind of bad input, whose builder makes the exact
messages a misbehaving agency system puts on its ingest topic (and stages the files they point
at), each message with the outcome the pipeline must give it.

Outcomes (`Expected.status`):
- rejected   a dead letter with `reason`; `item` is the DA/T 70 item its message must name
- archived   archived; with `flag` and `item` when the check flags it for review (usability)
- history    no outcome of its own: a lifecycle step kept for the record filed after it
- duplicate  no outcome of its own: the same event again, recognised as the record it already is

Every message that claims to be from an agency system bypasses the SDK (which would refuse most
of them before sending): the builders write events and files the way a broken or hostile system
would, with the codec and S3 client directly.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema

from archival.filenames import safe_filename
from avro_schemas.codec import HEADER, MAGIC_BYTE, Codec, Subject
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT, load_schema_json
from connectors.sdk import event_id_for
from connectors.storage import Digests, Storage
from recordflow.settings import Settings
from tests.corpus import files
from tests.format_samples import encrypted_pdf_bytes, image_bytes, pdf_bytes, pe_executable_bytes

AGENCY = "bgt"
FILED_AT = dt.datetime(2026, 5, 7, 9, 30, tzinfo=dt.UTC)
LARGER_THAN_DECLARED_BYTES = 8 * 1024 * 1024
# An inline file that brings its event to just under the ingest topic's limit (1,048,588 bytes,
# Kafka's default): what the register hop adds would take it over a topic of that limit.
NEAR_LIMIT_INLINE_BYTES = 1_040_000
NEAR_LIMIT_EVENT_BYTES = 1_040_000


@dataclass(frozen=True)
class Expected:
    status: str  # rejected | archived | history | duplicate
    reason: str | None = None
    item: str | None = None
    flag: str | None = None

    def __str__(self) -> str:
        said = [self.status, self.reason, self.flag, self.item]
        return " ".join(part for part in said if part)


@dataclass(frozen=True)
class Message:
    """One message put on an ingest topic."""

    topic: str
    key: bytes
    value: bytes
    expected: Expected
    document_id: str | None = None  # what an archived record of it carries
    action: str | None = None  # the lifecycle step, as a record's business history names it


Builder = Callable[["Kit", str], list[Message]]


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    build: Builder


def rejected(reason: str, item: str | None = None) -> Expected:
    return Expected("rejected", reason, item)


def flagged(item: str) -> Expected:
    return Expected("archived", item=item, flag="usability-review")


ARCHIVED = Expected("archived")
HISTORY = Expected("history")
DUPLICATE = Expected("duplicate")


class Kit:
    """What the builders use: the pipeline's settings, the schema registry and S3."""

    def __init__(self, settings: Settings, codec: Codec, storage: Storage) -> None:
        self.settings = settings
        self.codec = codec
        self.storage = storage
        self._numbers = iter(range(1, 10_000))

    def topic(self, agency: str = AGENCY) -> str:
        return self.settings.ingest_topic(agency)

    def stage(self, case: str, data: bytes, name: str = "通知.pdf", *, agency: str = AGENCY,
              mime_type: str | None = "application/pdf", sequence: int = 1) -> dict[str, Any]:  # fmt: skip
        """Stage `data` as an agency system does and return its honest Component."""
        key = f"{agency}/corpus-{case}/{sequence:02d}-{safe_filename(name)}"
        digests = self.storage.stage(key, io.BytesIO(data), len(data), "application/octet-stream")
        return component(name, digests, self.settings.staging_bucket, key, mime_type, sequence)

    def event(self, case: str, components: list[dict[str, Any]], *, agency: str = AGENCY,
              action: str = "FILED", event_time: dt.datetime = FILED_AT,
              document_id: str | None = None, **description: Any) -> dict[str, Any]:  # fmt: skip
        document_id = document_id or f"CORPUS-{case}"
        sha256s = [c["checksums"][0]["value"] for c in components]
        return {
            "event_id": event_id_for(agency, document_id, action, sha256s),
            "action": action,
            "event_time": event_time,
            "agency": {"code": agency, "name": "市人民政府办公厅"},
            "document_id": document_id,
            "upload_id": f"corpus-{case}",
            "source_system": "OA",
            "actor": "王秘书",
            "description": {**self.description(), **description},
            "components": components,
        }

    def description(self) -> dict[str, Any]:
        """A valid 通知 of the city government office, its 文号 unique within the corpus (so no
        two cases are duplicates of each other by 文号 + 题名)."""
        return {
            "title": "关于做好2026年汛期安全生产工作的通知",
            "document_number": f"市府办发〔2026〕{100 + next(self._numbers)}号",
            "responsible_party": "市人民政府办公厅",
            "document_date": dt.date(2026, 5, 6),
            "document_type": "通知",
            "security_classification": "公开",
            "urgency": None,
            "keywords": ["防汛", "安全生产"],
            "abstract": None,
            "unit_code": "BGS",
            "year": 2026,
            "page_count": 2,
            "language": "zh",
        }

    def encode(self, event: dict[str, Any], agency: str = AGENCY) -> bytes:
        subject = Subject.for_topic(self.topic(agency), DOCUMENT_LIFECYCLE_EVENT)
        return self.codec.encode(subject, event)

    def send(self, event: dict[str, Any], expected: Expected, *, agency: str = AGENCY) -> Message:
        """The event encoded as the SDK would, keyed by its document id."""
        return Message(self.topic(agency), event["document_id"].encode(), self.encode(event),
                       expected, event["document_id"], str(event["action"]).lower())  # fmt: skip

    def raw(self, case: str, value: bytes, expected: Expected) -> Message:
        return Message(self.topic(), f"CORPUS-{case}".encode(), value, expected)

    def rogue_schema_id(self, name: str, schema: dict[str, Any]) -> int:
        """Register `schema` under a subject of its own (the ingest subject's compatibility would
        refuse it), as a system that brings its own schema does."""
        subject = f"{self.settings.topic_prefix}corpus-{name}-value"
        return self.codec.registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))


def component(name: str, digests: Digests, bucket: str, key: str, mime_type: str | None,
              sequence: int = 1) -> dict[str, Any]:  # fmt: skip
    return {
        "sequence": sequence,
        "is_main": sequence == 1,
        "title": None,
        "file_name": name,
        "mime_type": mime_type,
        "size_bytes": digests.size,
        "checksums": [
            {"algorithm": "SHA256", "value": digests.sha256.hexdigest()},
            {"algorithm": "SM3", "value": digests.sm3.hexdigest()},
        ],
        "payload": {"bucket": bucket, "key": key, "version_id": None, "inline_content": None},
    }


def _digests(data: bytes) -> Digests:
    digests = Digests()
    digests.update(data)
    return digests


# --- builders ------------------------------------------------------------------------------
def _good(kit: Kit, case: str, **description: Any) -> dict[str, Any]:
    return kit.event(case, [kit.stage(case, pdf_bytes(2))], **description)


def _one(expected: Expected, **description: Any) -> Builder:
    """A case of one valid event but for `description` changes."""

    def build(kit: Kit, case: str) -> list[Message]:
        return [kit.send(_good(kit, case, **description), expected)]

    return build


def _with_file(name: str, data: Callable[[], bytes], expected: Expected,
               mime_type: str | None = "application/pdf") -> Builder:  # fmt: skip
    """A case of one valid event whose one file is `data`, sent as `name`."""

    def build(kit: Kit, case: str) -> list[Message]:
        staged = kit.stage(case, data(), name, mime_type=mime_type)
        return [kit.send(kit.event(case, [staged]), expected)]

    return build


def _with_component(expected: Expected, data: bytes | None = None,
                    **changes: Any) -> Builder:  # fmt: skip
    """A case whose one component, honestly staged, then has `changes` (a lie about it)."""

    def build(kit: Kit, case: str) -> list[Message]:
        staged = kit.stage(case, pdf_bytes(2) if data is None else data)
        return [kit.send(kit.event(case, [{**staged, **changes}]), expected)]

    return build


def not_avro_json(kit: Kit, case: str) -> list[Message]:
    event = _good(kit, case)
    text = json.dumps(event, default=str, ensure_ascii=False).encode()  # JSON, not Avro
    return [kit.raw(case, text, rejected("not-avro"))]


def a_pdf_instead_of_an_event(kit: Kit, case: str) -> list[Message]:
    return [kit.raw(case, pdf_bytes(1), rejected("not-avro"))]


def empty_value(kit: Kit, case: str) -> list[Message]:
    return [kit.raw(case, b"", rejected("not-avro"))]


def unknown_schema_id(kit: Kit, case: str) -> list[Message]:
    valid = kit.encode(_good(kit, case))
    forged = HEADER.pack(MAGIC_BYTE, 2_000_000_000) + valid[HEADER.size :]
    return [kit.raw(case, forged, rejected("unknown-schema"))]


def truncated_header(kit: Kit, case: str) -> list[Message]:
    return [kit.raw(case, kit.encode(_good(kit, case))[:3], rejected("not-avro"))]


def truncated_body(kit: Kit, case: str) -> list[Message]:
    valid = kit.encode(_good(kit, case))
    return [kit.raw(case, valid[: len(valid) // 2], rejected("malformed-avro"))]


def trailing_bytes(kit: Kit, case: str) -> list[Message]:
    valid = kit.encode(_good(kit, case))
    return [kit.raw(case, valid + b"\x00\x02junk", rejected("malformed-avro"))]


def _rogue(kit: Kit, case: str, schema: dict[str, Any], value: dict[str, Any]) -> bytes:
    schema_id = kit.rogue_schema_id(case, schema)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(copy.deepcopy(schema)), value)
    return HEADER.pack(MAGIC_BYTE, schema_id) + body.getvalue()


def missing_fields(kit: Kit, case: str) -> list[Message]:
    """A system with its own older schema: no description, no components."""
    schema = json.loads(load_schema_json(DOCUMENT_LIFECYCLE_EVENT))
    dropped = ("description", "components")
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in dropped]
    event = _good(kit, case)
    for name in dropped:
        del event[name]
    return [kit.raw(case, _rogue(kit, case, schema, event), rejected("schema-mismatch"))]


def date_out_of_range(kit: Kit, case: str) -> list[Message]:
    """A document date of 2^31-1 days after 1970: no calendar has that day."""
    text = load_schema_json(DOCUMENT_LIFECYCLE_EVENT)
    plain = json.loads(text.replace('{"type": "int", "logicalType": "date"}', '"int"'))
    event = _good(kit, case)
    event["description"]["document_date"] = 2**31 - 1
    return [kit.raw(case, _rogue(kit, case, plain, event), rejected("malformed-avro"))]


def event_time_out_of_range(kit: Kit, case: str) -> list[Message]:
    text = load_schema_json(DOCUMENT_LIFECYCLE_EVENT)
    plain = json.loads(
        text.replace('{"type": "long", "logicalType": "timestamp-millis"}', '"long"')
    )
    event = _good(kit, case)
    event["event_time"] = 2**62
    return [kit.raw(case, _rogue(kit, case, plain, event), rejected("malformed-avro"))]


def oversized_document_id(kit: Kit, case: str) -> list[Message]:
    event = _good(kit, case)
    event["document_id"] = "BGT-" + "9" * 5000
    return [Message(kit.topic(), f"CORPUS-{case}".encode(), kit.encode(event),
                    rejected("invalid-document-id"), event["document_id"])]  # fmt: skip


def declared_size_over_limit(kit: Kit, case: str) -> list[Message]:
    staged = kit.stage(case, pdf_bytes(1))
    event = kit.event(case, [{**staged, "size_bytes": 40 * 1024**3}])
    return [kit.send(event, rejected("size-limit"))]


def zero_byte_file(kit: Kit, case: str) -> list[Message]:
    return [kit.send(kit.event(case, [kit.stage(case, b"")]), rejected("empty-file"))]


def staged_empty_declared_not(kit: Kit, case: str) -> list[Message]:
    """The upload failed half-way and left an empty object; the event declares the real file."""
    real = pdf_bytes(2)
    staged = kit.stage(case, b"")
    declared = _digests(real)
    lie = component("通知.pdf", declared, staged["payload"]["bucket"], staged["payload"]["key"],
                    "application/pdf")  # fmt: skip
    return [kit.send(kit.event(case, [lie]), rejected("size-mismatch"))]


def larger_than_declared(kit: Kit, case: str) -> list[Message]:
    """The event declares the first 2 KiB; 8 MiB sit in staging."""
    data = pdf_bytes(2)
    declared = _digests(data[:2048])
    staged = kit.stage(case, data + bytes(LARGER_THAN_DECLARED_BYTES))
    lie = component("通知.pdf", declared, staged["payload"]["bucket"], staged["payload"]["key"],
                    "application/pdf")  # fmt: skip
    return [kit.send(kit.event(case, [lie]), rejected("size-mismatch"))]


def payload_missing(kit: Kit, case: str) -> list[Message]:
    staged = kit.stage(case, pdf_bytes(1))
    gone = {**staged["payload"], "key": f"{AGENCY}/corpus-{case}/never-uploaded.pdf"}
    return [kit.send(kit.event(case, [{**staged, "payload": gone}]), rejected("payload-missing"))]


def payload_of_another_agency(kit: Kit, case: str) -> list[Message]:
    staged = kit.stage(case, pdf_bytes(1), agency="zjj")
    return [kit.send(kit.event(case, [staged]), rejected("unsafe-staged-key"))]


def staged_key_traversal(kit: Kit, case: str) -> list[Message]:
    """bgt's event names zjj's file through `..`: a client that resolves the path would read it."""
    staged = kit.stage(case, pdf_bytes(1), agency="zjj")
    climbing = {**staged["payload"], "key": f"{AGENCY}/../{staged['payload']['key']}"}
    return [
        kit.send(kit.event(case, [{**staged, "payload": climbing}]), rejected("unsafe-staged-key"))
    ]


def no_document_number_declared(kit: Kit, case: str) -> list[Message]:
    """A 报告 issued without a 文号, the agency declaring so: archived, the declaration kept."""
    event = _good(kit, case, document_type="报告", document_number=None,
                  title="2026年4月全市政务服务统计月报")  # fmt: skip
    return [kit.send({**event, "absent_elements": ["document_number"]}, ARCHIVED)]


def no_document_number_undeclared(kit: Kit, case: str) -> list[Message]:
    event = _good(kit, case, document_type="报告", document_number=None,
                  title="2026年5月全市政务服务统计月报")  # fmt: skip
    return [kit.send(event, rejected("missing-document-number"))]


def near_the_size_limit(kit: Kit, case: str) -> list[Message]:
    """A file riding inline in an event just under the ingest topic's 1 MiB: the register hop
    adds headers to it, and must still take it."""
    content = pdf_bytes(1)
    content += b"%" + b"0" * (NEAR_LIMIT_INLINE_BYTES - len(content) - 1)
    digests = Digests()
    digests.update(content)
    inline = component(
        "通知.pdf", digests, kit.settings.staging_bucket, "unused", "application/pdf"
    )
    inline["payload"] = {"bucket": None, "key": None, "version_id": None, "inline_content": content}
    # The padding after the PDF's end leaves it flagged for usability review (YJ-3): archived all
    # the same, which is what this case is about.
    return [kit.send(kit.event(case, [inline]), Expected("archived", flag="usability-review"))]


def history_too_large_for_a_record(kit: Kit, case: str) -> list[Message]:
    """An event just under the ingest topic's 1 MiB, all of it business history: its record would
    not fit records.archival-ready.v1 with the record's own evidence added, so it is refused
    before it takes an item number."""
    step = {"action": "approved", "time": FILED_AT, "actor": "王秘书", "organisation": "办公厅",
            "status": None, "basis": None, "description": "核稿意见：" + "同意。" * 300}  # fmt: skip
    event = _good(kit, case)
    while len(kit.encode(event)) < NEAR_LIMIT_EVENT_BYTES:
        event = {**event, "history": [*event.get("history", []), step]}
    return [kit.send(event, rejected("record-too-large"))]


def checksum_mismatch(kit: Kit, case: str) -> list[Message]:
    staged = kit.stage(case, pdf_bytes(2))
    other = _digests(pdf_bytes(3)[: staged["size_bytes"]])
    sums = [{"algorithm": "SHA256", "value": other.sha256.hexdigest()}, staged["checksums"][1]]
    event = kit.event(case, [{**staged, "checksums": sums}])
    return [kit.send(event, rejected("checksum-mismatch"))]


def agency_mismatch(kit: Kit, case: str) -> list[Message]:
    event = _good(kit, case)
    event["agency"] = {"code": "zjj", "name": "市住房和城乡建设局"}
    return [kit.send(event, rejected("agency-mismatch"))]


def unknown_agency(kit: Kit, case: str) -> list[Message]:
    event = _good(kit, case)
    event["agency"] = {"code": "xyz", "name": "不存在的局"}
    return [kit.send(event, rejected("unknown-agency"))]


def resent_event(kit: Kit, case: str) -> list[Message]:
    """The same event, byte for byte, sent twice (a retry after a lost acknowledgement)."""
    first = kit.send(_good(kit, case), ARCHIVED)
    return [first, Message(first.topic, first.key, first.value, DUPLICATE, first.document_id,
                           first.action)]  # fmt: skip


def event_id_reused(kit: Kit, case: str) -> list[Message]:
    """A second, different document that carries the event id of one already archived."""
    first = _good(kit, case)
    other = kit.event(f"{case}-other", [kit.stage(f"{case}-other", pdf_bytes(3))])
    other["event_id"] = first["event_id"]
    return [kit.send(first, ARCHIVED), kit.send(other, rejected("event-id-conflict"))]


def steps_out_of_order(kit: Kit, case: str) -> list[Message]:
    """APPROVED arrives before CREATED (their times are in order), then the filing."""
    staged = kit.stage(case, pdf_bytes(2))
    steps = [
        kit.event(case, [staged], action=action, event_time=FILED_AT - dt.timedelta(days=days))
        for action, days in (("APPROVED", 2), ("CREATED", 5))
    ]
    filed = kit.event(case, [staged])
    return [kit.send(steps[0], HISTORY), kit.send(steps[1], HISTORY), kit.send(filed, ARCHIVED)]


def step_after_filing(kit: Kit, case: str) -> list[Message]:
    """The filing event, then a CREATED step for the same document that arrives after it."""
    staged = kit.stage(case, pdf_bytes(2))
    filed = kit.event(case, [staged])
    late = kit.event(case, [staged], action="CREATED", event_time=FILED_AT - dt.timedelta(days=9))
    return [kit.send(filed, ARCHIVED), kit.send(late, rejected("lifecycle-after-filing"))]


def _truncated_pdf() -> bytes:
    data = pdf_bytes(3)
    return data[: len(data) // 2]


def _gbk_read_as_latin1(text: str) -> str:
    return text.encode("gbk").decode("latin-1")


def _utf8_read_as_gbk(text: str) -> str:
    return text.encode("utf-8").decode("gbk")  # only for text whose UTF-8 bytes happen to be GBK


TITLE = "关于做好2026年汛期安全生产工作的通知"


CASES = [Case(*case) for case in [
    # --- bytes that are not a lifecycle event --------------------------------------------
    ("not-avro-json", "the event as JSON text", not_avro_json),
    ("not-avro-pdf", "a PDF file put on the topic instead of an event", a_pdf_instead_of_an_event),
    ("empty-value", "an empty message", empty_value),
    ("unknown-schema-id", "a valid body behind a schema id the registry never gave",
     unknown_schema_id),
    ("truncated-header", "the first 3 bytes of an event", truncated_header),
    ("truncated-body", "an event cut in half", truncated_body),
    ("trailing-bytes", "an event followed by junk", trailing_bytes),
    ("missing-fields", "written with a schema of its own that lacks description and components",
     missing_fields),
    ("date-out-of-range", "document date 2^31-1 days after 1970 (a schema of its own)",
     date_out_of_range),
    ("event-time-out-of-range", "event time 2^62 ms after 1970 (a schema of its own)",
     event_time_out_of_range),
    # --- missing and oversized fields -----------------------------------------------------
    ("missing-title", "empty title", _one(rejected("missing-title"), title="")),
    ("blank-responsible-party", "responsible party of spaces",
     _one(rejected("missing-responsible-party"), responsible_party="   ")),
    ("missing-document-number", "a 通知 without its 文号",
     _one(rejected("missing-document-number"), document_number=None)),
    ("title-too-long", "a 600-character title", _one(rejected("title-too-long"), title="通" * 600)),
    ("keyword-too-long", "a 60-character keyword",
     _one(rejected("value-too-long"), keywords=["防" * 60])),
    ("oversized-document-id", "a 5004-character document id", oversized_document_id),
    ("declared-size-over-limit", "a file declared as 40 GiB", declared_size_over_limit),
    # --- impossible dates -------------------------------------------------------------------
    ("future-date", "document date in 2030",
     _one(rejected("future-date"), document_date=dt.date(2030, 1, 1))),
    ("date-before-1949", "document date in 1900",
     _one(rejected("date-too-early"), document_date=dt.date(1900, 1, 1), year=1900)),
    ("year-before-date", "filed in 2025, dated 2026",
     _one(rejected("invalid-year"), year=2025)),
    # --- mojibake and stray characters -----------------------------------------------------
    ("replacement-characters", "U+FFFD where a decoder gave up",
     _one(rejected("stray-characters"), title="关于做好2026年\ufffd\ufffd安全生产工作的通知")),
    ("nul-in-title", "a NUL inside the title",
     _one(rejected("stray-characters"), title="关于做好\x002026年汛期工作的通知")),
    ("not-nfc", "a title in decomposed Unicode (NFD)",
     _one(rejected("not-normalized"), title=unicodedata.normalize("NFD", "关于Café项目的通知"))),
    ("mojibake-gbk-as-latin1", "GBK title read as Latin-1",
     _one(flagged("YJ-3-1"), title=_gbk_read_as_latin1(TITLE))),
    ("mojibake-utf8-as-gbk", "UTF-8 keyword 文件管理 read as GBK",
     _one(flagged("YJ-3-1"), keywords=[_utf8_read_as_gbk("文件管理")])),
    ("mojibake-file-name", "file name 文件.pdf in UTF-8 read as GBK",
     _with_file(_utf8_read_as_gbk("文件") + ".pdf", lambda: pdf_bytes(2), flagged("YJ-3-1"))),
    # --- unsafe file names (in the component, as a system that skips the SDK sends them) --
    ("name-dot-dot", "../../../etc/cron.d/通知.pdf",
     _with_component(rejected("unsafe-file-name"), file_name="../../../etc/cron.d/通知.pdf")),
    ("name-absolute", "/var/lib/recordflow/通知.pdf",
     _with_component(rejected("unsafe-file-name"), file_name="/var/lib/recordflow/通知.pdf")),
    ("name-windows-path", "C:\\Users\\admin\\通知.pdf",
     _with_component(rejected("unsafe-file-name"), file_name="C:\\Users\\admin\\通知.pdf")),
    ("name-nul", "通知.pdf NUL .exe",
     _with_component(rejected("unsafe-file-name"), file_name="通知.pdf\x00.exe")),
    ("name-very-long", "a 300-character file name (900 bytes)",
     _with_component(rejected("unsafe-file-name"), file_name="通" * 300 + ".pdf")),
    ("name-reserved", "CON.pdf, a Windows device",
     _with_component(rejected("unsafe-file-name"), file_name="CON.pdf")),
    ("name-dots", "a file name that is ..",
     _with_component(rejected("unsafe-file-name"), file_name="..")),
    # --- files that are not what the event says ------------------------------------------
    ("zero-byte-file", "an empty file, declared empty", zero_byte_file),
    ("staged-empty", "an empty object where the declared file should be",
     staged_empty_declared_not),
    ("larger-than-declared", "8 MiB staged, 2 KiB declared", larger_than_declared),
    ("payload-missing", "a staging key nobody uploaded", payload_missing),
    ("payload-of-another-agency", "a file in zjj's staging prefix", payload_of_another_agency),
    ("staged-key-traversal", "bgt/../zjj/…: another agency's file by a path to resolve",
     staged_key_traversal),
    ("checksum-mismatch", "a SHA-256 of other bytes", checksum_mismatch),
    ("ofd-bomb", "an OFD whose page content inflates to 1 GiB",
     _with_file("通知.ofd", files.ofd_bomb, rejected("compression-bomb"), "application/ofd")),
    ("docx-bomb", "a .docx whose [Content_Types].xml inflates to 1 GiB",
     _with_file("通知.docx", files.docx_bomb, rejected("compression-bomb"), None)),
    ("pdf-bomb", "a PDF whose page content stream inflates to 1 GiB",
     _with_file("通知.pdf", files.pdf_bomb, rejected("compression-bomb"))),
    ("encrypted-pdf", "a PDF that needs a password to open",
     _with_file("通知.pdf", lambda: encrypted_pdf_bytes("secret"), flagged("YJ-3-3"))),
    ("truncated-pdf", "half of a PDF", _with_file("通知.pdf", _truncated_pdf, flagged("YJ-3-2"))),
    ("png-named-pdf", "a PNG scan sent as 通知.pdf, application/pdf",
     _with_file("通知.pdf", lambda: image_bytes("PNG"),
                rejected("four-property-check-failed", "YJ-1-4"))),
    ("exe-named-pdf", "a Windows executable sent as 通知.pdf",
     _with_file("通知.pdf", pe_executable_bytes,
                rejected("four-property-check-failed", "YJ-1-4"))),
    # --- who sent it ------------------------------------------------------------------------
    ("agency-mismatch", "zjj's event on bgt's topic", agency_mismatch),
    ("unknown-agency", "an agency code nobody registered", unknown_agency),
    ("classified", "a 机密 record", _one(rejected("classified-not-accepted"),
                                          security_classification="机密")),
    # --- metadata the agency declares absent (无文号) ------------------------------------
    ("no-document-number-declared", "a 报告 with no 文号, declared so", no_document_number_declared),
    ("no-document-number-undeclared", "a 报告 with no 文号, said nothing",
     no_document_number_undeclared),
    # --- sizes -------------------------------------------------------------------------------
    ("near-the-size-limit", "an event of ~1 MiB: a file riding inline", near_the_size_limit),
    ("history-too-large", "~1 MiB of business history", history_too_large_for_a_record),
    # --- duplicates and lifecycle order ----------------------------------------------------
    ("resent-event", "the same event twice, byte for byte", resent_event),
    ("event-id-reused", "another document under an archived event's id", event_id_reused),
    ("steps-out-of-order", "APPROVED before CREATED, then FILED", steps_out_of_order),
    ("step-after-filing", "a CREATED step that arrives after the filing", step_after_filing),
]]  # fmt: skip


def build_corpus(kit: Kit) -> list[tuple[str, str, list[Message]]]:
    """Every case's messages, in the order they are to be sent."""
    return [(case.name, case.what, case.build(kit, case.name)) for case in CASES]


def good_document(kit: Kit, name: str = "sentinel") -> Message:
    """A sound document, sent after the corpus: the worker must still archive it."""
    return kit.send(_good(kit, name), ARCHIVED)
