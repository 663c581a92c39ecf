"""The transfer register's form and its refusals without Kafka: staff alone make registers, and a
range that cannot be a period is said in one line before any topic is read."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.connectors.console.test_app import sign_in
from tests.unit.connectors.console.test_overview import client, filled

__all__ = ["client", "filled"]  # fixtures, used by name


def test_staff_get_the_form_with_the_agencies_that_archived(client: TestClient) -> None:
    sign_in(client, "wang")
    form = client.get("/reports")
    assert form.status_code == 200
    assert 'value="bgt"' in form.text and 'value="zjj"' in form.text
    assert 'href="/reports"' in form.text  # in the navigation


def test_the_auditor_may_not_make_a_register(client: TestClient) -> None:
    sign_in(client, "li")
    assert client.get("/reports").status_code == 403
    made = client.get("/reports/transfer", params={"agency": "bgt", "from": "2026-05-01",
                                                   "to": "2026-05-06"})  # fmt: skip
    assert made.status_code == 403
    assert 'href="/reports"' not in client.get("/").text


def test_a_period_that_ends_before_it_begins_is_refused_in_one_line(client: TestClient) -> None:
    sign_in(client, "wang")
    made = client.get("/reports/transfer", params={"agency": "bgt", "from": "2026-05-06",
                                                   "to": "2026-05-01"})  # fmt: skip
    assert made.status_code == 400
    assert "is after --to" in made.text
