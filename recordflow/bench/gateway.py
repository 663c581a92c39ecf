"""`recordflow bench --via gateway`: submissions over HTTP, and what they cost against the SDK.

In a gateway run the simulated agencies submit through a gateway process of the run's own
(recordflow/localstack/gateway.py: `recordflow gateway` as production runs it, sharing no
interpreter with the load), each submitting thread with its own HTTP client and its
agency's token, and the pipeline figures are for that door. After the run, `compare` measures
submissions alone, with no worker running, on the same payloads and with the same number of
threads: first through the SDK (stage, then produce and wait for Kafka's confirmation, as
`recordflow submit` does), then through the gateway (one multipart POST, answered once Kafka has
confirmed the event). Both reach the same point — the event durable on its ingest topic — so
their rates compare what the HTTP door adds.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from avro_schemas.codec import Codec
from avro_schemas.schemas import DOCUMENT_LIFECYCLE_EVENT
from connectors.gateway import credentials
from connectors.readback import read_topic
from connectors.sdk import FileToSubmit, Submitter
from recordflow.agencies import Agency, AgencyRegistry
from recordflow.bench import stats
from recordflow.bench.baselines import BaselineInput
from recordflow.bench.payloads import PayloadPlan, base_pdf, document_metadata, padded_pdf
from recordflow.localstack.gateway import gateway_process, post_submission, wait_accepted
from recordflow.settings import Settings

UNIT_CODE = "BGS"
COMPARE_RECORDS = 100  # submissions per door in the comparison (at most the run's records)


class HttpSubmitter:
    """Agency systems over HTTP: one client per thread (httpx clients keep their connections),
    each agency's own token."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def submit(self, agency: str, metadata: dict[str, Any], path: Path) -> str:
        """POST /v1/submissions; the event id of the 202."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=120)
            with self._lock:
                self._clients.append(client)
        return post_submission(client, self.url, self.tokens[agency], metadata, [path])

    def close(self) -> None:
        for client in self._clients:
            client.close()


@contextmanager
def serving(settings: Settings, registry: AgencyRegistry) -> Iterator[HttpSubmitter]:
    """A gateway for the run's topics and a token per agency, revoked afterwards."""
    tokens = {a.code: credentials.issue(settings, a.code, registry)[1] for a in registry.agencies}
    try:
        with gateway_process(settings) as url:
            for token in tokens.values():
                wait_accepted(url, token)
            http = HttpSubmitter(url, tokens)
            try:
                yield http
            finally:
                http.close()
    finally:
        for token in tokens.values():
            credentials.revoke(settings, credentials.token_id_of(token))


def events_submitted(settings: Settings, agencies: list[Agency], limit: int) -> list[BaselineInput]:
    """The run's lifecycle events as the gateway produced them, for the raw baselines."""
    codec = Codec.from_url(settings.schema_registry_url)
    inputs: list[BaselineInput] = []
    for agency in agencies:
        for _, value in read_topic(settings, settings.ingest_topic(agency.code)):
            if value is not None and len(inputs) < limit:
                inputs.append(
                    BaselineInput(agency.code, codec.decode(value, DOCUMENT_LIFECYCLE_EVENT))
                )
    return inputs


def compare(settings: Settings, registry: AgencyRegistry, plan: PayloadPlan, count: int,
            threads: int, run_id: str, folder: Path) -> dict[str, Any]:  # fmt: skip
    """Submissions per second and per-submission latency through the SDK and the gateway."""
    agencies = list(registry.agencies)
    pdfs = {agency.code: base_pdf(agency.name) for agency in agencies}

    def payload(door: str, index: int) -> tuple[Agency, dict[str, Any], Path]:
        agency = agencies[index % len(agencies)]
        metadata = document_metadata(f"{run_id}{door}", index, agency.name, UNIT_CODE,
                                     dt.date.today())  # fmt: skip
        path = folder / f"{metadata['document_id']}.pdf"
        path.write_bytes(padded_pdf(pdfs[agency.code], plan.size_of(index)))
        return agency, metadata, path

    submitters = [Submitter(settings, registry) for _ in range(threads)]
    for submitter in submitters:
        submitter.warm_up()
    free = list(submitters)
    local = threading.local()

    def by_sdk(index: int) -> None:
        if getattr(local, "submitter", None) is None:
            local.submitter = free.pop()
        agency, metadata, path = payload("s", index)
        local.submitter.submit(agency.code, [FileToSubmit(path, mime_type="application/pdf")],
                               metadata)  # fmt: skip
        path.unlink()

    try:
        sdk = _measure(by_sdk, count, threads)
    finally:
        for submitter in submitters:
            submitter.close()
    with serving(settings, registry) as http:

        def by_gateway(index: int) -> None:
            agency, metadata, path = payload("g", index)
            http.submit(agency.code, metadata, path)
            path.unlink()

        gateway = _measure(by_gateway, count, threads)
    return {
        "submissions_compared": count,
        "sdk": sdk,
        "gateway": gateway,
        "gateway_to_sdk": stats.ratio(gateway["per_s"], sdk["per_s"]),
    }


def _measure(submit_one: Callable[[int], None], count: int, threads: int) -> dict[str, Any]:
    latencies: list[float] = []

    def timed(index: int) -> None:
        began = time.perf_counter()
        submit_one(index)
        latencies.append((time.perf_counter() - began) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads, thread_name_prefix="compare") as pool:
        list(pool.map(timed, range(count)))  # re-raises a failed submission
    elapsed = time.perf_counter() - started
    return {"per_s": stats.rate(count, elapsed), **stats.latency_summary(latencies)}
