// The organization's integrations: API keys (personal tokens and vendors' organization keys) and webhooks.
import { all, get, patch, request } from "./api.js";
import { ask, onSubmit } from "./forms.js";
import { fill, h, notice, table } from "./format.js";

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

// The API's own lists of scopes and events, from its OpenAPI document: the page never disagrees with the server.
async function choices() {
  const schemas = (await get("/openapi.json")).components.schemas;
  return { scopes: schemas.TokenCreate.properties.scopes.items.enum, events: schemas.WebhookCreate.properties.events.items.enum };
}

// A secret the API shows once, with a button that copies it.
function secretNotice(what, secret) {
  const code = h("code", { class: "secret", tabindex: "0" }, secret);
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = "Copied";
    } catch {
      getSelection().selectAllChildren(code);  // no clipboard (plain HTTP): select it for Ctrl+C
    }
  });
  return h("div", { class: "notice ok", role: "status" },
    h("p", {}, `${what} Copy it now: it is not shown again.`), h("p", { class: "secret-line" }, code, " ", copy));
}

// A click handler that runs an API action, shows its failure in ``status`` and then redraws.
const act = (status, refresh, work) => async () => {
  try {
    await work();
    await refresh();
  } catch (error) {
    status.append(notice("error", error.message));
  }
};

function checkboxes(legend, name, values, checked = []) {
  return h("fieldset", { class: "field", dataset: { field: name } }, h("legend", {}, legend),
    values.map((v) => h("label", { class: "check" }, h("input", { type: "checkbox", name, value: v, checked: checked.includes(v) }), v)));
}

const ticked = (form, name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);

