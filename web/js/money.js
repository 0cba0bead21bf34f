// Money and files: a project's costs, exports, and the organization's payouts.
import { all, get, idempotencyKey, post, request, waitForJob } from "./api.js";
import { onLeave } from "./app.js";
import { onSubmit } from "./forms.js";
import { duration, fill, h, money, notice, pct, progressBar, table, toMinor } from "./format.js";

export async function costTab(body, project) {
  const c = await get(`/projects/${project.id}/cost`);
  const m = (v) => money(v, c.currency);
  const used = c.budget ? c.committed / c.budget : null;
  fill(body, h("div", { class: "stats", id: "cost" },
    ...[["Spent", m(c.spent)], ["Approved", m(c.approved)], ["Bonuses", m(c.bonuses)], ["Pending review", m(c.pending)],
      ["In flight", m(c.in_flight)], ["Committed", m(c.committed)], ["Budget", c.budget == null ? "none" : m(c.budget)],
      ["Remaining budget", c.remaining_budget == null ? "—" : m(c.remaining_budget)], ["Forecast to finish", m(c.forecast_total)],
      ["Rejection rate", pct(c.rejection_rate)], ["Answers remaining", String(c.answers_remaining)],
      ["Control answers to come", String(c.control_answers_expected)],
      ["Time to finish", c.eta_seconds == null ? "—" : duration(c.eta_seconds)]]
      .map(([label, value]) => h("div", {}, h("div", { class: "muted" }, label), h("div", { class: "stat" }, value)))),
  used !== null ? h("p", {}, "Budget committed: ", progressBar(used, "Budget committed")) : null,
  h("p", {}, h("a", { href: "#/manage/payouts" }, "Payouts of the organization →")),
  await fairPaySection(project));
}

// Top-ups that bring approved work up to the project's minimum hourly rate: computed by a job, paid on confirmation.
async function fairPaySection(project) {
  const section = h("section", { id: "fair-pay" }, h("h2", {}, "Fair pay"));
  const currency = project.reward?.currency;
  if (project.min_hourly_rate == null) {
    section.append(notice("info", "No minimum hourly rate is set: edit the project's settings to top up slowly paid work."));
    return section;
  }
  const status = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "fair-pay-proposals" });
  const compute = h("button", { type: "button" }, "Compute top-ups");
  const confirm = h("button", { class: "primary", type: "button" }, "Pay proposed top-ups");
  const refresh = async () => {
    const proposals = await all(`/projects/${project.id}/fair-pay?status=proposed`, 500);
    confirm.disabled = !proposals.length;
    fill(list, proposals.length
      ? h("div", { class: "table-wrap" }, table(["Worker", "Time on task", "Earned", "Top-up"], proposals.map((t) =>
        [String(t.worker_id), duration(t.seconds), money(t.earned, t.currency), money(t.amount, t.currency)]), "Proposed top-ups"))
      : notice("info", "No top-up proposed."));
  };
  const act = (button, work) => button.addEventListener("click", async () => {
    compute.disabled = confirm.disabled = true;
    try {
      fill(status, notice("ok", await work()));
    } catch (error) {
      fill(status, notice("error", error.message));
    }
    compute.disabled = false;
    await refresh();
  });
  act(compute, async () => {
    const { job } = await post(`/projects/${project.id}/fair-pay`);
    const done = await waitForJob(job.id);
    if (done.status === "failed") throw new Error(done.error?.message || "The computation failed.");
    return "Top-ups computed.";
  });
  act(confirm, async () => {
    const { body } = await request("POST", `/projects/${project.id}/fair-pay/confirm`, {}, { "Idempotency-Key": idempotencyKey() });
    return `${body.applied} top-up(s) paid as bonuses.`;
  });
  section.append(h("p", {}, `Approved work earns at least ${money(project.min_hourly_rate, currency)} per hour on task.`),
    h("div", { class: "actions" }, compute, confirm), status, list);
  await refresh();
  return section;
}

