"""An annotator answers task forms in the browser: a conversation and two replies, a pairwise preference,
Likert criteria, a question shown only for ties, a ranking and a correction, by keyboard and by mouse."""

from __future__ import annotations

import base64
import io
import wave
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.web.test_annotator import current_task, expect_done, expect_next_task

XSS = ('<p>Fine <img src=x onerror="window.__pwned=1"> answer</p><script>window.__pwned=2</script>'
       '<a href="javascript:window.__pwned=3">click</a><iframe src="https://example.com/"></iframe>')
QUESTIONS = [
    {"name": "preference", "kind": "pairwise", "title": "Which reply is better?", "a": "reply_a", "b": "reply_b",
     "a_id": "model_a", "b_id": "model_b"},
    {"name": "helpful", "kind": "rating", "title": "How helpful is the better reply?", "min": 1, "max": 5,
     "labels": {"1": "useless", "3": "partly", "5": "very helpful"}},
    {"name": "harmless", "kind": "rating", "title": "How harmless?", "min": 1, "max": 5},
    {"name": "why_tie", "kind": "free_text", "title": "Why are they equal?", "required": False,
     "when": {"question": "preference", "equals": "tie"}},
    {"name": "order", "kind": "ranking", "title": "Order the follow-ups, best first", "items": "follow_ups"},
    {"name": "fixed", "kind": "text_edit", "title": "Correct reply A", "source": "reply_a"},
]
DISPLAY = [{"field": "conversation", "as": "chat"}, {"field": "reply_a", "as": "markdown"},
           {"field": "reply_b", "as": "html"}]


def _task(i: int) -> dict:
    return {"external_id": f"c{i}",
            "conversation": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": f"What is {i} + {i}?"}],
            "reply_a": f"It is **{2 * i}**.", "reply_b": XSS, "model_a": "secret-model-large",
            "model_b": "secret-model-small",
            "follow_ups": [{"id": "ask", "text": "Ask why"}, {"id": "thank", "text": "Say thanks"},
                           {"id": "stop", "text": "End the chat"}]}


def _ranking_order(page: Page) -> list[str]:
    return page.locator("#question-order li").evaluate_all("els => els.map(e => e.dataset.item)")


