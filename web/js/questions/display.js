// The task's data as the project declares it (`display: [{field, as}]`); undeclared fields as plain values.
// Markdown and HTML fields are inserted only from `task.rendered`, which the server sanitised; the raw field
// is never parsed as HTML here. Media play only from http(s) or data: URLs of their own type.
import { h } from "../format.js";

const IMAGE_URL = /^(data:image\/|https?:\/\/)/i;
const isImage = (v) => typeof v === "string"
  && (/^data:image\//.test(v) || /^https?:\/\/\S+\.(png|jpe?g|gif|webp|svg)(\?\S*)?$/i.test(v));
const mediaUrl = (value, type) => typeof value === "string"
  && (new RegExp(`^data:${type}/`, "i").test(value) || /^https?:\/\//i.test(value));
const ROLES = new Set(["user", "assistant", "system", "tool"]);

const text = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const unusable = (what) => h("p", { class: "muted" }, `(${what})`);

function chat(value) {
  if (!Array.isArray(value)) return h("div", { class: "field-text" }, text(value));
  return h("ol", { class: "chat", "aria-label": "Conversation" }, value.map((turn) => {
    const role = typeof turn?.role === "string" ? turn.role : "?";
    return h("li", { class: `turn ${ROLES.has(role) ? role : "other"}` },
      h("div", { class: "role" }, role), h("div", { class: "content" }, text(turn?.content ?? turn)));
  }));
}

function media(tag, value, type) {
  if (!mediaUrl(value, type)) return unusable(`not a playable ${type} address`);
  return h(tag, { controls: true, preload: "metadata", src: value }, `Your browser cannot play this ${type}.`);
}

const VIEWS = {
  text: (value) => h("div", { class: "field-text" }, text(value)),
  markdown: (value, html) => rich(html),
  html: (value, html) => rich(html),
  image: (value, _html, name) => (typeof value === "string" && IMAGE_URL.test(value)
    ? h("img", { src: value, alt: name }) : unusable("not an image address")),
  images: (value, _html, name) => h("div", { class: "images" }, (Array.isArray(value) ? value : [value]).map((src, i) =>
    (typeof src === "string" && IMAGE_URL.test(src) ? h("img", { src, alt: `${name} ${i + 1}` }) : unusable("not an image address")))),
  audio: (value) => media("audio", value, "audio"),
  video: (value) => media("video", value, "video"),
  chat,
};

function rich(html) {
  const el = h("div", { class: "rich" });
  el.innerHTML = html ?? ""; // sanitised on the server (nh3), see backend/questions/display.py
  return el;
}

// One data field shown `as` declared (text when undeclared).
export function fieldView(name, as, task) {
  const value = task.data?.[name];
  if (value === undefined) return unusable(`no ${name} in this task`);
  return (VIEWS[as] || VIEWS.text)(value, task.rendered?.[name], name);
}

// Every field no question shows itself: declared ones in their order, then the rest as they are.
export function displaySection(display, task, consumed) {
  const declared = (display || []).filter((e) => !consumed.has(e.field) && e.field in (task.data || {}));
  const names = new Set((display || []).map((e) => e.field));
  const rest = Object.entries(task.data || {}).filter(([k]) => !consumed.has(k) && !names.has(k));
  if (!declared.length && rest.length === 1 && typeof rest[0][1] === "string" && !isImage(rest[0][1])) {
    return h("div", { class: "task-data", id: "task-data" }, rest[0][1]);
  }
  if (!declared.length && !rest.length) return null;
  return h("div", { class: "task-data", id: "task-data" },
    declared.map((e) => h("section", { class: `shown shown-${e.as}`, dataset: { field: e.field } },
      h("div", { class: "field-name" }, e.field), fieldView(e.field, e.as, task))),
    rest.map(([key, value]) => h("div", {}, h("strong", {}, `${key}: `),
      isImage(value) ? h("img", { src: value, alt: key, style: "max-width:100%" }) : text(value))));
}
