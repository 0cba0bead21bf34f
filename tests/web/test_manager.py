"""A manager creates a project, uploads a CSV, watches progress, reviews work, exports and downloads it."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect
from sqlalchemy import text

from backend import db
from tests.conftest import principal_of

CSV = "external_id,text\n" + "".join(f"r{i},Review number {i} of a film\n" for i in range(1, 7))


def label_all(login_as, user, project_id: int, choice_for) -> int:
    """Claim and submit through the API as ``user`` until nothing is left; the number of answers."""
    api = login_as(user)
    done = 0
    while (lease := api.post(f"/api/v1/projects/{project_id}/assignments", json={})).status_code in (200, 201):
        body = lease.json
        response = api.post(f"/api/v1/assignments/{body['id']}/submit",
                            json={"answer": {"choice": choice_for(body["task"])}, "active_seconds": 9})
        assert response.status_code == 200, response.json
        done += 1
    return done


def test_manager_runs_a_project_from_creation_to_export(page, login, manager, user_factory, login_as, tmp_path,
                                                        screenshot):
    login(page, manager, "/manage")
    expect(page.get_by_text("No project yet")).to_be_visible()
    page.get_by_role("link", name="New project").first.click()

    # The API's validation messages appear next to the fields they name.
    page.get_by_label("Name", exact=True).fill("Film reviews")
    page.get_by_label("Overlap", exact=True).fill("0.5")
    page.get_by_role("button", name="Create project").click()
    overlap_error = page.locator('.field[data-field="overlap"] .field-error')
    expect(overlap_error).to_be_visible()
    expect(page.get_by_label("Overlap", exact=True)).to_be_focused()
    page.get_by_label("Overlap", exact=True).fill("2")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator('.field[data-field="labels"] .field-error')).to_contain_text("non-empty list of labels")
    expect(overlap_error).to_be_hidden()
    page.get_by_label("Instructions (Markdown)").fill("Is the review **positive**?")
    screenshot(page, "manager-new-project")
    page.get_by_label("Labels (one per line)").fill("positive\nnegative")
    page.get_by_label("Batch size").fill("3")
    page.get_by_label("Reward per answer").fill("0.10")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Film reviews")).to_be_visible()
    project_id = int(page.url.split("/manage/")[1].split("/")[0])

    # Upload a CSV with a progress bar; two batches of three tasks appear.
    csv = tmp_path / "reviews.csv"
    csv.write_text(CSV)
    page.get_by_label("File (CSV, JSON or JSON Lines)").set_input_files(str(csv))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("Imported 6 tasks from reviews.csv")
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    expect(page.locator("#batches tbody tr")).to_have_count(2)
    expect(page.locator("#tasks-complete")).to_have_text("0 / 6")

    # Pause and resume a batch; change a priority.
    page.get_by_role("button", name="Pause batch 2").click()
    expect(page.get_by_role("button", name="Resume batch 2")).to_be_visible()
    page.get_by_role("button", name="Resume batch 2").click()
    expect(page.get_by_role("button", name="Pause batch 2")).to_be_visible()
    page.get_by_role("spinbutton", name="Priority of batch 2").fill("5")
    page.get_by_role("button", name="Set priority of batch 2").click()
    expect(page.locator("#batch-status")).to_contain_text("Batch 2 updated")
    expect(page.get_by_role("spinbutton", name="Priority of batch 2")).to_have_value("5")

    # Two annotators do the work; the page's progress follows by itself.
    ana, ben = user_factory("annotator"), user_factory("annotator")
    assert label_all(login_as, ana, project_id, lambda task: "positive") == 6
    assert label_all(login_as, ben, project_id,
                     lambda task: "negative" if task["external_id"] in ("r5", "r6") else "positive") == 6
    expect(page.locator("#tasks-complete")).to_have_text("6 / 6", timeout=15_000)
    expect(page.locator("#answers-submitted")).to_have_text("12 / 12")
    screenshot(page, "manager-project-overview")

    # The dashboard shows the project at 100%.
    page.get_by_role("link", name="Projects", exact=True).click()
    bar = page.locator(f'tr[data-project="{project_id}"] [role=progressbar]')
    expect(bar).to_have_attribute("aria-valuenow", "100")
    screenshot(page, "manager-dashboard")

    # Review with the keyboard: A approves, R asks for a reason and rejects.
    page.goto(f"/#/manage/{project_id}/reviews")
    expect(page.locator("#review-queue caption")).to_have_text("12 answers pending review")
    screenshot(page, "manager-review-queue")
    page.keyboard.press("a")
    expect(page.locator("#review-queue caption")).to_have_text("11 answers pending review")
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.get_by_label("Reason (the worker reads it)").fill("Read the whole review, please.")
    page.keyboard.press("Enter")
    expect(page.locator("#review-status")).to_contain_text("Rejected")
    expect(page.locator("#review-queue caption")).to_have_text("10 answers pending review")
    reviewed = login_as(manager).get(f"/api/v1/projects/{project_id}/reviews?review_status=rejected").json["items"]
    assert [item["review_reason"] for item in reviewed] == ["Read the whole review, please."]
    assert len(login_as(manager).get(
        f"/api/v1/projects/{project_id}/reviews?review_status=approved").json["items"]) == 1

    # Agreement: the report is computed by a job; the tab shows its figures and charts.
    page.goto(f"/#/manage/{project_id}/agreement")
    for _ in range(20):
        if page.locator("#alpha").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#alpha")).not_to_have_text("—")
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("table.heat td")).to_have_count(4)
    screenshot(page, "manager-agreement")

    # Workers: both annotators with their throughput and earnings.
    page.get_by_role("link", name="Workers").click()
    expect(page.locator("tr[data-worker]")).to_have_count(2)
    expect(page.locator("tr[data-worker]").first).to_contain_text("$0.10")  # one approved answer at 10 cents
    screenshot(page, "manager-workers")
    # Suspend one by hand, with a reason, then let it back in.
    worker = page.locator("tr[data-worker]").nth(1).get_attribute("data-worker")
    row = page.locator(f'tr[data-worker="{worker}"]')
    row.get_by_role("button", name=f"Suspend #{worker}").click()
    page.get_by_label("Reason (the worker reads it)").fill("Answers too fast to be read")
    page.get_by_role("button", name="Suspend", exact=True).click()
    expect(row.locator(".badge")).to_have_text("suspended", timeout=5_000)
    row.get_by_role("button", name=f"Lift suspension of #{worker}").click()
    expect(row.locator(".badge")).to_have_text("active", timeout=5_000)

    # Costs.
    page.get_by_role("link", name="Costs").click()
    expect(page.locator("#cost")).to_contain_text("$1.00")  # pending: ten answers at 10 cents

    # Export JSON Lines and download it.
    page.get_by_role("link", name="Exports").click()
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("button", name="Export").click()
    link = page.get_by_role("link", name="Download jsonl")
    expect(link).to_be_visible(timeout=15_000)
    screenshot(page, "manager-exports")
    with page.expect_download() as download:
        link.click()
    rows = [json.loads(line) for line in download.value.path().read_text().splitlines()]
    assert sorted(row["external_id"] for row in rows) == [f"r{i}" for i in range(1, 7)]
    # Back later: the export is listed with the project's others, still there to download.
    page.get_by_role("link", name="Costs").click()
    page.get_by_role("link", name="Exports").click()
    expect(page.locator("#exports li")).to_have_count(1)
    expect(page.locator("#exports li")).to_contain_text("6 tasks")
    expect(page.get_by_role("link", name="Download jsonl")).to_be_visible()

    # Payouts: pay the one approved answer.
    page.get_by_role("link", name="Payouts").click()
    page.get_by_role("button", name="Create payout").click()
    expect(page.locator("table")).to_contain_text("$0.10")
    expect(page.get_by_role("link", name="CSV")).to_have_attribute("href", "/api/v1/payouts/1/file?format=csv")


def test_manager_computes_and_pays_fair_pay_top_ups(page, login, manager, labeling_project, annotator, login_as,
                                                    screenshot):
    # EUR 12.00 an hour; one answer worth 0.10 took five minutes on task, so it is owed 0.90 more.
    project = labeling_project("single_choice", [{"external_id": "slow", "text": "A long review"}],
                               labels=["pos", "neg"], min_hourly_rate=1200, reward={"amount": 10, "currency": "EUR"})
    worker = login_as(annotator)
    lease = worker.post(f"/api/v1/projects/{project.id}/assignments", json={}).json
    assert worker.post(f"/api/v1/assignments/{lease['id']}/submit",
                       json={"answer": {"choice": "pos"}, "active_seconds": 300}).status_code == 200
    with db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assignments SET leased_at = submitted_at - interval '300 seconds' WHERE id = :a")
                     if conn.dialect.name == "postgresql" else
                     text("UPDATE assignments SET leased_at = datetime(submitted_at, '-300 seconds') WHERE id = :a"),
                     {"a": lease["id"]})
    assert login_as(manager).post(f"/api/v1/assignments/{lease['id']}/approve", json={}).status_code == 200

    login(page, manager, "/manage")
    page.get_by_role("link", name=project.name).click()
    page.get_by_role("link", name="Costs").click()
    section = page.locator("#fair-pay")
    expect(section.get_by_text("No top-up proposed.")).to_be_visible()
    expect(section.get_by_role("button", name="Pay proposed top-ups")).to_be_disabled()
    section.get_by_role("button", name="Compute top-ups").click()
    expect(section.get_by_text("Top-ups computed.")).to_be_visible()
    row = section.locator("#fair-pay-proposals tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("5:00")
    expect(row).to_contain_text("0.90")
    screenshot(page, "manager-fair-pay")
    section.get_by_role("button", name="Pay proposed top-ups").click()
    expect(section.get_by_text("1 top-up(s) paid as bonuses.")).to_be_visible()
    expect(section.get_by_text("No top-up proposed.")).to_be_visible()
    (balance,) = worker.get("/api/v1/me/earnings").json["balances"]
    assert (balance["currency"], balance["balance"]) == ("EUR", 100)


def test_manager_pays_a_bonus_once_from_the_workers_tab(page, login, manager, labeling_project, annotator, login_as):
    project = labeling_project("single_choice", [{"external_id": "a", "text": "Fine"}], labels=["pos", "neg"])
    worker = login_as(annotator)
    lease = worker.post(f"/api/v1/projects/{project.id}/assignments", json={}).json
    worker.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}})
    login(page, manager, "/manage")
    page.get_by_role("link", name=project.name).click()
    page.get_by_role("link", name="Workers").click()
    form = page.locator("#bonus-form")
    form.get_by_label("Reason").fill("Careful work")
    form.get_by_role("button", name="Pay bonus").click()
    expect(form.locator('.field[data-field="amount"] .field-error')).to_be_visible()  # the API's message, in place
    form.get_by_label("Amount (EUR)").fill("1.5")
    form.get_by_role("button", name="Pay bonus").click()
    paid = f"Bonus of €1.50 paid to worker #{lease['worker_id']}."
    expect(form.get_by_text(paid)).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/bonuses")) as again:
        form.get_by_role("button", name="Pay bonus").click()  # the same bonus again: answered, not paid twice
    assert again.value.headers.get("idempotent-replayed") == "true"
    expect(form.get_by_text(paid)).to_be_visible()
    earnings = worker.get("/api/v1/me/earnings").json
    assert [(e["kind"], e["amount"]) for e in earnings["entries"] if e["kind"] == "bonus"] == [("bonus", 150)]


def test_manager_reviews_in_bulk_by_worker_then_the_rest(page, login, manager, labeling_project, user_factory, login_as,
                                                         api_key):
    project = labeling_project("single_choice", [{"external_id": f"t{i}", "text": f"Review {i}"} for i in range(3)],
                               labels=["pos", "neg"], overlap=2, reward={"amount": 5, "currency": "EUR"})
    careless, careful = user_factory("annotator"), user_factory("annotator")
    careless_id, careful_id = (principal_of(who).worker_id for who in (careless, careful))
    assert label_all(login_as, careless, project.id, lambda _task: "neg") == 3
    careful_api = login_as(careful)

    def careful_answers_one() -> None:
        lease = careful_api.post(f"/api/v1/projects/{project.id}/assignments", json={}).json
        assert careful_api.post(f"/api/v1/assignments/{lease['id']}/submit",
                                json={"answer": {"choice": "pos"}}).status_code == 200

    careful_answers_one()
    careful_answers_one()
    login(page, manager, "/manage")
    page.get_by_role("link", name=project.name).click()
    page.get_by_role("link", name="Review").click()
    expect(page.locator("#review-queue caption")).to_have_text("5 answers pending review")
    form = page.locator("#bulk-review")
    form.get_by_label("Worker", exact=True).select_option(label=f"#{careless_id}")
    form.get_by_label("Decision").select_option("reject")
    form.get_by_role("button", name="Apply to matching pending answers").click()
    page.get_by_role("dialog").get_by_role("button", name="Reject").click()
    expect(form.locator('.field[data-field="reason"] .field-error')).to_be_visible()  # a rejection needs a reason
    form.get_by_label("Reason (for a rejection; the workers read it)").fill("Every answer was the same.")
    form.get_by_role("button", name="Apply to matching pending answers").click()
    page.get_by_role("dialog").get_by_role("button", name="Reject").click()
    expect(page.locator("#review-status")).to_contain_text("3 answer(s) rejected.")
    expect(page.locator("#review-queue caption")).to_have_text("2 answers pending review")
    time.sleep(1.1)  # past the second in which the queue was read
    careful_answers_one()  # comes in while the manager looks at the queue: not covered by what they decide
    page.locator("#bulk-review").get_by_role("button", name="Apply to matching pending answers").click()
    page.get_by_role("dialog").get_by_role("button", name="Approve").click()
    expect(page.locator("#review-status")).to_contain_text("2 answer(s) approved.")
    expect(page.locator("#review-queue caption")).to_have_text("1 answers pending review")
    books = api_key(user=manager)
    careful_balances, careless_balances = (books.get(f"/api/v1/workers/{worker}/earnings").json["balances"]
                                           for worker in (careful_id, careless_id))
    assert [(b["currency"], b["balance"], b["pending"]) for b in careful_balances] == [("EUR", 10, 5)]
    assert [b["balance"] for b in careless_balances] in ([], [0])


def test_control_tasks_are_shown_apart_and_a_finished_project_is_at_100_percent(page, login, manager, labeling_project,
                                                                                user_factory, login_as, screenshot):
    items = [{"external_id": f"t{i}", "text": f"Review {i}"} for i in range(6)]
    items += [{"external_id": f"g{i}", "text": f"Control {i}", "gold": {"choice": "a"}} for i in range(3)]
    project = labeling_project("single_choice", items, labels=["a", "b"], overlap=2, gold_ratio=0.25,
                               name="With control tasks")
    ana, ben = user_factory("annotator"), user_factory("annotator")
    assert label_all(login_as, ana, project.id, lambda task: "a") > 6
    assert label_all(login_as, ben, project.id, lambda task: "a") > 6
    login(page, manager, "/manage")
    row = page.locator(f'tr[data-project="{project.id}"]')
    expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    expect(row).to_contain_text("6 / 6 tasks complete · 3 control")
    expect(row.locator("td").last).to_have_text("0:00")  # no time left
    row.get_by_role("link", name="With control tasks").click()
    expect(page.locator("#tasks-complete")).to_have_text("6 / 6")
    expect(page.locator("#answers-submitted")).to_have_text("12 / 12")
    expect(page.locator("#control-tasks")).to_contain_text("+ 3 control tasks")
    expect(page.get_by_role("progressbar", name="Project progress 100%")).to_be_visible()
    screenshot(page, "manager-control-tasks")
