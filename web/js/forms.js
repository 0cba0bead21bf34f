// Put the API's validation messages (error.details.fields) next to the fields they name.
import { ApiError, idempotencyKey } from "./api.js";
import { fill, h, notice } from "./format.js";

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll(".field.invalid")) {
    el.classList.remove("invalid");
    el.querySelector("input,select,textarea")?.removeAttribute("aria-invalid");
  }
}

// A field <div class="field" data-field="reward.amount"> takes the messages of that path or of any path
// below it (labels.0 -> labels); the rest go to the form's status area.
export function showFieldErrors(form, error, status) {
  clearFieldErrors(form);
  const fields = error.fields;
  const unplaced = [];
  let first = null;
  for (const [path, messages] of Object.entries(fields)) {
    let target = null;
    const parts = path.split(".");
    for (let n = parts.length; n > 0 && !target; n--) {
      const key = parts.slice(0, n).join(".").replace(/\[\d+\]$/, "");
      target = form.querySelector(`.field[data-field="${CSS.escape(key)}"]`);
    }
    if (!target) { unplaced.push(`${path}: ${messages.join(" ")}`); continue; }
    const control = target.querySelector("input,select,textarea");
    const id = `${control?.id || path}-error`;
    target.classList.add("invalid");
    target.append(h("span", { class: "field-error", id }, messages.join(" ")));
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", id);
      first ??= control;
    }
  }
  fill(status, notice("error", unplaced.length ? `${error.message} ${unplaced.join("; ")}`
    : "Please correct the highlighted fields."));
  first?.focus();
}

// Run ``send(key)`` when the form is submitted, with the API's messages put next to the fields. ``key`` is one
// Idempotency-Key per content of the form: it changes when the form does, so submitting the same again is a retry.
export function onSubmit(form, status, send) {
  let key = idempotencyKey();
  form.addEventListener("input", () => { key = idempotencyKey(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    try {
      await send(key);
    } catch (error) {
      if (error instanceof ApiError) showFieldErrors(form, error, status);
      else fill(status, notice("error", error.message));
    }
  });
}

// A modal choice among buttons; resolves to the chosen value, or null when cancelled. Cancel has the focus,
// so that a stray Enter never revokes, deletes or pays.
export function ask(title, text, options) {
  return new Promise((resolve) => {
    const cancel = h("button", { value: "" }, "Cancel");
    const dialog = h("dialog", { "aria-labelledby": "ask-title", "aria-describedby": "ask-text" },
      h("form", { method: "dialog" }, h("h2", { id: "ask-title", style: "margin-top:0" }, title), h("p", { id: "ask-text" }, text),
        h("div", { class: "actions" }, options.map(([value, label], i) => h("button", { value, class: i ? null : "primary" }, label)),
          cancel)));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue || null);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