// A form posted with one Idempotency-Key until it changes, so a double click creates one key or webhook.
// ``send`` returns what to show (a secret, shown before anything else can fail); the list is then read again.
function createForm(id, title, fields, button, send, refresh) {
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { class: "primary", type: "submit" }, button);
  const form = h("form", { class: "card", id, novalidate: true }, h("h2", {}, title), h("div", { class: "form-grid" }, fields),
    status, submit);
  onSubmit(form, status, async (key) => {
    submit.disabled = true;
    try {
      fill(status, await send(form, key));
      await refresh().catch((error) => status.append(notice("error", error.message)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function tokenState(t) {
  if (t.revoked_at) return "revoked";
  if (t.expires_at && new Date(t.expires_at) <= new Date()) return "expired";
  if (t.previous_valid_until && new Date(t.previous_valid_until) > new Date()) return `active (old secret until ${when(t.previous_valid_until)})`;
  return "active";
}

async function tokensSection(scopes) {
  const list = h("div", { id: "tokens" });
  const status = h("div", { id: "token-status", "aria-live": "polite" });
  const refresh = async () => {
    const tokens = await all("/tokens", 500);
    fill(list, tokens.length ? h("div", { class: "table-wrap" }, table(["Name", "Kind", "Starts with", "Scopes", "Created", "Last used", "Expires", "State", ""],
      tokens.map((t) => [t.name, t.kind, h("code", {}, t.prefix), t.scopes.join(", ") || "—", when(t.created_at), when(t.last_used_at),
        when(t.expires_at), tokenState(t), t.revoked_at ? "" : tokenActions(t)]), "API keys")) : notice("info", "No API key yet."));
  };
  const tokenActions = (t) => h("div", { class: "actions" },
    h("button", { type: "button", onclick: act(status, refresh, async () => {
      const grace = await ask(`Rotate “${t.name}”`, "A new secret replaces this one. How long may the old one keep working?",
        [["0", "Stop it now"], ["3600", "One hour"], ["86400", "One day"], ["604800", "One week"]]);
      if (grace === null) return;
      const { body } = await request("POST", `/tokens/${t.id}/rotate`, { grace_seconds: Number(grace) });
      fill(status, secretNotice(`New secret of “${t.name}”:`, body.secret));
    }) }, "Rotate"),
    h("button", { type: "button", class: "danger", onclick: act(status, refresh, async () => {
      if (await ask(`Revoke “${t.name}”`, "Every request made with it is refused from now on.", [["revoke", "Revoke"]]) === null) return;
      await request("DELETE", `/tokens/${t.id}`);
      fill(status, notice("ok", `“${t.name}” is revoked.`));
    }) }, "Revoke"));
  const form = createForm("token-form", "New API key", [
    h("div", { class: "field", dataset: { field: "name" } }, h("label", { for: "t-name" }, "Name"), h("input", { id: "t-name", name: "name", required: true, maxlength: "200" })),
    h("fieldset", { class: "field" }, h("legend", {}, "For"),
      h("label", { class: "check" }, h("input", { type: "radio", name: "kind", value: "organization", checked: true }), "a vendor or service (organization key)"),
      h("label", { class: "check" }, h("input", { type: "radio", name: "kind", value: "personal" }), "me (personal token)")),
    checkboxes("Scopes", "scopes", scopes, ["projects:read", "results:read"]),
    h("div", { class: "field", dataset: { field: "expires_at" } }, h("label", { for: "t-expires" }, "Expires on (optional)"), h("input", { id: "t-expires", name: "expires", type: "date" })),
  ], "Create key", async (f, key) => {
    const expires = f.expires.value ? new Date(`${f.expires.value}T23:59:59`).toISOString() : null;
    const { body } = await request("POST", "/tokens", { name: f.name.value, organization: f.kind.value === "organization",
      scopes: ticked(f, "scopes"), expires_at: expires }, { "Idempotency-Key": key });
    // A repeated click is answered with the key already made, whose secret the server no longer holds.
    return body.secret ? secretNotice(`Secret of “${body.name}”:`, body.secret)
      : notice("info", `“${body.name}” was created by the first click and its secret shown then; rotate it for a new one.`);
  }, () => refresh());
  await refresh();
  return h("section", { id: "api-keys" }, h("h2", {}, "API keys"),
    h("p", { class: "muted" }, "Send a key as Authorization: Bearer <secret>. Organization keys belong to the organization; with tasks:work a vendor routes its own workers' answers."),
    form, status, list);
}

function deliveriesRow(hook, colspan, status) {
  const cell = h("td", { colspan: String(colspan) });
  const load = async () => {
    let page;
    try {
      page = await get(`/webhooks/${hook.id}/deliveries?limit=20`);
    } catch (error) {
      return fill(cell, notice("error", error.message));
    }
    fill(cell, page.items.length ? table(["Event", "State", "Attempts", "Last answer", "Created", "Delivered", ""],
      page.items.map((d) => [d.event, d.status, String(d.attempts), d.last_status_code ? String(d.last_status_code) : d.last_error || "—",
        when(d.created_at), when(d.delivered_at), h("button", { type: "button",
          onclick: act(status, load, () => request("POST", `/webhooks/${hook.id}/deliveries/${d.id}/redeliver`)) },
        "Redeliver")]), `Last deliveries to ${hook.url}`) : notice("info", "Nothing sent yet."));
  };
  return [h("tr", { class: "deliveries", dataset: { webhook: String(hook.id) } }, cell), load];
}

async function webhooksSection(events) {
  const list = h("div", { id: "webhooks" });
  const status = h("div", { id: "webhook-status", "aria-live": "polite" });
  const headers = ["Address", "Events", "Description", "State", "Created", ""];
  const refresh = async () => {
    const hooks = await all("/webhooks", 500);
    fill(list, hooks.length ? h("div", { class: "table-wrap" }, table(headers, hooks.map(webhookRow), "Webhooks"))
      : notice("info", "No webhook yet."));
  };
  const webhookRow = (hook) => {
    const [detail, load] = deliveriesRow(hook, headers.length, status);
    const toggle = h("button", { type: "button", "aria-expanded": "false", onclick: async () => {
      const open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      if (open) return detail.remove();
      row.after(detail);
      await load();
    } }, "Deliveries");
    const row = h("tr", { dataset: { webhook: String(hook.id) } }, [hook.url, hook.events.join(", "), hook.description || "",
      hook.active ? "active" : "paused", when(hook.created_at), h("div", { class: "actions" }, toggle,
        h("button", { type: "button", onclick: act(status, refresh, () => patch(`/webhooks/${hook.id}`, { active: !hook.active })) },
          hook.active ? "Pause" : "Resume"),
        h("button", { type: "button", class: "danger", onclick: act(status, refresh, async () => {
          if (await ask("Delete this webhook", `Nothing more is sent to ${hook.url}.`, [["delete", "Delete"]]) === null) return;
          await request("DELETE", `/webhooks/${hook.id}`);
          fill(status, notice("ok", "The webhook is deleted."));
        }) }, "Delete"))].map((c) => h("td", {}, c)));
    return row;
  };
  const form = createForm("webhook-form", "New webhook", [
    h("div", { class: "field", dataset: { field: "url" } }, h("label", { for: "w-url" }, "Address (https://…)"), h("input", { id: "w-url", name: "url", type: "url", required: true })),
    checkboxes("Events", "events", events),
    h("div", { class: "field", dataset: { field: "description" } }, h("label", { for: "w-description" }, "Description"), h("input", { id: "w-description", name: "description", maxlength: "500" })),
  ], "Create webhook", async (f, key) => {
    const { body } = await request("POST", "/webhooks", { url: f.url.value, events: ticked(f, "events"),
      description: f.description.value || null }, { "Idempotency-Key": key });
    return secretNotice("Signing secret (Concord-Signature: t=…,v1=HMAC-SHA256 of \"t.body\"):", body.secret);
  }, () => refresh());
  await refresh();
  return h("section", { id: "webhooks-section" }, h("h2", {}, "Webhooks"), form, status, list);
}

export async function integrationsPage(view) {
  const { scopes, events } = await choices();
  fill(view, h("h1", {}, "Integrations"), await tokensSection(scopes), await webhooksSection(events),
    h("p", {}, h("a", { href: "/api/docs" }, "API reference"), " · ", h("a", { href: "/api/v1/openapi.json" }, "OpenAPI document")));
}
