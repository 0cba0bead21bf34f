// single_choice: one label of the question's list. Number keys 1–9 pick, a click picks.
import { h } from "../format.js";
import { digit } from "../labels.js";

export function create(question, task, { idp = "" } = {}) {
  let choice = null;
  const labels = question.labels || [];
  const buttons = labels.map((label, i) => h("button", {
    type: "button", class: "choice", "aria-pressed": "false", dataset: { label },
    onclick: () => pick(label),
  }, i < 9 ? h("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, label));
  const pick = (label) => {
    choice = label;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.label === label));
  };
  const group = h("div", { class: "choices", role: "group", tabindex: "-1", id: `${idp}choices`,
    "aria-label": "Choose one label (number keys)" }, buttons);
  return {
    el: group,
    answer: () => (choice === null ? null : { choice }),
    missing: "Choose a label first (number keys 1–9).",
    onKey(event) {
      const d = digit(event);
      if (d && d <= Math.min(9, labels.length)) { pick(labels[d - 1]); buttons[d - 1].focus(); return "next"; }
      return false;
    },
    focus: () => group.focus(),
  };
}

export const consumes = () => [];
export const help = (question) => [[h("kbd", {}, "1"), "–", h("kbd", {}, String(Math.min(9, (question.labels || []).length))), " labels"]];
