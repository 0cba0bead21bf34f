// text_spans: select text with the mouse (or words with Shift+arrows) and label it.
// Offsets are in Unicode code points, as the API (Python) counts them, not in JavaScript's UTF-16 units.
import { fill, h } from "../format.js";
import { labelColor, labelPicker } from "../labels.js";

export function create(project, task, { idp = "" } = {}) {
  const labels = project.labels || [];
  const field = project.text_field || "text";
  const text = String(task.data?.[field] ?? "");
  const chars = Array.from(text);
  const sliceText = (a, b) => chars.slice(a, b).join("");
  // Words (and single punctuation marks) for keyboard selection, as code-point ranges.
  const cpAt = [];
  {
    let cp = 0;
    for (const ch of chars) { for (let k = 0; k < ch.length; k++) cpAt.push(cp); cp += 1; }
    cpAt.push(chars.length);
  }
  const words = [...text.matchAll(/[\p{L}\p{N}'’_-]+|[^\s]/gu)].map((m) => [cpAt[m.index], cpAt[m.index + m[0].length]]);
  let spans = [];
  let kbd = null; // {anchor, focus} word indexes of the keyboard selection

  const picker = labelPicker(labels);
  const box = h("div", {
    class: "spans-text", id: `${idp}spans-text`, tabindex: "0", role: "textbox", "aria-readonly": "true", "aria-multiline": "true",
    "aria-label": "Text to label. Select with the mouse, or move by word with the arrow keys and extend with Shift+arrows; a number key labels the selection.",
  });
  const list = h("ul", { class: "plain", id: `${idp}spans-list`, "aria-label": "Labelled spans" });

  const kbdRange = () => {
    if (!kbd || !words.length) return null;
    const a = Math.min(kbd.anchor, kbd.focus), b = Math.max(kbd.anchor, kbd.focus);
    return [words[a][0], words[b][1]];
  };

  function render() {
    const sel = kbdRange();
    const cuts = new Set([0, chars.length]);
    for (const s of spans) { cuts.add(s.start); cuts.add(s.end); }
    if (sel) { cuts.add(sel[0]); cuts.add(sel[1]); }
    const points = [...cuts].sort((x, y) => x - y);
    const parts = [];
    for (let i = 0; i < points.length - 1; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const covering = spans.filter((s) => s.start <= a && s.end >= b);
      const inSel = sel && sel[0] <= a && sel[1] >= b;
      const attrs = { dataset: { start: String(a) }, class: inSel ? "kbd-sel" : null };
      if (covering.length) {
        const top = covering[covering.length - 1];
        const color = labelColor(labels, top.label);
        parts.push(h("mark", { ...attrs, style: `background:${color}33;box-shadow:inset 0 -3px ${color}` }, sliceText(a, b)));
        for (const s of covering.filter((s) => s.end === b)) {
          parts.push(h("sup", { "aria-hidden": "true", contenteditable: "false", style: `color:${labelColor(labels, s.label)};user-select:none` }, s.label));
        }
      } else {
        parts.push(h("span", attrs, sliceText(a, b)));
      }
    }
    fill(box, ...parts);
    fill(list, ...(spans.length ? spans.map((s, i) => h("li", {},
      h("span", {}, h("span", { class: "badge", style: `background:${labelColor(labels, s.label)}33` }, s.label),
        ` “${sliceText(s.start, s.end)}” `, h("span", { class: "muted" }, `${s.start}–${s.end}`)),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${s.label} “${sliceText(s.start, s.end)}”`,
        onclick: () => { spans.splice(i, 1); render(); box.focus(); } }, "Delete")))
      : [h("li", { class: "muted" }, "No spans yet.")]));
  }

  function add(label, start, end) {
    while (start < end && /\s/.test(chars[start])) start++;
    while (end > start && /\s/.test(chars[end - 1])) end--;
    if (start >= end) return;
    if (spans.some((s) => s.start === start && s.end === end && s.label === label)) return;
    spans.push({ label, start, end });
    spans.sort((x, y) => x.start - y.start || x.end - y.end);
    render();
  }

  // A DOM position (node, offset) inside the text box -> code-point offset.
  function offsetOf(node, offset) {
    if (node.nodeType === Node.TEXT_NODE) {
      const seg = node.parentElement.closest("[data-start]");
      if (!seg || node.parentElement.closest("sup")) {
        const next = node.parentElement.closest("sup")?.nextElementSibling;
        return next?.dataset.start ? Number(next.dataset.start) : chars.length;
      }
      return Number(seg.dataset.start) + Array.from(node.data.slice(0, offset)).length;
    }
    const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    if (el === box) {
      const child = box.childNodes[offset];
      if (!child) return chars.length;
      return child.dataset?.start ? Number(child.dataset.start) : offsetOf(child.nextSibling || box, 0);
    }
    const seg = el.closest("[data-start]");
    return seg ? Number(seg.dataset.start) + (offset ? Array.from(seg.textContent).length : 0) : chars.length;
  }

  box.addEventListener("mouseup", () => {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return;
    const range = selection.getRangeAt(0);
    if (!box.contains(range.commonAncestorContainer)) return;
    const start = offsetOf(range.startContainer, range.startOffset);
    const end = offsetOf(range.endContainer, range.endOffset);
    selection.removeAllRanges();
    kbd = null;
    add(picker.active, Math.min(start, end), Math.max(start, end));
  });

  render();
  return {
    el: h("div", {}, picker.el, box, h("h2", {}, "Spans"), list),
    answer: () => ({ spans: spans.map(({ label, start, end }) => ({ label, start, end })) }),
    onKey(event) {
      const label = picker.fromKey(event);
      if (label) {
        picker.set(label);
        const range = document.activeElement === box ? kbdRange() : null;
        if (range) {
          add(label, range[0], range[1]);
          kbd = { anchor: kbd.focus, focus: kbd.focus }; // the cursor stays where the selection ended
          render();
        }
        return true;
      }
      if (document.activeElement !== box || !words.length) {
        if (event.key === "Backspace" && spans.length && document.activeElement === box) { spans.pop(); render(); return true; }
        return false;
      }
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        const step = event.key === "ArrowRight" ? 1 : -1;
        if (!kbd) kbd = { anchor: 0, focus: 0 };
        else {
          const focus = Math.max(0, Math.min(words.length - 1, kbd.focus + step));
          kbd = event.shiftKey ? { anchor: kbd.anchor, focus } : { anchor: focus, focus };
        }
        render();
        return true;
      }
      if (event.key === "Escape" && kbd) { kbd = null; render(); return true; }
      if ((event.key === "Backspace" || event.key === "Delete") && spans.length) { spans.pop(); render(); return true; }
      return false;
    },
    focus: () => box.focus(),
  };
}

// The data field this question marks up is shown by the widget, not again in the task's data.
export const consumes = (question) => [question.text_field || "text"];
export const help = (question) => [
  [h("kbd", {}, "1"), "–", h("kbd", {}, String(Math.min(9, (question.labels || []).length))), " labels"],
  ["In the text: ← → move by word, Shift extends, a number labels"]];
