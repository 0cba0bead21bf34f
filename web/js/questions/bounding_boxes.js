// bounding_boxes: drag on the image to draw, drag a box to move it, drag a corner to resize it.
// Keyboard: 1-9 pick the label of new boxes, N adds one, arrows move the selected box (Shift+arrows resize it),
// Delete removes it; the list below selects a box and changes its label.
// Coordinates are image pixels (the task's width/height when given, else the image's natural size).
import { fill, h } from "../format.js";
import { labelColor, labelPicker } from "../labels.js";

const SVG = "http://www.w3.org/2000/svg";
const s = (tag, attrs = {}) => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
};

export function create(project, task, { idp = "" } = {}) {
  const labels = project.labels || [];
  const src = task.data?.[project.image_field || "image"];
  let W = Number(task.data?.width) || 0, H = Number(task.data?.height) || 0;
  let boxes = [];
  let selected = -1;
  let drag = null;

  // The picker chooses the label of the next box; a box's own label is changed in the list.
  const picker = labelPicker(labels);
  const img = h("img", { src, alt: "Image to annotate", draggable: "false" });
  const svg = s("svg", { tabindex: "0", role: "application", id: `${idp}boxes-canvas`, preserveAspectRatio: "none",
    "aria-label": "Image: drag to draw a box. Keys: N new box, arrows move, Shift+arrows resize, Delete removes." });
  const stage = h("div", { class: "boxes-stage" }, img, svg);
  const list = h("ul", { class: "plain", id: `${idp}boxes-list`, "aria-label": "Boxes" });
  const status = h("p", { class: "muted", "aria-live": "polite" });

  const ready = new Promise((resolve) => {
    const done = () => {
      if (!W || !H) { W = img.naturalWidth || 640; H = img.naturalHeight || 480; }
      svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
      render();
      resolve();
    };
    if (img.complete && img.naturalWidth) done();
    else { img.addEventListener("load", done, { once: true }); img.addEventListener("error", () => { status.textContent = "The image could not be loaded."; done(); }, { once: true }); }
  });

  const clamp = (b) => {
    b.width = Math.max(1, Math.min(b.width, W)); b.height = Math.max(1, Math.min(b.height, H));
    b.x = Math.max(0, Math.min(b.x, W - b.width)); b.y = Math.max(0, Math.min(b.y, H - b.height));
    for (const k of ["x", "y", "width", "height"]) b[k] = Math.round(b[k]);
    if (b.x + b.width > W) b.width = W - b.x;
    if (b.y + b.height > H) b.height = H - b.y;
    return b;
  };
  const point = (event) => {
    const r = svg.getBoundingClientRect();
    return { x: Math.max(0, Math.min(W, ((event.clientX - r.left) * W) / r.width)),
      y: Math.max(0, Math.min(H, ((event.clientY - r.top) * H) / r.height)) };
  };
  const select = (i) => {
    selected = i;
    render();
  };

  function render() {
    const handleSize = Math.max(6, Math.min(W, H) / 60);
    fill(svg, ...boxes.flatMap((b, i) => {
      const color = labelColor(labels, b.label);
      const rect = s("rect", { class: `box${i === selected ? " sel" : ""}`, x: b.x, y: b.y, width: b.width, height: b.height,
        fill: color, stroke: color, "data-index": i });
      const label = s("text", { x: b.x + 4, y: Math.max(14, b.y - 4), fill: color });
      label.textContent = `${i + 1}. ${b.label}`;
      const parts = [rect, label];
      if (i === selected) {
        for (const [cx, cy, corner] of [[b.x, b.y, "nw"], [b.x + b.width, b.y, "ne"], [b.x, b.y + b.height, "sw"],
          [b.x + b.width, b.y + b.height, "se"]]) {
          parts.push(s("rect", { class: "handle", x: cx - handleSize / 2, y: cy - handleSize / 2, width: handleSize,
            height: handleSize, "data-corner": corner }));
        }
      }
      return parts;
    }));
    fill(list, ...(boxes.length ? boxes.map((b, i) => h("li", { class: i === selected ? "selected" : null },
      h("button", { type: "button", "aria-pressed": String(i === selected), onclick: () => { select(i); svg.focus(); } },
        `${i + 1}. ${b.label}`),
      h("select", { "aria-label": `Label of box ${i + 1}`, onchange: (e) => { b.label = e.target.value; render(); } },
        labels.map((l) => h("option", { value: l, selected: l === b.label }, l))),
      h("span", { class: "muted" }, `${b.x},${b.y} ${b.width}×${b.height}`),
      h("button", { type: "button", class: "danger", "aria-label": `Delete box ${i + 1} (${b.label})`,
        onclick: () => remove(i) }, "Delete")))
      : [h("li", { class: "muted" }, "No boxes yet: drag on the image, or press N.")]));
  }

  function remove(i) {
    boxes.splice(i, 1);
    selected = -1;
    render();
    status.textContent = `Box ${i + 1} deleted.`;
  }

  svg.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    svg.focus();
    const p = point(event);
    const target = event.target;
    if (target.dataset?.corner && selected >= 0) {
      drag = { mode: "resize", corner: target.dataset.corner, start: p, orig: { ...boxes[selected] } };
    } else if (target.classList?.contains("box")) {
      select(Number(target.dataset.index));
      drag = { mode: "move", start: p, orig: { ...boxes[selected] } };
    } else {
      boxes.push({ label: picker.active, x: p.x, y: p.y, width: 0, height: 0 });
      selected = boxes.length - 1;
      drag = { mode: "draw", start: p };
    }
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const p = point(event);
    const b = boxes[selected];
    if (drag.mode === "draw") {
      Object.assign(b, { x: Math.min(p.x, drag.start.x), y: Math.min(p.y, drag.start.y),
        width: Math.abs(p.x - drag.start.x), height: Math.abs(p.y - drag.start.y) });
    } else if (drag.mode === "move") {
      b.x = Math.max(0, Math.min(W - b.width, drag.orig.x + p.x - drag.start.x));
      b.y = Math.max(0, Math.min(H - b.height, drag.orig.y + p.y - drag.start.y));
    } else {
      const o = drag.orig;
      let [x1, y1, x2, y2] = [o.x, o.y, o.x + o.width, o.y + o.height];
      if (drag.corner.includes("w")) x1 = p.x; else x2 = p.x;
      if (drag.corner.includes("n")) y1 = p.y; else y2 = p.y;
      Object.assign(b, { x: Math.min(x1, x2), y: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) });
    }
    render();
  });
  const end = () => {
    if (!drag) return;
    const b = boxes[selected];
    if (drag.mode === "draw" && (b.width < 3 || b.height < 3)) {
      boxes.splice(selected, 1);
      selected = -1;
    } else if (b) {
      clamp(b);
      status.textContent = `Box ${selected + 1} (${b.label}) at ${b.x},${b.y}, ${b.width}×${b.height}.`;
    }
    drag = null;
    render();
  };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);

  render();
  return {
    el: h("div", {}, picker.el, h("div", { class: "row", style: "align-items:flex-start" }, stage,
      h("div", { style: "min-width:14rem;flex:1" }, h("h2", {}, "Boxes"), list, status))),
    ready,
    answer() {
      return { boxes: boxes.map((b) => clamp({ ...b })).map(({ label, x, y, width, height }) => ({ label, x, y, width, height })) };
    },
    onKey(event) {
      const label = picker.fromKey(event);
      if (label) { picker.set(label); return true; }
      if (document.activeElement !== svg) return false;
      if (event.key === "n" || event.key === "N" || event.key === "Insert") {
        boxes.push(clamp({ label: picker.active, x: W / 4, y: H / 4, width: W / 2, height: H / 2 }));
        select(boxes.length - 1);
        status.textContent = `Box ${boxes.length} added (${picker.active}).`;
        return true;
      }
      if (selected < 0) return false;
      const b = boxes[selected];
      const step = Math.max(1, Math.round(Math.min(W, H) / 50));
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[event.key]) {
        const [dx, dy] = moves[event.key];
        if (event.shiftKey) { b.width += dx; b.height += dy; } else { b.x += dx; b.y += dy; }
        clamp(b);
        render();
        return true;
      }
      if (event.key === "Delete" || event.key === "Backspace") { remove(selected); return true; }
      if (event.key === "Escape") { select(-1); return true; }
      return false;
    },
    focus: () => svg.focus(),
  };
}

export const consumes = (question) => [question.image_field || "image"];
export const help = (question) => [
  [h("kbd", {}, "1"), "–", h("kbd", {}, String(Math.min(9, (question.labels || []).length))), " labels"],
  [h("kbd", {}, "N"), " new box, arrows move, Shift+arrows resize, ", h("kbd", {}, "Delete"), " removes"]];
