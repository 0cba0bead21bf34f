// multi_choice: every label that applies. Number keys 1–9 toggle; no label is an answer too.
import { h } from "../format.js";
import { digit } from "../labels.js";

export function create(question, task, { idp = "" } = {}) {
  const labels = question.labels || [];
  const boxes = labels.map((label, i) => h("input", { type: "checkbox", id: `${idp}mc-${i}`, value: label }));
  const set = h("fieldset", { tabindex: "-1" }, h("legend", {}, "Choose every label that applies (number keys toggle)"),
    h("div", { class: "choices" }, labels.map((label, i) => h("label", { class: "check", for: `${idp}mc-${i}` },
      boxes[i], i < 9 ? h("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, label))));
  return {
    el: set,
    answer: () => ({ choices: boxes.filter((b) => b.checked).map((b) => b.value) }),
    missing: "",
    onKey(event) {
      const d = digit(event);
      if (d && d <= Math.min(9, labels.length)) {
        boxes[d - 1].checked = !boxes[d - 1].checked;
        boxes[d - 1].focus();
        return true;
      }
      return false;
    },
    focus: () => set.focus(),
  };
}

export const consumes = () => [];
export const help = (question) => [[h("kbd", {}, "1"), "–", h("kbd", {}, String(Math.min(9, (question.labels || []).length))), " toggle labels"]];
