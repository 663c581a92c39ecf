"""The two-step form, for large files: `POST /v1/uploads` creates an upload, `PUT
/v1/uploads/{id}/files/{sequence}?file_name=…` sends one file's body (each up to
RECORDFLOW_MAX_FILE_BYTES), `POST /v1/uploads/{id}/commit` with the metadata submits them.
Only the agency that created an upload may use it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from connectors.gateway.auth import Caller, GatewayDep
from connectors.gateway.idempotency import checked_key
from connectors.gateway.limits import check_declared_length
from connectors.gateway.models import FileReceipt, SubmissionReceipt, Upload
from connectors.gateway.pipe import BodyPipe
from connectors.gateway.service import declared_type
from connectors.gateway.submissions import IdempotencyKey
from connectors.problems import responses

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

UploadId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="From POST /v1/uploads")]
FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes; its Content-Type is the declared media type "
        "(application/octet-stream: none declared). At most RECORDFLOW_MAX_FILE_BYTES.",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("", status_code=201, response_model=Upload, responses=responses(401, 429, 503),
             summary="Create an upload for large files")  # fmt: skip
async def create_upload(agency: Caller, gateway: GatewayDep) -> dict[str, Any]:
    return await run_in_threadpool(gateway.create_upload, agency)


@router.put(
    "/{upload_id}/files/{sequence}", response_model=FileReceipt, openapi_extra=FILE_BODY,
    responses=responses(401, 403, 404, 409, 413, 422, 429, 503),
    summary="Send one file of an upload (1 is the main document)",
)  # fmt: skip
async def put_file(
    request: Request, agency: Caller, gateway: GatewayDep, upload_id: UploadId,
    sequence: Annotated[int, Path(ge=1, le=999)],
    file_name: Annotated[str, Query(min_length=1, max_length=255)],
) -> dict[str, Any]:  # fmt: skip
    limit = gateway.settings.max_file_bytes
    declared = request.headers.get("content-length")
    check_declared_length(declared, limit, "the file")
    length = int(declared) if declared is not None and declared.isdigit() else -1
    mime_type = declared_type(request.headers.get("content-type"))
    pipe = BodyPipe()

    def stage() -> dict[str, Any]:
        try:
            return gateway.put_file(agency, upload_id, sequence, file_name, mime_type, pipe, length)
        finally:
            pipe.reader_done.set()

    staging = asyncio.ensure_future(run_in_threadpool(stage))
    try:
        await pipe.feed(request.stream(), limit, "the file")
    except BaseException:
        with contextlib.suppress(BaseException):
            await staging  # aborted by the pipe: the request's own failure is the answer
        raise
    return await staging


@router.post(
    "/{upload_id}/commit", status_code=202, response_model=SubmissionReceipt,
    responses=responses(400, 401, 403, 404, 409, 422, 429, 503),
    summary="Submit an upload's files with the document's metadata",
)  # fmt: skip
async def commit(
    request: Request, agency: Caller, gateway: GatewayDep, upload_id: UploadId,
    metadata: Annotated[dict[str, Any], Body(description="The metadata, as in /v1/submissions")],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:  # fmt: skip
    key = checked_key(idempotency_key)
    receipt = await run_in_threadpool(gateway.commit, agency, upload_id, metadata, key)
    request.state.event_id = receipt["event_id"]
    return receipt
