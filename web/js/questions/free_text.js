// free_text: a written answer, within the question's max_length. Ctrl+Enter submits.
import { h } from "../format.js";

export function create(question, task, { idp = "" } = {}) {
  const limit = question.max_length;
  const counter = h("span", { class: "muted", id: `${idp}ft-count`, "aria-live": "polite" });
  const area = h("textarea", { id: `${idp}ft-answer`, rows: 4, maxlength: limit ? String(limit) : null,
    "aria-describedby": `${idp}ft-help ${idp}ft-count` });
  const update = () => { counter.textContent = limit ? `${area.value.length} / ${limit}` : `${area.value.length} characters`; };
  area.addEventListener("input", update);
  update();
  return {
    el: h("div", { class: "field" }, h("label", { for: `${idp}ft-answer` }, "Your answer"), area,
      h("div", { class: "spread" }, h("span", { class: "hint", id: `${idp}ft-help` }, "Ctrl+Enter submits."), counter)),
    answer: () => (area.value.trim() ? { text: area.value } : null),
    missing: "Write an answer first.",
    onKey: () => false,
    focus: () => area.focus(),
    textEntry: true,
  };
}

export const consumes = () => [];
export const help = () => [[h("kbd", {}, "Ctrl"), "+", h("kbd", {}, "Enter"), " submit from the text box"]];
