"""The gateway's request and response bodies, so that the OpenAPI document is the contract."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FileReceipt(BaseModel):
    sequence: int | None = None
    file_name: str
    staged_key: str = Field(description="Where the file is in the staging bucket")
    size_bytes: int
    sha256: str
    sm3: str


class SubmissionReceipt(BaseModel):
    """What a 202 says: the event, where its files are, and where to ask how it goes."""

    event_id: str
    document_id: str
    agency: str
    upload_id: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    status_url: str = Field(description="GET it for where the document is")
    files: list[FileReceipt]


class Upload(BaseModel):
    upload_id: str
    agency: str
    created_at: str
