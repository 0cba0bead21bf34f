// A task's form: the declared display of its data, then its questions in order. Questions hidden by `when`
// are neither shown nor sent. Tab moves to the next question, keys go to the question that has the focus
// (else the first one unanswered), and answering by key moves on to the next question.
// A project of one `task_type` is a form of one question whose answer is sent bare, as the API takes it.
import { h } from "../format.js";
import { displaySection } from "./display.js";
import { kindOf } from "./registry.js";

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Whether another question's answer satisfies `when.equals` (as backend/questions does it).
function matches(part, value) {
  if (part === null || part === undefined) return false;
  if (same(part, value)) return true;
  const values = Object.values(part);
  if (values.length !== 1) return false;
  return same(values[0], value) || (Array.isArray(values[0]) && values[0].some((v) => same(v, value)));
}

export function createForm(project, task) {
  const legacy = project.task_type !== "form";
  const shownAs = new Map((project.display || []).map((e) => [e.field, e.as]));
  const questions = project.questions || [];
  const consumed = new Set(questions.flatMap((q) => kindOf(q).consumes(q)));
  const parts = questions.map((q, i) => {
    const kind = kindOf(q);
    const idp = legacy ? "" : `q${i + 1}-`;
    const widget = kind.create(q, task, { idp, shownAs: (field) => shownAs.get(field) || "text" });
    const section = legacy ? h("div", { class: "question", dataset: { question: q.name } }, widget.el)
      : h("section", { class: "question", id: `question-${q.name}`, dataset: { question: q.name, kind: q.kind },
        "aria-labelledby": `${idp}title` },
      h("h2", { id: `${idp}title`, class: "question-title" }, h("span", { class: "question-number" }, String(i + 1)), q.title || q.name,
        q.required === false ? h("span", { class: "badge" }, "optional") : null),
      widget.el);
    return { q, kind, widget, section };
  });
  const byName = new Map(parts.map((p) => [p.q.name, p]));
  const el = h("div", { class: legacy ? "task-form legacy" : "task-form" },
    displaySection(project.display, task, consumed), parts.map((p) => p.section));

  // Which questions are shown, given the answers so far (a `when` names an earlier question).
  function shownParts() {
    const given = {};
    const shown = [];
    for (const p of parts) {
      const when = p.q.when;
      const visible = !when || (byName.has(when.question) && matches(given[when.question], when.equals));
      p.section.hidden = !visible;
      if (!visible) continue;
      shown.push(p);
      try { given[p.q.name] = p.widget.answer(); } catch { given[p.q.name] = null; }
    }
    return shown;
  }
  const refresh = () => { shownParts(); };
  for (const type of ["click", "input", "change", "keyup", "drop"]) el.addEventListener(type, refresh);
  refresh();

  const current = () => parts.find((p) => !p.section.hidden && p.section.contains(document.activeElement));
  const firstOpen = (shown) => shown.find((p) => { try { return p.widget.answer() === null; } catch { return true; } });

  function focusPart(p) {
    p.widget.focus();
    if (!legacy) p.section.scrollIntoView({ block: "nearest" });
  }

  return {
    el,
    legacy,
    ready: Promise.all(parts.map((p) => p.widget.ready || Promise.resolve())),
    textEntry: parts.some((p) => p.widget.textEntry),
    // The answer the API takes, or an Error saying which question still needs one (and focusing it).
    answer() {
      const out = {};
      for (const p of shownParts()) {
        let part;
        try { part = p.widget.answer(); } catch (error) {
          focusPart(p);
          throw legacy ? error : new Error(`${p.q.title || p.q.name}: ${error.message}`);
        }
        if (part === null && p.q.required !== false) {
          focusPart(p);
          throw new Error(legacy ? p.widget.missing : `${p.q.title || p.q.name}: ${p.widget.missing}`);
        }
        if (part !== null) out[p.q.name] = part;
      }
      return legacy ? out[parts[0].q.name] : out;
    },
    // Tab and Shift+Tab go from question to question; past the last one the browser's order goes on.
    onTab(event) {
      if (legacy || event.ctrlKey || event.altKey || event.metaKey) return false;
      const shown = shownParts();
      const at = shown.indexOf(current());
      const next = at < 0 ? (event.shiftKey ? null : shown[0]) : shown[at + (event.shiftKey ? -1 : 1)];
      if (!next) return false;
      focusPart(next);
      return true;
    },
    onKey(event) {
      const shown = shownParts();
      const target = current() || firstOpen(shown) || shown[0];
      if (!target) return false;
      const handled = target.widget.onKey(event);
      if (handled === "next" && !legacy) {
        const after = shownParts();
        const next = after[after.indexOf(target) + 1];
        if (next) focusPart(next);
      }
      refresh();
      return Boolean(handled);
    },
    focus() {
      const shown = shownParts();
      const p = firstOpen(shown) || shown[0];
      if (p) p.widget.focus();
    },
    help: [...new Map(parts.map((p) => [p.q.kind, p])).values()].flatMap((p) => p.kind.help(p.q)),
  };
}
