// Label colours, number-key shortcuts and the active-label picker shared by the widgets.
import { h } from "./format.js";

export const LABEL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
  "#7f7f7f"];
export const labelColor = (labels, label) => LABEL_COLORS[Math.max(0, labels.indexOf(label)) % LABEL_COLORS.length];

export function digit(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  return /^[0-9]$/.test(event.key) ? Number(event.key) : null;
}

// The label picker shared by spans and boxes: number keys or clicks pick the active label.
export function labelPicker(labels, onPick) {
  let active = labels[0];
  const buttons = labels.map((label, i) => h("button", {
    type: "button", "aria-pressed": String(i === 0), dataset: { label },
    style: `border-left:6px solid ${LABEL_COLORS[i % LABEL_COLORS.length]}`,
    onclick: () => set(label),
  }, i < 9 ? h("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, ` ${label}`));
  const set = (label) => {
    active = label;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.label === label));
    onPick?.(label);
  };
  return {
    el: h("div", { class: "choices", role: "group", "aria-label": "Active label" }, buttons),
    get active() { return active; },
    set,
    fromKey(event) {
      const d = digit(event);
      if (d && d <= Math.min(9, labels.length)) return labels[d - 1];
      return null;
    },
  };
}