// One export in the list: its state, and once ready its download link; a running one is followed until it ends.
function exportItem(exp, isStopped, status) {
  const li = h("li", { dataset: { export: String(exp.id) } });
  const show = (state) => {
    const title = `${state.format} export #${state.id}`;
    if (state.status === "ready") {
      fill(li, h("span", {}, `${title}: ${state.tasks ?? "?"} tasks, ${state.size_bytes ?? "?"} bytes, until ${new Date(state.expires_at).toLocaleString()}`),
        h("a", { class: "button primary", href: `/api/v1/exports/${state.id}/download`, download: "" }, `Download ${state.format}`));
    } else if (state.status === "queued" || state.status === "running") {
      fill(li, h("span", {}, `${title}: ${state.status}`), progressBar(state.progress ?? 0, "Export progress"));
    } else {
      fill(li, h("span", {}, `${title}: ${state.status}${state.error?.message ? ` (${state.error.message})` : ""}`));
    }
  };
  const follow = async () => {
    let state = exp;
    while (!isStopped() && (state.status === "queued" || state.status === "running")) {
      await new Promise((r) => setTimeout(r, 400));
      state = await get(`/exports/${exp.id}`);
      show(state);
    }
    if (state.status === "ready" && state !== exp) fill(status, notice("ok", "The export is ready."));
  };
  show(exp);
  follow().catch((error) => fill(status, notice("error", error.message)));
  return li;
}

export async function exportsTab(body, project) {
  const FORMATS = { bounding_boxes: ["coco"], text_spans: ["conll", "spacy"] };
  const formats = ["jsonl", "csv", ...(FORMATS[project.task_type] || []), "label_studio", "parquet"];
  const status = h("div", { id: "export-status", "aria-live": "polite" });
  let stopped = false;
  onLeave(() => { stopped = true; });
  const isStopped = () => stopped;
  const earlier = (await get(`/projects/${project.id}/exports?limit=20`)).items;
  const list = h("ul", { class: "plain", id: "exports" }, earlier.map((exp) => exportItem(exp, isStopped, status)));
  const empty = earlier.length ? null : notice("info", "No export yet.");
  const form = h("form", { class: "card", id: "export-form" },
    h("div", { class: "form-grid" },
      h("div", { class: "field", dataset: { field: "format" } }, h("label", { for: "f-format" }, "Format"),
        h("select", { id: "f-format", name: "format" }, formats.map((f) => h("option", { value: f }, f)))),
      h("fieldset", {}, h("legend", {}, "Include"), ["answers", "consensus", "agreement"].map((k) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "include", value: k, checked: true }), k)))),
    status, h("button", { class: "primary", type: "submit" }, "Export"));
  onSubmit(form, status, async () => {
    const include = [...form.querySelectorAll("input[name=include]:checked")].map((i) => i.value);
    const { export: exp } = await post(`/projects/${project.id}/exports`, { format: form.format.value, include });
    empty?.remove();
    list.prepend(exportItem(exp, isStopped, status));
  });
  fill(body, form, h("h2", {}, "This project's exports"), empty, list);
}

export async function payoutsPage(view) {
  const payouts = await all("/payouts", 200);
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "payout-form", novalidate: true },
    h("div", { class: "form-grid" },
      h("div", { class: "field", dataset: { field: "currency" } }, h("label", { for: "p-currency" }, "Currency"),
        h("input", { id: "p-currency", name: "currency", value: "USD", maxlength: "3" })),
      h("div", { class: "field", dataset: { field: "minimum" } }, h("label", { for: "p-minimum" }, "Minimum balance to pay"),
        h("input", { id: "p-minimum", name: "minimum", type: "number", step: "any", value: "0" })),
      h("div", { class: "field", dataset: { field: "note" } }, h("label", { for: "p-note" }, "Note"), h("input", { id: "p-note", name: "note" }))),
    status, h("button", { class: "primary", type: "submit" }, "Create payout"));
  onSubmit(form, status, async () => {
    const currency = form.currency.value.trim().toUpperCase();
    await post("/payouts", { currency, minimum: toMinor(form.minimum.value || 0, currency), note: form.note.value || null });
    await payoutsPage(view);
  });
  fill(view, h("h1", {}, "Payouts"), form,
    payouts.length ? h("div", { class: "table-wrap" }, table(["#", "Created", "Status", "Workers", "Total", "Note", "File"],
      payouts.map((p) => [String(p.id), new Date(p.created_at).toLocaleString(), p.status, String(p.worker_count), money(p.total_amount, p.currency),
        p.note || "", h("span", {}, h("a", { href: `/api/v1/payouts/${p.id}/file?format=csv` }, "CSV"), " · ",
          h("a", { href: `/api/v1/payouts/${p.id}/file?format=json` }, "JSON"))]), "Payouts of your organization"))
      : notice("info", "No payout yet."));
}
