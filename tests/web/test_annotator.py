"""An annotator labels tasks of every type, by keyboard and by mouse, and the answers land in the API."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

IMAGE = "data:image/svg+xml," + quote(
    "<svg xmlns='http://www.w3.org/2000/svg' width='400' height='300'><rect width='400' height='300' fill='#cde'/>"
    "<circle cx='120' cy='150' r='60' fill='#e85'/><rect x='240' y='60' width='110' height='180' fill='#5a8'/></svg>")


def start(page: Page, login, annotator, project) -> None:
    login(page, annotator, "/projects")
    card = page.locator("article", has_text=project.name)
    expect(card.get_by_text("Label carefully.")).to_be_hidden()  # instructions fold away until asked for
    card.get_by_text("Instructions").click()
    expect(card.get_by_text("carefully")).to_be_visible()
    card.get_by_role("link", name="Start working").click()
    expect(page.locator("#countdown")).to_contain_text(":")


def current_task(page: Page) -> str:
    """The external id of the task on screen (shown under the widget)."""
    return page.locator(".actions .muted").inner_text().removeprefix("Task ")


def expect_next_task(page: Page, previous: str) -> None:
    expect(page.locator(".actions .muted")).not_to_have_text(f"Task {previous}")


def expect_done(page: Page) -> None:
    expect(page.get_by_text("No task is available for you")).to_be_visible()


def select_text_with_mouse(page: Page, phrase: str) -> None:
    """Drag the mouse across ``phrase`` in the text to label, like a person would."""
    box = page.evaluate("""(phrase) => {
        const root = document.getElementById('spans-text');
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.data.indexOf(phrase);
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + phrase.length);
            const r = range.getBoundingClientRect();
            return {left: r.left, right: r.right, y: r.top + r.height / 2};
        }
        return null;
    }""", phrase)
    assert box, phrase
    page.mouse.move(box["left"] + 1, box["y"])
    page.mouse.down()
    page.mouse.move((box["left"] + box["right"]) / 2, box["y"], steps=3)
    page.mouse.move(box["right"] - 1, box["y"], steps=3)
    page.mouse.up()


def test_single_choice_by_number_keys_and_by_clicks(page, login, annotator, labeling_project, answers, screenshot):
    project = labeling_project("single_choice", [{"external_id": "t1", "text": "A wonderful film."},
                                                 {"external_id": "t2", "text": "Dull and too long."}],
                               labels=["positive", "negative", "neutral"])
    start(page, login, annotator, project)
    screenshot(page, "annotator-single-choice")
    first = current_task(page)
    page.keyboard.press("Enter")  # nothing chosen yet: a message, no submit
    expect(page.get_by_text("Choose a label first")).to_be_visible()
    page.keyboard.press("3")
    expect(page.get_by_role("button", name="neutral")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect_next_task(page, first)
    second = current_task(page)
    page.get_by_role("button", name="negative").click()
    page.get_by_role("button", name="Submit").click()
    expect_done(page)
    assert answers(project.id) == {first: {"choice": "positive"}, second: {"choice": "negative"}}


def test_multi_choice_toggles_with_keys_and_clicks(page, login, annotator, labeling_project, answers):
    project = labeling_project("multi_choice", [{"external_id": "m1", "text": "Sunny beach with dogs"},
                                                {"external_id": "m2", "text": "A cat indoors"}],
                               labels=["animal", "outdoor", "people"])
    start(page, login, annotator, project)
    first = current_task(page)
    for key in ("1", "2", "3", "3"):  # the second 3 unticks people again
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    expect_next_task(page, first)
    second = current_task(page)
    page.get_by_label("animal").check()
    page.get_by_role("button", name="Submit").click()
    expect_done(page)
    assert answers(project.id) == {first: {"choices": ["animal", "outdoor"]}, second: {"choices": ["animal"]}}


def test_rating_with_digits_arrows_and_clicks(page, login, annotator, labeling_project, answers):
    project = labeling_project("rating", [{"external_id": "r1", "text": "How fluent is this?"},
                                          {"external_id": "r2", "text": "And this one?"}], min=1, max=5)
    start(page, login, annotator, project)
    first = current_task(page)
    page.keyboard.press("4")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect_next_task(page, first)
    second = current_task(page)
    page.get_by_role("button", name="2", exact=True).click()
    page.get_by_role("button", name="Submit").click()
    expect_done(page)
    assert answers(project.id) == {first: {"value": 5}, second: {"value": 2}}


def test_free_text_submits_with_ctrl_enter_and_counts_active_time(page, login, annotator, labeling_project,
                                                                  answers, login_as, manager):
    project = labeling_project("free_text", [{"external_id": "f1", "text": "Translate: bonjour"},
                                             {"external_id": "f2", "text": "Translate: merci"}], max_length=20)
    start(page, login, annotator, project)
    first = current_task(page)
    page.keyboard.type("hello 1")
    page.keyboard.press("Enter")  # a new line in the text box, not a submit
    page.wait_for_timeout(1200)  # active on the task for at least a second
    page.keyboard.press("Control+Enter")
    expect_next_task(page, first)
    second = current_task(page)
    page.get_by_label("Your answer").fill("x" * 30)  # the text box stops at max_length
    expect(page.locator("#ft-count")).to_have_text("20 / 20")
    page.get_by_role("button", name="Submit").click()
    expect_done(page)
    assert answers(project.id) == {first: {"text": "hello 1\n"}, second: {"text": "x" * 20}}
    items = login_as(manager).get(f"/api/v1/projects/{project.id}/reviews").json["items"]
    assert max(item["active_seconds"] for item in items) >= 1


SPAN_TASKS = {
    # text, {label: phrases}, keys that make the same spans from the keyboard, the expected answer
    "s1": ("Angela Merkel met Emmanuel Macron in Paris.",
           {"PER": ["Angela Merkel", "Emmanuel Macron"], "LOC": ["Paris"]},
           ["ArrowRight", "Shift+ArrowRight", "1", "ArrowRight", "ArrowRight", "Shift+ArrowRight", "1",
            "ArrowRight", "ArrowRight", "3"],
           [{"label": "PER", "start": 0, "end": 13}, {"label": "PER", "start": 18, "end": 33},
            {"label": "LOC", "start": 37, "end": 42}]),
    # Offsets count code points, as the API does: the emoji is one character, not two UTF-16 units.
    "s2": ("Ünïcode 😀 Toyota in Kentucky.", {"ORG": ["Toyota"], "LOC": ["Kentucky"]},
           ["ArrowRight", "ArrowRight", "ArrowRight", "2", "ArrowRight", "ArrowRight", "3"],
           [{"label": "ORG", "start": 10, "end": 16}, {"label": "LOC", "start": 20, "end": 28}]),
}


def test_text_spans_by_mouse_selection_and_by_keyboard(page, login, annotator, labeling_project, answers, screenshot):
    project = labeling_project("text_spans", [{"external_id": k, "text": v[0]} for k, v in SPAN_TASKS.items()],
                               labels=["PER", "ORG", "LOC"])
    start(page, login, annotator, project)
    first = current_task(page)
    _text, phrases, _keys, expected = SPAN_TASKS[first]
    for label, words in phrases.items():  # the first task with the mouse: pick the label, drag over the words
        page.get_by_role("button", name=label, exact=True).click()
        for phrase in words:
            select_text_with_mouse(page, phrase)
    expect(page.locator("#spans-list li")).to_have_count(len(expected))
    page.get_by_role("button", name=f"Delete {label}").last.click()  # a mistake, undone and redone
    select_text_with_mouse(page, words[-1])
    screenshot(page, "annotator-text-spans")
    page.get_by_role("button", name="Submit").click()
    expect_next_task(page, first)
    second = current_task(page)
    page.locator("#spans-text").focus()  # the second task from the keyboard only
    for key in SPAN_TASKS[second][2]:
        page.keyboard.press(key)
    expect(page.locator("#spans-list li")).to_have_count(len(SPAN_TASKS[second][3]))
    page.keyboard.press("Enter")
    expect_done(page)
    assert answers(project.id) == {key: {"spans": task[3]} for key, task in SPAN_TASKS.items()}


def test_bounding_boxes_drawn_moved_resized_relabelled_and_deleted(page, login, annotator, labeling_project, answers,
                                                                   screenshot):
    items = [{"external_id": f"b{i}", "data": {"image": IMAGE, "width": 400, "height": 300}} for i in (1, 2)]
    project = labeling_project("bounding_boxes", items, labels=["ball", "box"])
    start(page, login, annotator, project)
    first = current_task(page)
    canvas = page.locator("#boxes-canvas")
    expect(canvas).to_have_attribute("viewBox", "0 0 400 300")
    frame = canvas.bounding_box()
    scale = frame["width"] / 400

    def at(x, y):
        return frame["x"] + x * scale, frame["y"] + y * scale

    def drag(a, b):
        page.mouse.move(*at(*a))
        page.mouse.down()
        page.mouse.move(*at(*b), steps=5)
        page.mouse.up()

    page.get_by_role("button", name="box", exact=True).click()
    drag((60, 90), (180, 210))               # draw the ball, with the wrong label...
    page.get_by_label("Label of box 1").select_option("ball")  # ...put right in the list
    drag((250, 70), (330, 200))              # draw a box, a little too small
    drag((330, 200), (350, 240))             # resize it by its bottom-right corner
    drag((100, 150), (110, 150))             # move the first box 10px right (selects it)
    drag((20, 20), (60, 60))                 # a third, stray box...
    page.keyboard.press("Delete")            # ...deleted from the keyboard
    expect(page.locator("#boxes-list li")).to_have_count(2)
    screenshot(page, "annotator-bounding-boxes")
    page.keyboard.press("Enter")
    expect_next_task(page, first)
    # The second task from the keyboard: 2 picks the label, N adds a box, arrows move it, Shift+arrows resize.
    canvas.focus()
    page.keyboard.press("2")
    page.keyboard.press("n")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")
    expect_done(page)
    got = answers(project.id)
    boxes = sorted(got[first]["boxes"], key=lambda b: b["x"])
    assert [b["label"] for b in boxes] == ["ball", "box"]
    assert boxes[0]["x"] == pytest.approx(70, abs=2) and boxes[0]["width"] == pytest.approx(120, abs=2)
    assert boxes[1]["x"] == pytest.approx(250, abs=2) and boxes[1]["x"] + boxes[1]["width"] == pytest.approx(350, abs=2)
    assert boxes[1]["y"] + boxes[1]["height"] == pytest.approx(240, abs=2)
    second = next(v for k, v in got.items() if k != first)
    assert second == {"boxes": [{"label": "box", "x": 106, "y": 75, "width": 200, "height": 156}]}
