"""`POST /v1/submissions` (one step: metadata and files in one multipart request) and
`GET /v1/submissions/{event_id}` (where the document is)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from connectors.gateway.auth import Caller, GatewayDep
from connectors.gateway.idempotency import HEADER, KEY, checked_key
from connectors.gateway.limits import check_declared_length, limited
from connectors.gateway.models import SubmissionReceipt
from connectors.gateway.service import IncomingFile, declared_type
from connectors.gateway.status import SubmissionStatus
from connectors.problems import HttpProblem, responses

router = APIRouter(prefix="/v1/submissions", tags=["submissions"])

EVENT_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_FILES = 100  # a document's components; more is not a document
MAX_METADATA_BYTES = 1024 * 1024
IdempotencyKey = Annotated[
    str | None,
    Header(alias=HEADER, pattern=KEY.pattern, description="Retry with the same key: the same receipt, never a second "
           "event; the same key with another request is 409."),
]  # fmt: skip
ONE_STEP_BODY = {
    "requestBody": {
        "required": True,
        "description": "At most RECORDFLOW_GATEWAY_MAX_SUBMISSION_BYTES (default 32 MiB) in all; "
        "larger files go through /v1/uploads.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata", "file"],
                    "properties": {
                        "metadata": {
                            "type": "string",
                            "description": "The submission's metadata as JSON: the object "
                            "`recordflow submit --metadata` reads, optionally with `agency`.",
                        },
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "The document's files, the main document first.",
                        },
                    },
                }
            }
        },
    }
}


def parse_metadata(text: str | bytes) -> dict[str, Any]:
    try:
        metadata = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpProblem("invalid-request", 400, f"metadata is not JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise HttpProblem("invalid-request", 400, "metadata must be a JSON object")
    return metadata


@router.post(
    "", status_code=202, response_model=SubmissionReceipt, openapi_extra=ONE_STEP_BODY,
    responses=responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
    summary="Submit a document: metadata and files in one request",
)  # fmt: skip
async def submit(request: Request, agency: Caller, gateway: GatewayDep,
                 idempotency_key: IdempotencyKey = None) -> dict[str, Any]:  # fmt: skip
    key = checked_key(idempotency_key)
    limit = gateway.settings.gateway_max_submission_bytes
    check_declared_length(request.headers.get("content-length"), limit, "the submission")
    counted = Request(request.scope, limited(request.receive, limit, "the submission"))
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HttpProblem("invalid-request", 415, "send multipart/form-data")
    async with counted.form(max_files=MAX_FILES, max_fields=10,
                            max_part_size=MAX_METADATA_BYTES) as form:  # fmt: skip
        metadata_part = form.get("metadata")
        if metadata_part is None:
            raise HttpProblem("invalid-request", 400, "a `metadata` part is required")
        if isinstance(metadata_part, UploadFile):  # curl -F metadata=@meta.json
            metadata = parse_metadata(await metadata_part.read(MAX_METADATA_BYTES + 1))
        else:
            metadata = parse_metadata(metadata_part)
        parts = form.getlist("file")
        if not parts or not all(isinstance(part, UploadFile) for part in parts):
            raise HttpProblem("invalid-request", 400,
                                 "one or more `file` parts (files, with a filename) are required")  # fmt: skip
        files = [
            IncomingFile(
                part.filename or f"file-{n}",
                declared_type(part.content_type),
                part.file,
                part.size or 0,
            )
            for n, part in enumerate(parts, start=1)
            if isinstance(part, UploadFile)
        ]
        receipt = await run_in_threadpool(gateway.submit, agency, metadata, files, key)
    request.state.event_id = receipt["event_id"]
    return receipt


@router.get(
    "/{event_id}", response_model=SubmissionStatus, responses=responses(401, 403, 404, 429, 503),
    summary="Where a submitted document is",
)  # fmt: skip
async def submission_status(
    request: Request, agency: Caller, gateway: GatewayDep,
    event_id: Annotated[str, Path(pattern=EVENT_ID, description="The receipt's event_id")],
) -> SubmissionStatus:  # fmt: skip
    request.state.event_id = event_id
    return await run_in_threadpool(gateway.status, agency, event_id)
