// Formatting and small DOM helpers shared by the pages.

const digitsCache = new Map();

export function fractionDigits(currency) {
  if (!digitsCache.has(currency)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch { /* unknown code: keep 2 */ }
    digitsCache.set(currency, digits);
  }
  return digitsCache.get(currency);
}

// Integer minor units + ISO currency -> "$1.25", "¥300".
export function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  const digits = fractionDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
    }).format(amount / 10 ** digits);
  } catch {
    return `${amount} ${currency} (minor units)`;
  }
}

export function toMinor(major, currency) {
  return Math.round(Number(major) * 10 ** fractionDigits(currency));
}

export function toMajor(minor, currency) {
  return (minor / 10 ** fractionDigits(currency)).toFixed(fractionDigits(currency));
}

export const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
export const num = (x, d = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}:${String(r).padStart(2, "0")}`;
}

// h("button", {class: "x", onclick: fn}, "text", child...) -> Element. Strings become text nodes (never HTML).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through CSSOM, which the Content-Security-Policy (no inline styles) allows.
    else if (key === "style") el.style.cssText = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function notice(kind, text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// A tiny Markdown subset for instructions: paragraphs, "- " lists, **bold**, *italic*, `code`. Escapes first.
export function markdown(source) {
  const wrap = h("div", { class: "markdown" });
  const inline = (text) => {
    const out = [];
    const re = /(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`)/g;
    let last = 0;
    for (const m of text.matchAll(re)) {
      out.push(text.slice(last, m.index));
      const t = m[0];
      if (t.startsWith("**")) out.push(h("strong", {}, t.slice(2, -2)));
      else if (t.startsWith("`")) out.push(h("code", {}, t.slice(1, -1)));
      else out.push(h("em", {}, t.slice(1, -1)));
      last = m.index + t.length;
    }
    out.push(text.slice(last));
    return out;
  };
  for (const block of (source || "").split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => l.trim());
    if (!lines.length) continue;
    if (lines.every((l) => /^\s*[-*] /.test(l))) {
      wrap.append(h("ul", {}, lines.map((l) => h("li", {}, inline(l.replace(/^\s*[-*] /, ""))))));
    } else {
      wrap.append(h("p", {}, inline(lines.join(" "))));
    }
  }
  return wrap;
}

export function table(headers, rows, caption) {
  return h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => (r instanceof Node ? r : h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

export function progressBar(value, label) {
  const v = Math.max(0, Math.min(1, value || 0));
  return h("div", { class: "bar", role: "progressbar", "aria-label": label, "aria-valuemin": "0",
    "aria-valuemax": "100", "aria-valuenow": String(Math.round(v * 100)) },
  h("span", { style: `width:${(v * 100).toFixed(1)}%` }));
}

// el.replaceChildren(...) that skips null/false and flattens arrays (the DOM method would print "null").
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}
