// One widget per task type. A widget is {el, answer(), onKey(event) -> handled?, focus()}.
// answer() returns the API's answer shape or throws an Error whose message tells the annotator what is missing.
import { boxesWidget } from "./boxes.js";
import { h } from "./format.js";
import { digit } from "./labels.js";
import { spansWidget } from "./spans.js";

const isImage = (v) => typeof v === "string" && (/^data:image\//.test(v) || /^https?:\/\/\S+\.(png|jpe?g|gif|webp|svg)(\?\S*)?$/i.test(v));

// The task's data as the annotator sees it: the text, or each field (images shown as images).
export function taskData(data, skip = []) {
  const entries = Object.entries(data || {}).filter(([k]) => !skip.includes(k));
  if (entries.length === 1 && typeof entries[0][1] === "string" && !isImage(entries[0][1])) {
    return h("div", { class: "task-data", id: "task-data" }, entries[0][1]);
  }
  return h("div", { class: "task-data", id: "task-data" }, entries.map(([key, value]) => h("div", {},
    h("strong", {}, `${key}: `),
    isImage(value) ? h("img", { src: value, alt: key, style: "max-width:100%" })
      : typeof value === "string" ? value : JSON.stringify(value))));
}

function singleChoice(project, task) {
  let choice = null;
  const labels = project.labels || [];
  const buttons = labels.map((label, i) => h("button", {
    type: "button", class: "choice", "aria-pressed": "false", dataset: { label },
    onclick: () => pick(label),
  }, i < 9 ? h("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, label));
  const pick = (label) => {
    choice = label;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.label === label));
  };
  const el = h("div", {}, taskData(task.data),
    h("div", { class: "choices", role: "group", tabindex: "-1", "aria-label": "Choose one label (number keys)" }, buttons));
  return {
    el,
    answer() {
      if (choice === null) throw new Error("Choose a label first (number keys 1–9).");
      return { choice };
    },
    onKey(event) {
      const d = digit(event);
      if (d && d <= Math.min(9, labels.length)) { pick(labels[d - 1]); buttons[d - 1].focus(); return true; }
      return false;
    },
    focus: () => el.querySelector(".choices").focus(),
  };
}

function multiChoice(project, task) {
  const labels = project.labels || [];
  const boxes = labels.map((label, i) => h("input", { type: "checkbox", id: `mc-${i}`, value: label }));
  const el = h("div", {}, taskData(task.data),
    h("fieldset", { tabindex: "-1" }, h("legend", {}, "Choose every label that applies (number keys toggle)"),
      h("div", { class: "choices" }, labels.map((label, i) => h("label", { class: "check", for: `mc-${i}` },
        boxes[i], i < 9 ? h("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, label)))));
  return {
    el,
    answer: () => ({ choices: boxes.filter((b) => b.checked).map((b) => b.value) }),
    onKey(event) {
      const d = digit(event);
      if (d && d <= Math.min(9, labels.length)) {
        boxes[d - 1].checked = !boxes[d - 1].checked;
        boxes[d - 1].focus();
        return true;
      }
      return false;
    },
    focus: () => el.querySelector("fieldset").focus(),
  };
}

function rating(project, task) {
  const min = project.min ?? 1, max = project.max ?? 5;
  const values = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  let value = null;
  // Digits are the values themselves when the scale fits in 0..9; otherwise the 1st..9th step.
  const direct = min >= 0 && max <= 9;
  const buttons = values.map((v) => h("button", {
    type: "button", "aria-pressed": "false", dataset: { value: String(v) }, onclick: () => pick(v),
  }, String(v)));
  const pick = (v) => {
    value = v;
    for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.value) === v));
  };
  const el = h("div", {}, taskData(task.data),
    h("div", { class: "choices rating", role: "group", tabindex: "-1", "aria-label": `Rating from ${min} to ${max}` }, buttons),
    h("p", { class: "muted" }, direct ? `Keys ${min}–${max} choose; ← → step.` : "Keys 1–9 choose the first steps; ← → step."));
  return {
    el,
    answer() {
      if (value === null) throw new Error(`Choose a rating from ${min} to ${max}.`);
      return { value };
    },
    onKey(event) {
      const d = digit(event);
      let v = null;
      if (d !== null) v = direct ? d : min + d - 1;
      else if (event.key === "ArrowRight" || event.key === "ArrowUp") v = Math.min(max, (value ?? min - 1) + 1);
      else if (event.key === "ArrowLeft" || event.key === "ArrowDown") v = Math.max(min, (value ?? min + 1) - 1);
      if (v === null || v < min || v > max) return false;
      pick(v);
      buttons[v - min].focus();
      return true;
    },
    focus: () => el.querySelector(".rating").focus(),
  };
}

function freeText(project, task) {
  const limit = project.max_length;
  const counter = h("span", { class: "muted", id: "ft-count", "aria-live": "polite" });
  const area = h("textarea", { id: "ft-answer", rows: 5, maxlength: limit ? String(limit) : null,
    "aria-describedby": "ft-help ft-count" });
  const update = () => { counter.textContent = limit ? `${area.value.length} / ${limit}` : `${area.value.length} characters`; };
  area.addEventListener("input", update);
  update();
  const el = h("div", {}, taskData(task.data),
    h("div", { class: "field" }, h("label", { for: "ft-answer" }, "Your answer"), area,
      h("div", { class: "spread" }, h("span", { class: "hint", id: "ft-help" }, "Ctrl+Enter submits."), counter)));
  return {
    el,
    answer() {
      if (!area.value.trim()) throw new Error("Write an answer first.");
      return { text: area.value };
    },
    onKey: () => false,
    focus: () => area.focus(),
    textEntry: true,
  };
}

const WIDGETS = {
  single_choice: singleChoice, multi_choice: multiChoice, rating, free_text: freeText,
  text_spans: spansWidget, bounding_boxes: boxesWidget,
};

export function createWidget(project, task) {
  const make = WIDGETS[project.task_type];
  if (!make) throw new Error(`This UI cannot show ${project.task_type} tasks.`);
  return make(project, task);
}
