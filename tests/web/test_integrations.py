"""A manager sets up a vendor's integration in the browser: an API key (created, used, rotated, revoked) and a
webhook (created, delivered to, redelivered, paused)."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect

from tests.api.test_webhooks import Receiver, verify
from worker import jobs as worker_jobs


def arrived(receiver: Receiver, count: int, seconds: float = 15.0) -> None:
    """Wait for the receiver to hold ``count`` requests: jobs run beside the live server, not in the test."""
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count:
        assert time.monotonic() < deadline, f"{len(receiver.received)} of {count} deliveries arrived"
        time.sleep(0.05)


def as_bearer(client, secret: str, method: str, path: str, **kwargs):
    return getattr(client, method)(path, headers={"Authorization": f"Bearer {secret}"}, **kwargs)


def test_manager_creates_uses_rotates_and_revokes_an_api_key(page, login, manager, client, screenshot):
    login(page, manager, "/manage")
    page.get_by_role("link", name="Integrations").click()
    form = page.locator("#token-form")
    form.get_by_role("button", name="Create key").click()  # no name: the API's message, next to the field
    expect(form.locator('.field[data-field="name"] .field-error')).to_be_visible()
    form.get_by_label("Name").fill("Vendor sync")
    expect(form.get_by_label("projects:read")).to_be_checked()  # the scopes come from the API's own document
    form.get_by_label("tasks:work").check()
    form.get_by_role("button", name="Create key").click()
    secret = form.locator("code.secret").inner_text()
    row = page.locator("#tokens tbody tr", has_text="Vendor sync")
    expect(row).to_contain_text("organization")
    expect(row).to_contain_text("projects:read, results:read, tasks:work")
    screenshot(page, "manager-integrations")

    assert as_bearer(client, secret, "get", "/api/v1/projects").status_code == 200
    refused = as_bearer(client, secret, "post", "/api/v1/projects", json={"name": "x", "task_type": "free_text"})
    assert refused.status_code == 403  # projects:write was not granted

    row.get_by_role("button", name="Rotate").click()
    page.get_by_role("dialog").get_by_role("button", name="Stop it now").click()
    new_secret = page.locator("#token-status code.secret").inner_text()
    assert new_secret != secret
    assert as_bearer(client, secret, "get", "/api/v1/projects").status_code == 401
    assert as_bearer(client, new_secret, "get", "/api/v1/projects").status_code == 200

    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-status")).to_contain_text("“Vendor sync” is revoked.")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert as_bearer(client, new_secret, "get", "/api/v1/projects").status_code == 401


def test_manager_subscribes_a_webhook_and_redelivers_from_its_log(page, login, manager, login_as):
    receiver = Receiver()
    try:
        login(page, manager, "/manage")
        page.get_by_role("link", name="Integrations").click()
        form = page.locator("#webhook-form")
        form.get_by_label("Address (https://…)").fill(receiver.url)
        form.get_by_role("button", name="Create webhook").click()  # no event ticked: refused, next to the events
        expect(form.locator('.field[data-field="events"] .field-error')).to_be_visible()
        form.get_by_label("payout.created").check()
        form.get_by_label("Description").fill("Vendor ledger")
        form.get_by_role("button", name="Create webhook").click()
        secret = form.locator("code.secret").inner_text()
        row = page.locator("#webhooks tbody tr", has_text="Vendor ledger")
        expect(row).to_contain_text("active")

        assert login_as(manager).post("/api/v1/payouts", json={"currency": "EUR"}).status_code == 201
        worker_jobs.dispatch_events()
        arrived(receiver, 1)  # sent by the sender job the dispatcher queued (the live server runs jobs)
        (received,) = receiver.received
        assert verify(secret, received) and json.loads(received["body"])["event"] == "payout.created"

        row.get_by_role("button", name="Deliveries").click()
        log = page.locator("tr.deliveries")
        expect(log).to_contain_text("delivered")
        expect(log).to_contain_text("200")
        with page.expect_response(lambda r: r.url.endswith("/redeliver")) as redelivered:
            log.get_by_role("button", name="Redeliver").click()
        assert redelivered.value.status == 200
        arrived(receiver, 2)
        assert receiver.received[1]["body"] == received["body"]

        row.get_by_role("button", name="Pause").click()
        expect(page.locator("#webhooks tbody tr", has_text="Vendor ledger")).to_contain_text("paused")
    finally:
        receiver.close()