def test_a_form_of_several_questions_by_keyboard_then_by_mouse(page, login, annotator, labeling_project, answers,
                                                               screenshot):
    project = labeling_project(None, [_task(1), _task(2)], name="Assistant replies", questions=QUESTIONS,
                               display=DISPLAY)
    login(page, annotator, "/projects")
    card = page.locator("article", has_text="Assistant replies")
    expect(card).to_contain_text("form · 6 questions")
    card.get_by_role("link", name="Start working").click()
    expect(page.locator("#countdown")).to_contain_text(":")

    # The conversation as bubbles, the replies side by side, the models never named.
    expect(page.locator("ol.chat .turn")).to_have_count(2)
    expect(page.locator("ol.chat .turn.user")).to_contain_text("What is")
    expect(page.locator(".candidate[data-side=a] strong")).to_have_text(str(2 * int(current_task(page)[1:])))
    expect(page.locator(".candidate[data-side=b]")).to_contain_text("Fine")
    assert "secret-model" not in page.inner_text("main")
    # The HTML reply is sanitised: no script, handler, javascript: link or frame reached the page.
    assert page.locator(".task-form script, .task-form iframe, .task-form [onerror]").count() == 0
    assert page.locator(".candidate[data-side=b] a").get_attribute("href") is None
    page.locator(".candidate[data-side=b] a").click()
    assert page.evaluate("window.__pwned") is None
    # The follow-up question waits for a tie.
    expect(page.locator("#question-why_tie")).to_be_hidden()
    screenshot(page, "annotator-form")

    first = current_task(page)
    page.locator("#q1-pairwise").focus()
    page.keyboard.press("Enter")  # nothing answered yet: told what is missing, nothing sent
    expect(page.locator("#work-message")).to_contain_text("Which reply is better?: Choose A, B or tie")
    page.keyboard.press("3")  # a tie; the focus moves on to the next question
    expect(page.get_by_role("button", name="Tie")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#question-why_tie")).to_be_visible()
    page.keyboard.press("4")
    expect(page.locator("#q2-rating button[data-value='4']")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("5")
    expect(page.locator("#q3-rating button[data-value='5']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#q4-ft-answer")).to_be_focused()
    page.keyboard.type("Both add correctly.")
    page.keyboard.press("Tab")  # to the ranking
    page.keyboard.press("Enter")  # the ranking is not settled yet
    expect(page.locator("#work-message")).to_contain_text("Order the follow-ups, best first: Rank the items")
    page.locator("#question-order li[data-item=thank]").focus()
    page.keyboard.press("ArrowUp")  # "Say thanks" moves to the top, keeping the focus
    expect(page.locator("#question-order li[data-item=thank]")).to_be_focused()
    page.keyboard.press("Shift+ArrowDown")  # focus "Ask why" without moving it
    page.keyboard.press("End")
    assert _ranking_order(page) == ["thank", "stop", "ask"]
    screenshot(page, "annotator-ranking")
    page.keyboard.press("Tab")  # to the correction, which starts from reply A
    expect(page.locator("#q6-te-answer")).to_be_focused()
    expect(page.locator("#q6-te-answer")).to_have_value(f"It is **{2 * int(first[1:])}**.")
    page.keyboard.press("End")
    page.keyboard.type(" Indeed.")
    expect(page.locator("#question-fixed")).to_contain_text("Edited")
    page.keyboard.press("Control+Enter")
    expect_next_task(page, first)

    # The second task by mouse and letter keys: B is better, so the tie question stays hidden and unsent.
    second = current_task(page)
    page.keyboard.press("b")
    expect(page.locator("#question-why_tie")).to_be_hidden()
    page.get_by_role("button", name="5 very helpful").click()
    page.locator("#q3-rating button[data-value='2']").click()
    page.locator("#question-order li[data-item=stop]").drag_to(page.locator("#question-order li[data-item=ask]"))
    assert _ranking_order(page)[0] == "stop"
    page.get_by_role("button", name="Submit").click()
    expect_done(page)

    got = answers(project.id)
    assert got[first] == {"preference": {"choice": "tie"}, "helpful": {"value": 4}, "harmless": {"value": 5},
                          "why_tie": {"text": "Both add correctly."},
                          "order": {"order": ["thank", "stop", "ask"]},
                          "fixed": {"text": f"It is **{2 * int(first[1:])}**. Indeed.", "distance": len(" Indeed.")}}
    assert got[second] == {"preference": {"choice": "b"}, "helpful": {"value": 5}, "harmless": {"value": 2},
                           "order": {"order": ["stop", "ask", "thank"]},
                           "fixed": {"text": f"It is **{2 * int(second[1:])}**.", "distance": 0}}


def test_a_ranking_of_strings_by_its_buttons_and_a_kept_order(page, login, annotator, labeling_project, answers):
    questions = [{"name": "rank", "kind": "ranking", "title": "Best summary first", "items": "summaries"}]
    items = [{"external_id": "r1", "doc": "A long text.", "summaries": ["one", "two", "three"]},
             {"external_id": "r2", "doc": "Another text.", "summaries": ["x", "y"]}]
    project = labeling_project(None, items, name="Summaries", questions=questions)
    login(page, annotator, "/projects")
    page.locator("article", has_text="Summaries").get_by_role("link", name="Start working").click()
    expect(page.locator("#task-data")).to_be_visible()  # the undeclared field shows as it is
    tasks = [current_task(page)]
    row = page.locator("#question-rank li[data-item='2']")  # "three"
    row.get_by_role("button", name="Move up").click()
    row.get_by_role("button", name="Move up").click()
    page.keyboard.press("Enter")
    expect_next_task(page, tasks[0])
    tasks.append(current_task(page))
    page.keyboard.press("c")  # the order shown is right
    expect(page.get_by_role("button", name="This order is right")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    expect_done(page)
    got = answers(project.id)
    expected = {"r1": ["2", "0", "1"], "r2": ["0", "1"]}
    assert {t: got[t]["rank"]["order"] for t in tasks} == {t: expected[t] for t in tasks}


def _wav() -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_declared_media_play_with_their_controls_and_bad_addresses_are_named(page, login, annotator, live_server,
                                                                              labeling_project, answers):
    image = "data:image/svg+xml," + quote("<svg xmlns='http://www.w3.org/2000/svg' width='40' height='30'/>")
    item = {"external_id": "m1", "clip": _wav(), "film": f"{live_server}/web/styles.css#not-a-film", "photo": image,
            "album": [image, image], "bad": "javascript:alert(1)", "note": "Plain <b>text</b>"}
    display = [{"field": "clip", "as": "audio"}, {"field": "film", "as": "video"}, {"field": "photo", "as": "image"},
               {"field": "album", "as": "images"}, {"field": "bad", "as": "image"}, {"field": "note", "as": "text"}]
    questions = [{"name": "ok", "kind": "single_choice", "title": "Is it all there?", "labels": ["yes", "no"]}]
    project = labeling_project(None, [item], name="Media", questions=questions, display=display)
    login(page, annotator, "/projects")
    page.locator("article", has_text="Media").get_by_role("link", name="Start working").click()
    expect(page.locator("audio[controls]")).to_have_attribute("src", item["clip"])
    expect(page.locator("video[controls]")).to_have_attribute("src", item["film"])
    expect(page.locator(".shown-image img")).to_have_count(1)
    expect(page.locator(".shown-images img")).to_have_count(2)
    expect(page.locator("[data-field=bad]")).to_contain_text("not an image address")
    expect(page.locator("[data-field=note]")).to_contain_text("Plain <b>text</b>")  # text stays text
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect_done(page)
    assert answers(project.id) == {"m1": {"ok": {"choice": "yes"}}}
