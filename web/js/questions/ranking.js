// ranking: order the task's items, best first. ↑/↓ move the focused item, Home/End send it to the top or
// bottom, Shift+↑/↓ focus the item above or below; items can be dragged too. The order shown first is an
// answer only once confirmed (C, or the button), so an untouched list is never sent by accident.
import { h } from "../format.js";

const itemId = (item, i) => (typeof item === "string" ? String(i) : String(item?.id));
const itemText = (item) => (typeof item === "string" ? item : typeof item?.text === "string" ? item.text : JSON.stringify(item));

export function create(question, task, { idp = "" } = {}) {
  const raw = Array.isArray(task.data?.[question.items]) ? task.data[question.items] : [];
  const items = raw.map((item, i) => ({ id: itemId(item, i), text: itemText(item) }));
  let order = items.map((it) => it.id);
  let settled = false;
  let dragged = null;
  const status = h("p", { class: "muted", id: `${idp}ranking-status`, "aria-live": "polite" });
  const confirm = h("button", { type: "button", class: "keep-order", "aria-pressed": "false", onclick: () => settle("Order kept.") },
    h("kbd", { "aria-hidden": "true" }, "C"), " This order is right");
  const list = h("ol", { class: "ranking", id: `${idp}ranking`, "aria-label": "Items, best first",
    "aria-describedby": `${idp}ranking-status` });
  const rows = new Map(items.map((it) => [it.id, h("li", {
    tabindex: "-1", draggable: "true", dataset: { item: it.id },
    ondragstart: (e) => { dragged = it.id; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", it.id); },
    ondragover: (e) => { e.preventDefault(); },
    ondrop: (e) => {
      e.preventDefault();
      const from = dragged ?? e.dataTransfer.getData("text/plain");
      dragged = null;
      if (from && from !== it.id) moveTo(from, order.indexOf(it.id));
    },
    onfocus: () => { for (const r of rows.values()) r.tabIndex = r.dataset.item === it.id ? 0 : -1; },
  }, h("span", { class: "rank" }), h("span", { class: "item-text" }, it.text),
  h("span", { class: "moves" },
    h("button", { type: "button", tabindex: "-1", "aria-label": "Move up", onclick: () => moveBy(it.id, -1) }, "▲"),
    h("button", { type: "button", tabindex: "-1", "aria-label": "Move down", onclick: () => moveBy(it.id, 1) }, "▼")))]));

  function render(focusId) {
    list.replaceChildren(...order.map((id, i) => {
      const row = rows.get(id);
      row.querySelector(".rank").textContent = String(i + 1);
      return row;
    }));
    if (!list.querySelector("li[tabindex='0']") && order.length) rows.get(order[0]).tabIndex = 0;
    if (focusId) rows.get(focusId).focus();
  }
  function settle(message) {
    settled = true;
    confirm.setAttribute("aria-pressed", "true");
    status.textContent = message;
  }
  function moveTo(id, to) {
    const from = order.indexOf(id);
    to = Math.max(0, Math.min(order.length - 1, to));
    if (from < 0 || from === to) return;
    order.splice(from, 1);
    order.splice(to, 0, id);
    render(id);
    settle(`${items.find((it) => it.id === id).text.slice(0, 40)} moved to place ${to + 1} of ${order.length}.`);
  }
  const moveBy = (id, delta) => moveTo(id, order.indexOf(id) + delta);
  render();

  return {
    el: h("div", { class: "ranking-question" }, list, h("div", { class: "row" }, confirm, status)),
    answer: () => (settled ? { order: [...order] } : null),
    missing: "Rank the items: move the focused one with ↑ ↓ or drag it, or press C if the order shown is right.",
    onKey(event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return false;
      if (event.key === "c" || event.key === "C") { settle("Order kept."); return true; }
      const row = document.activeElement?.closest?.("li[data-item]");
      const id = row && list.contains(row) ? row.dataset.item : null;
      if (!id) {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") { rows.get(order[0])?.focus(); return true; }
        return false;
      }
      const at = order.indexOf(id);
      if (event.shiftKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        rows.get(order[Math.max(0, Math.min(order.length - 1, at + (event.key === "ArrowUp" ? -1 : 1)))]).focus();
      } else if (event.key === "ArrowUp") moveTo(id, at - 1);
      else if (event.key === "ArrowDown") moveTo(id, at + 1);
      else if (event.key === "Home") moveTo(id, 0);
      else if (event.key === "End") moveTo(id, order.length - 1);
      else return false;
      return true;
    },
    focus: () => (list.querySelector("li[tabindex='0']") || list).focus(),
  };
}

export const consumes = (question) => [question.items];
export const help = () => [[h("kbd", {}, "↑"), " ", h("kbd", {}, "↓"), " move the focused item, ", h("kbd", {}, "Shift"), "+arrows focus another, ",
  h("kbd", {}, "C"), " keep the order shown"]];
