// text_edit: correct a text. The box starts from the task's source field; the answer is the corrected text
// (an unchanged text is an answer too: nothing needed fixing). Ctrl+Enter submits.
import { h } from "../format.js";

export function create(question, task, { idp = "" } = {}) {
  const source = typeof task.data?.[question.source] === "string" ? task.data[question.source] : "";
  const limit = question.max_length;
  const area = h("textarea", { id: `${idp}te-answer`, rows: Math.min(12, Math.max(4, source.split("\n").length + 1)),
    maxlength: limit ? String(limit) : null, "aria-describedby": `${idp}te-status` });
  area.value = source;
  const status = h("span", { class: "muted", id: `${idp}te-status`, "aria-live": "polite" });
  const update = () => { status.textContent = area.value === source ? "Unchanged" : "Edited"; };
  area.addEventListener("input", update);
  update();
  const reset = h("button", { type: "button", onclick: () => { area.value = source; update(); area.focus(); } }, "Undo my edits");
  return {
    el: h("div", { class: "field" }, h("label", { for: `${idp}te-answer` }, "Corrected text"), area,
      h("div", { class: "spread" }, h("span", { class: "hint" }, "Ctrl+Enter submits."), h("span", { class: "row" }, status, reset))),
    answer: () => ({ text: area.value }),
    missing: "",
    onKey: () => false,
    focus: () => area.focus(),
    textEntry: true,
  };
}

export const consumes = (question) => [question.source];
export const help = () => [["Edit the text; ", h("kbd", {}, "Ctrl"), "+", h("kbd", {}, "Enter"), " submits from the text box"]];
