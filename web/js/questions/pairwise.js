// pairwise: which of two candidates (a, b) is better, or a tie. Keys 1/2/3 or A/B/T.
// The candidates are shown side by side as the project displays their fields; a_id and b_id (what is
// compared, e.g. the model) are never shown, so the comparison stays blind.
import { h } from "../format.js";
import { fieldView } from "./display.js";

const KEYS = { 1: "a", 2: "b", 3: "tie", a: "a", b: "b", t: "tie" };

export function create(question, task, { idp = "", shownAs = () => "text" } = {}) {
  const tie = question.allow_tie !== false;
  const options = [["a", "A is better", "1", "A"], ["b", "B is better", "2", "B"], ...(tie ? [["tie", "Tie", "3", "T"]] : [])];
  let choice = null;
  const buttons = options.map(([value, label, n, letter]) => h("button", {
    type: "button", class: "choice", "aria-pressed": "false", dataset: { choice: value }, onclick: () => pick(value),
  }, h("kbd", { "aria-hidden": "true" }, n), h("kbd", { "aria-hidden": "true" }, letter), ` ${label}`));
  const pick = (value) => {
    choice = value;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.choice === value));
    for (const [side, col] of Object.entries(cols)) col.classList.toggle("chosen", value === side || value === "tie");
  };
  const column = (side, field) => h("section", { class: "candidate", "aria-label": `Response ${side.toUpperCase()}`, dataset: { side } },
    h("div", { class: "candidate-name" }, side.toUpperCase()), fieldView(field, shownAs(field), task));
  const cols = { a: column("a", question.a), b: column("b", question.b) };
  const group = h("div", { class: "choices", role: "group", tabindex: "-1", id: `${idp}pairwise`,
    "aria-label": tie ? "A, B or tie (keys 1, 2, 3 or A, B, T)" : "A or B (keys 1, 2 or A, B)" }, buttons);
  return {
    el: h("div", { class: "pairwise" },
      question.prompt ? h("div", { class: "prompt" }, fieldView(question.prompt, shownAs(question.prompt), task)) : null,
      h("div", { class: "pair" }, cols.a, cols.b), group),
    answer: () => (choice === null ? null : { choice }),
    missing: tie ? "Choose A, B or tie (keys 1/2/3 or A/B/T)." : "Choose A or B (keys 1/2 or A/B).",
    onKey(event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return false;
      const value = KEYS[event.key.toLowerCase()];
      if (!value || (value === "tie" && !tie)) return false;
      pick(value);
      buttons.find((b) => b.dataset.choice === value).focus();
      return "next";
    },
    focus: () => group.focus(),
  };
}

export const consumes = (question) => [question.a, question.b, question.prompt, question.a_id, question.b_id].filter(Boolean);
export const help = (question) => [[h("kbd", {}, "1"), "/", h("kbd", {}, "A"), " A better, ", h("kbd", {}, "2"), "/", h("kbd", {}, "B"),
  " B better", question.allow_tie !== false ? [", ", h("kbd", {}, "3"), "/", h("kbd", {}, "T"), " tie"] : null]];
