import { ApiError, post } from "./api.js";
import { afterLogin } from "./app.js";
import { fill, h, notice } from "./format.js";
import { showFieldErrors } from "./forms.js";

export function loginPage(view) {
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card login", novalidate: true },
    h("h1", {}, "Log in to Concord"),
    h("div", { class: "field", dataset: { field: "email" } },
      h("label", { for: "login-email" }, "Email"),
      h("input", { id: "login-email", name: "email", type: "email", autocomplete: "username", required: true })),
    h("div", { class: "field", dataset: { field: "password" } },
      h("label", { for: "login-password" }, "Password"),
      h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password",
        required: true })),
    status,
    h("button", { class: "primary", type: "submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(status, );
    const body = { email: form.email.value.trim(), password: form.password.value };
    try {
      afterLogin(await post("/auth/login", body));
    } catch (error) {
      if (error instanceof ApiError && Object.keys(error.fields).length) showFieldErrors(form, error, status);
      else fill(status, notice("error", error.status === 429
        ? "Too many attempts. Wait a minute and try again." : error.message));
    }
  });
  fill(view, form);
  form.email.focus();
}
