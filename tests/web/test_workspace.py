"""The workspace around the widgets: why there is no task, my stats, a phone screen, and the demo data."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from backend.db import unit_of_work
from backend.services import demo, ledger, payouts, projects
from tests.conftest import principal_of


def test_a_paused_project_says_it_is_not_open_and_work_resumes_from_the_keyboard(page, login, annotator,
                                                                                labeling_project, manager):
    project = labeling_project("single_choice", [{"external_id": "t1", "text": "x"}], labels=["a", "b"])
    projects.update_project(principal=principal_of(manager), project_id=project.id, fields={"status": "paused"})
    login(page, annotator, "/projects")
    expect(page.get_by_text("No project is open to you")).to_be_visible()
    page.goto(f"/#/work/{project.id}")
    expect(page.get_by_text("This project is not open for work")).to_be_visible()
    expect(page.get_by_role("button", name="Try again")).to_be_focused()
    projects.update_project(principal=principal_of(manager), project_id=project.id, fields={"status": "active"})
    page.keyboard.press("Enter")  # Try again, from the keyboard
    expect(page.locator("#countdown")).to_be_visible()
    page.get_by_role("button", name="Skip").click()  # released: the only task comes back
    expect(page.locator("#countdown")).to_be_visible()


def test_my_stats_show_answers_approval_and_earnings_in_the_currency(page, login, annotator, labeling_project,
                                                                     login_as, manager, screenshot):
    project = labeling_project("single_choice", [{"external_id": f"t{i}", "text": f"text {i}"} for i in range(3)],
                               labels=["a", "b"], reward={"amount": 250, "currency": "JPY"})
    login(page, annotator, "/projects")
    page.get_by_role("link", name="Start working").click()
    for i in range(3):
        task = page.locator(".actions .muted").inner_text()
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        if i < 2:
            expect(page.locator(".actions .muted")).not_to_have_text(task)
    expect(page.get_by_text("No task is available for you")).to_be_visible()
    api = login_as(manager)
    pending = api.get(f"/api/v1/projects/{project.id}/reviews").json["items"]
    assert api.post(f"/api/v1/assignments/{pending[0]['id']}/approve", json={}).status_code == 200
    assert api.post(f"/api/v1/assignments/{pending[1]['id']}/reject", json={"reason": "no"}).status_code == 200
    page.get_by_role("link", name="My stats").click()
    expect(page.locator("#stat-today")).to_have_text("3")
    stats = page.locator("#my-stats")
    expect(stats).to_contain_text("50.0%")  # one approved, one rejected
    expect(page.locator("table").first).to_contain_text("¥250")  # yen have no minor digits
    screenshot(page, "annotator-stats")


def test_my_answers_show_each_decision_and_the_reason_of_a_rejection(page, login, annotator, labeling_project,
                                                                   login_as, manager, screenshot):
    project = labeling_project("single_choice", [{"external_id": f"r{i:02}", "text": f"Review number {i}"}
                                                 for i in range(13)], labels=["positive", "negative"],
                               name="Film reviews", reward={"amount": 12, "currency": "USD"})
    me = login_as(annotator)
    done = []
    for _ in range(13):
        lease = me.post(f"/api/v1/projects/{project.id}/assignments").json
        me.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "positive"}})
        done.append(lease)
    api = login_as(manager)
    assert api.post(f"/api/v1/assignments/{done[-1]['id']}/reject",
                    json={"reason": "This review is negative: read to the end."}).status_code == 200
    assert api.post(f"/api/v1/assignments/{done[-2]['id']}/approve", json={}).status_code == 200
    first = api.post(f"/api/v1/assignments/{done[0]['id']}/reject", json={"reason": "Sarcasm is negative."})
    assert first.status_code == 200

    login(page, annotator, "/projects")
    page.get_by_role("link", name="My stats").click()
    expect(page.locator("#rejections")).to_contain_text("2 of your answers were rejected")
    rows = page.locator("#my-answers tbody tr")
    expect(rows).to_have_count(10)  # the latest ten, newest first
    newest = rows.first
    expect(newest).to_have_class("rejected")
    expect(newest).to_contain_text(done[-1]["task"]["external_id"])
    expect(newest).to_contain_text("Rejected")
    expect(newest.locator("td.reason")).to_have_text("This review is negative: read to the end.")
    expect(newest).to_contain_text("not paid")
    expect(rows.nth(1)).to_contain_text("Approved")
    expect(rows.nth(1)).to_contain_text("$0.12")
    expect(rows.nth(2)).to_contain_text("Pending review")
    expect(page.locator("#my-answers tr.rejected")).to_have_count(1)  # the older rejection is on the next page
    screenshot(page, "annotator-answers")
    page.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(13)
    expect(page.locator("#answers-more")).to_be_hidden()
    expect(rows.last.locator("td.reason")).to_have_text("Sarcasm is negative.")
    page.get_by_role("button", name="Show the rejected ones").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Show")).to_have_value("rejected")
    page.get_by_label("Show").select_option("approved")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(done[-2]["task"]["external_id"])


def test_my_payouts_show_the_latest_payout_after_many_earnings(page, login, annotator, labeling_project, login_as,
                                                               manager, screenshot):
    project = labeling_project("single_choice", [{"external_id": "p1", "text": "x"}], labels=["a", "b"],
                               reward={"amount": 100, "currency": "USD"})
    me = login_as(annotator)
    worker_id = me.get("/api/v1/me").json["worker_id"]
    with unit_of_work() as session:  # a busy worker: far more than a hundred entries before the payout
        for i in range(150):
            ledger.post(session, organization_id=project.organization_id, worker_id=worker_id, currency="USD",
                        amount=10, kind="bonus", actor="test", reference=f"test-bonus:{i}", project_id=project.id)
    payout, _replayed = payouts.create_payout(principal=principal_of(manager), currency="USD")
    assert payout.total_amount == 1500
    login(page, annotator, "/projects")
    page.get_by_role("link", name="My stats").click()
    table = page.locator("#my-payouts")
    expect(table).to_contain_text("$15.00")
    expect(table).to_contain_text("Paid out")
    expect(table).to_contain_text(f"#{payout.id}")
    expect(page.get_by_text("No payouts yet.")).to_have_count(0)
    # A failed payout gives the money back: the history says so, newest first.
    payouts.settle_payout(principal=principal_of(manager), payout_id=payout.id, status="failed")
    page.reload()
    expect(page.locator("#my-payouts tbody tr").first).to_contain_text("Returned: the payout failed")
    expect(page.locator("#my-payouts tbody tr")).to_have_count(2)
    screenshot(page, "annotator-payouts")


def test_the_workspace_fits_a_phone_screen(browser, live_server, annotator, labeling_project, screenshot):
    labeling_project("single_choice", [{"external_id": "t1", "text": "A long review " * 20}],
                     labels=["positive", "negative", "neutral"])
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Email").fill(annotator.email)
    page.get_by_label("Password").fill(annotator.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Start working").click()
    expect(page.locator("#countdown")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("button", name="negative").tap()
    expect(page.get_by_role("button", name="negative")).to_have_attribute("aria-pressed", "true")
    screenshot(page, "annotator-phone")
    context.close()


def test_the_demo_data_works_for_an_annotator_and_for_the_manager(page, login, app, screenshot):
    logins = {role: (email, password) for email, password, role in demo.load_demo()}

    class Login:
        def __init__(self, role):
            self.email, self.password = logins[role]

    login(page, Login("annotator"), "/projects")
    expect(page.get_by_role("heading", name="Movie review sentiment")).to_be_visible()
    expect(page.get_by_role("heading", name="News entities")).to_be_visible()
    screenshot(page, "annotator-projects")
    page.locator("article", has_text="News entities").get_by_role("link", name="Start working").click()
    expect(page.locator("#spans-text")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("1")
    expect(page.locator("#spans-list li")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Submitted. Here is the next task.")).to_be_visible()
    page.get_by_role("link", name="Work").click()
    page.locator("article", has_text="Movie review sentiment").get_by_role("link", name="Start working").click()
    expect(page.get_by_role("group", name="Choose one label (number keys)")).to_be_focused()
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Submitted. Here is the next task.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    login(page, Login("manager"), "/manage")
    expect(page.get_by_role("link", name="Movie review sentiment")).to_be_visible()
    page.get_by_role("link", name="News entities").click()
    expect(page.locator("#answers-submitted")).to_have_text("1 / 25")


def test_an_annotator_opening_a_manager_page_is_told_it_is_for_managers(page, login, annotator, screenshot):
    login(page, annotator, "/projects")
    expect(page.get_by_text("No project is open to you")).to_be_visible()
    page.goto("/#/manage")
    expect(page.get_by_role("alert")).to_contain_text("This page is for managers")
    expect(page.get_by_role("link", name="New project")).to_have_count(0)
    page.goto("/#/manage/payouts")
    expect(page.get_by_role("alert")).to_contain_text("you are logged in as annotator")
    screenshot(page, "annotator-on-manager-page")
    page.get_by_role("link", name="Back to your start page").click()
    expect(page).to_have_url(re.compile(r"#/projects$"))
