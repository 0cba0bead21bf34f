// rating: a point on an integer scale; with `labels` ({"1": "harmful", ...}) a Likert scale whose points are named.
// Digits are the values themselves when the scale fits in 0..9 (else the 1st..9th step); arrows step.
import { h } from "../format.js";
import { digit } from "../labels.js";

export function create(question, task, { idp = "" } = {}) {
  const min = question.min ?? 1, max = question.max ?? 5;
  const names = question.labels || {};
  const values = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  let value = null;
  const direct = min >= 0 && max <= 9;
  const buttons = values.map((v) => h("button", {
    type: "button", "aria-pressed": "false", dataset: { value: String(v) }, onclick: () => pick(v),
    class: names[String(v)] ? "point named" : "point",
  }, h("span", { class: "value" }, String(v)), names[String(v)] ? h("span", { class: "point-label" }, names[String(v)]) : null));
  const pick = (v) => {
    value = v;
    for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.value) === v));
  };
  const group = h("div", { class: "choices rating", role: "group", tabindex: "-1", id: `${idp}rating`,
    "aria-label": `Rating from ${min} to ${max}` }, buttons);
  return {
    el: h("div", {}, group,
      h("p", { class: "muted" }, direct ? `Keys ${min}–${max} choose; ← → step.` : "Keys 1–9 choose the first steps; ← → step.")),
    answer: () => (value === null ? null : { value }),
    missing: `Choose a rating from ${min} to ${max}.`,
    onKey(event) {
      const d = digit(event);
      let v = null;
      if (d !== null) v = direct ? d : min + d - 1;
      else if (event.key === "ArrowRight" || event.key === "ArrowUp") v = Math.min(max, (value ?? min - 1) + 1);
      else if (event.key === "ArrowLeft" || event.key === "ArrowDown") v = Math.max(min, (value ?? min + 1) - 1);
      if (v === null || v < min || v > max) return false;
      pick(v);
      buttons[v - min].focus();
      return d !== null ? "next" : true;
    },
    focus: () => group.focus(),
  };
}

export const consumes = () => [];
export const help = (question) => [[h("kbd", {}, String(question.min ?? 1)), "–", h("kbd", {}, String(Math.min(9, question.max ?? 5))),
  " rate, ", h("kbd", {}, "←"), " ", h("kbd", {}, "→"), " step"]];
