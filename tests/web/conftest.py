"""Browser tests: the test app served over real HTTP, driven by Playwright through Debian's Chromium.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``. Screenshots of the main
screens go to ``docs/screenshots/`` when ``CONCORD_SCREENSHOTS=1`` (otherwise to the test's tmp dir), so that
an ordinary run leaves the working tree alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from backend.services import datasets
from tests.conftest import principal_of
from tests.live_server import keep_exports_in_test_dir, serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="package")
def live_server(app) -> Iterator[str]:
    with serving(app, "web-live-server") as url:
        yield url


@pytest.fixture(autouse=True)
def _exports_in_test_dir(settings, monkeypatch):
    keep_exports_in_test_dir(settings, monkeypatch)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1280x800; console errors fail the test."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "status of 4" not in msg.text
          else None)
    yield pg
    context.close()
    assert not errors, errors


@pytest.fixture
def screenshot(tmp_path):
    """Save a full-page screenshot of the page under a stable name, after checking that the page shows no
    leaked JavaScript values (null, undefined, NaN, [object ...])."""
    target = SCREENSHOT_DIR if os.environ.get("CONCORD_SCREENSHOTS") == "1" else tmp_path

    def shoot(pg: Page, name: str) -> Path:
        shown = pg.inner_text("main")
        assert not re.search(r"\[object |\bnull\b|\bundefined\b|\bNaN\b", shown), shown
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path

    return shoot


@pytest.fixture
def login(live_server):
    """Log ``page`` in through the login form as ``user``; wait for the first page after it."""

    def do(pg: Page, user, landing: str) -> None:
        pg.goto("/")
        pg.get_by_label("Email").fill(user.email)
        pg.get_by_label("Password").fill(user.password)
        pg.get_by_role("button", name="Log in").click()
        pg.wait_for_url(f"**/#{landing}")

    return do


@pytest.fixture
def labeling_project(project_factory, manager):
    """An active project of any task type with its tasks imported; returns the project."""

    def make(task_type: str, items: list[dict], **fields):
        fields = {"name": f"{task_type} project", "task_type": task_type, "overlap": 1, "labels": None,
                  "instructions": "Label **carefully**.", "reward": {"amount": 7, "currency": "EUR"}, **fields}
        project = project_factory(**fields)
        datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items)
        return project

    return make


@pytest.fixture
def annotator(user_factory):
    return user_factory("annotator", password=PASSWORD)


@pytest.fixture
def answers(login_as, manager):
    """The submitted answers of a project, by the task's external id, read back through the API."""

    def read(project_id: int, review_status: str = "pending") -> dict[str, dict]:
        api = login_as(manager)
        body = api.get(f"/api/v1/projects/{project_id}/reviews?review_status={review_status}&limit=500").json
        return {item["task"]["external_id"]: item["answer"] for item in body["items"]}

    return read
