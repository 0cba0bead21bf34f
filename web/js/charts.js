// Inline SVG charts: bars with a value axis 0..1 (or -1..1), a line over days, and a heat table.
import { h } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const s = (tag, attrs = {}, text) => {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
};

function frame(title, width, height) {
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  return svg;
}

function axis(svg, { left, top, plotW, plotH, lo, hi }) {
  for (const t of [lo, (lo + hi) / 2, hi]) {
    const y = top + plotH - ((t - lo) / (hi - lo)) * plotH;
    svg.append(s("line", { x1: left, x2: left + plotW, y1: y, y2: y, stroke: "#d5dae1" }),
      s("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, t.toFixed(1)));
  }
}

// items: [{label, value}] with value in [lo, hi] or null (drawn as "n/a").
export function barChart(title, items, { lo = 0, hi = 1 } = {}) {
  const width = 640, height = 220, left = 40, top = 12, bottom = 40;
  const plotW = width - left - 10, plotH = height - top - bottom;
  const svg = frame(title, width, height);
  axis(svg, { left, top, plotW, plotH, lo, hi });
  const step = plotW / Math.max(1, items.length);
  const zero = top + plotH - ((Math.max(lo, 0) - lo) / (hi - lo)) * plotH;
  items.forEach((item, i) => {
    const x = left + i * step + step * 0.15, w = step * 0.7;
    if (item.value === null || item.value === undefined) {
      svg.append(s("text", { x: x + w / 2, y: zero - 4, "text-anchor": "middle" }, "n/a"));
    } else {
      const v = Math.max(lo, Math.min(hi, item.value));
      const y = top + plotH - ((v - lo) / (hi - lo)) * plotH;
      const bar = s("rect", { x, y: Math.min(y, zero), width: w, height: Math.max(1, Math.abs(zero - y)),
        fill: v < 0.4 ? "#b3261e" : v < 0.67 ? "#d08a1a" : "#1d7a46" });
      bar.append(s("title", {}, `${item.label}: ${item.value.toFixed(3)}`));
      svg.append(bar, s("text", { x: x + w / 2, y: Math.min(y, zero) - 3, "text-anchor": "middle" }, item.value.toFixed(2)));
    }
    svg.append(s("text", { x: x + w / 2, y: height - bottom + 16, "text-anchor": "middle" }, String(item.label).slice(0, 14)));
  });
  return svg;
}

// points: [{label (a day), value}] drawn as a line with dots.
export function lineChart(title, points, { lo = 0, hi = 1 } = {}) {
  const width = 640, height = 220, left = 40, top = 12, bottom = 40;
  const plotW = width - left - 20, plotH = height - top - bottom;
  const svg = frame(title, width, height);
  axis(svg, { left, top, plotW, plotH, lo, hi });
  const known = points.map((p, i) => ({ ...p, i })).filter((p) => p.value !== null && p.value !== undefined);
  const xOf = (i) => left + (points.length === 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const yOf = (v) => top + plotH - ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo)) * plotH;
  if (known.length > 1) {
    svg.append(s("polyline", { fill: "none", stroke: "#1f5fbf", "stroke-width": 2,
      points: known.map((p) => `${xOf(p.i)},${yOf(p.value)}`).join(" ") }));
  }
  for (const p of known) {
    const dot = s("circle", { cx: xOf(p.i), cy: yOf(p.value), r: 4, fill: "#1f5fbf" });
    dot.append(s("title", {}, `${p.label}: ${p.value.toFixed(3)}`));
    svg.append(dot);
  }
  const every = Math.ceil(points.length / 8);
  points.forEach((p, i) => {
    if (i % every === 0) svg.append(s("text", { x: xOf(i), y: height - bottom + 16, "text-anchor": "middle" }, String(p.label).slice(5)));
  });
  return svg;
}

// A square matrix of values in [-1, 1] as a table whose cells are shaded by value.
export function heatTable(caption, names, matrix) {
  const shade = (v) => {
    if (v === null || v === undefined) return "#eef1f5";
    const t = Math.max(-1, Math.min(1, v));
    return t >= 0 ? `hsl(140 50% ${95 - t * 45}%)` : `hsl(4 65% ${95 + t * 40}%)`;
  };
  return h("table", { class: "heat" }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Worker"), names.map((n) => h("th", { scope: "col" }, n)))),
    h("tbody", {}, names.map((n, i) => h("tr", {}, h("th", { scope: "row" }, n),
      matrix[i].map((v, j) => h("td", { style: `background:${shade(v)}`, title: `${n} × ${names[j]}` },
        v === null || v === undefined ? "—" : v.toFixed(2)))))));
}
