// Project tabs about quality: agreement charts, workers, the review queue and flagged tasks.
import { all, get, post, request } from "./api.js";
import { announce, onLeave } from "./app.js";
import { barChart, heatTable, lineChart } from "./charts.js";
import { ask, onSubmit } from "./forms.js";
import { fill, h, money, notice, num, pct, table, toMinor } from "./format.js";

const alphaOf = (x) => x?.alpha?.value ?? x?.mean_task_agreement ?? null;

export async function agreementTab(body, project) {
  const [report, workers] = await Promise.all([get(`/projects/${project.id}/agreement`),
    get(`/projects/${project.id}/workers/agreement`)]);
  const p = report.project || {};
  const refresh = h("button", { type: "button", onclick: async () => {
    await post(`/projects/${project.id}/agreement/refresh`);
    announce("Refresh started.");
    setTimeout(() => agreementTab(body, project), 1500);
  } }, "Recompute now");
  const head = h("div", { class: "spread" },
    h("p", {}, `Report ${report.status}`, report.computed_at ? ` · computed ${new Date(report.computed_at).toLocaleString()}` : "",
      report.answers_counted != null ? ` · ${report.answers_counted} answers` : ""), refresh);
  if (!report.project) {
    fill(body, head, notice("info", report.status === "pending"
      ? "The first agreement report is being computed; come back in a moment." : "No answers to measure yet."));
    return;
  }
  const level = p.alpha?.level ? ` (${p.alpha.level})` : "";
  const batches = report.batches.map((b) => ({ label: `#${b.batch_id}`, value: alphaOf(b) }));
  const labels = (report.labels || []).map((l) => ({ label: l.label, value: l.alpha ?? null }));
  const daily = (report.daily || []).map((d) => ({ label: d.date, value: alphaOf(d) }));
  const kappa = workers.pairwise_kappa || { workers: [], matrix: [] };
  fill(body, head,
    h("div", { class: "stats" },
      h("div", {}, h("div", { class: "muted" }, `Krippendorff's α${level}`), h("div", { class: "stat", id: "alpha" }, num(p.alpha?.value, 3)),
        p.alpha?.ci95?.[0] != null ? h("div", { class: "muted" }, `95% CI ${num(p.alpha.ci95[0], 2)} – ${num(p.alpha.ci95[1], 2)}`) : null),
      p.fleiss_kappa ? h("div", {}, h("div", { class: "muted" }, "Fleiss' κ"), h("div", { class: "stat" }, num(p.fleiss_kappa.value, 3)),
        p.fleiss_kappa.reason ? h("div", { class: "muted" }, p.fleiss_kappa.reason) : null) : null,
      p.percent_agreement != null ? h("div", {}, h("div", { class: "muted" }, "Percent agreement"), h("div", { class: "stat" }, pct(p.percent_agreement))) : null,
      p.mean_task_agreement != null ? h("div", {}, h("div", { class: "muted" }, "Mean task agreement"), h("div", { class: "stat" }, num(p.mean_task_agreement, 3))) : null,
      h("div", {}, h("div", { class: "muted" }, "Tasks / answers"), h("div", { class: "stat" }, `${p.tasks ?? "—"} / ${p.answers ?? "—"}`))),
    p.note ? h("p", { class: "muted" }, p.note) : null,
    h("h2", {}, "Per batch"), batches.length ? barChart("Agreement per batch", batches, { lo: Math.min(0, ...batches.map((b) => b.value ?? 0)) }) : notice("info", "No batch has answers yet."),
    labels.length ? [h("h2", {}, "Per label"), barChart("Agreement per label (alpha of label vs. rest)", labels, { lo: Math.min(0, ...labels.map((b) => b.value ?? 0)) })] : null,
    daily.length ? [h("h2", {}, "Over time"), lineChart("Agreement per day", daily, { lo: Math.min(0, ...daily.map((b) => b.value ?? 0)) })] : null,
    h("h2", {}, "Between workers"),
    kappa.workers.length ? h("div", { class: "table-wrap" }, heatTable("Cohen's κ between the most active workers",
      kappa.workers.map((w) => `#${w}`), kappa.matrix)) : notice("info", "Pairwise kappa needs workers who answered the same tasks."),
    workers.workers?.length ? h("div", { class: "table-wrap" }, table(["Worker", "Answers", "Agreement with others", "With consensus", "Gold accuracy"],
      workers.workers.map((w) => [`#${w.worker_id}`, w.answers, num(w.agreement_with_others, 3), pct(w.agreement_with_consensus), pct(w.gold_accuracy)]))) : null);
}

export async function workersTab(body, project) {
  const [workload, standings] = await Promise.all([all(`/projects/${project.id}/workload?by=worker`),
    all(`/projects/${project.id}/workers`)]);
  const standing = new Map(standings.map((s) => [s.worker_id, s]));
  const ids = [...new Set([...workload.map((w) => w.worker_id), ...standings.map((s) => s.worker_id)])];
  const byId = new Map(workload.map((w) => [w.worker_id, w]));
  const status = h("div", { "aria-live": "polite" });
  const rows = ids.map((id) => {
    const w = byId.get(id) || {};
    const s = standing.get(id) || {};
    const suspended = Boolean(s.suspended_at) || w.suspended;
    return h("tr", { dataset: { worker: String(id) } }, h("td", {}, `#${id}`), h("td", {}, String(w.submitted ?? 0)),
      h("td", {}, w.answers_per_hour == null ? "—" : w.answers_per_hour.toFixed(1)),
      h("td", {}, `${w.approved ?? 0} / ${w.rejected ?? 0}`),
      h("td", {}, pct(s.gold_accuracy ?? w.gold_accuracy), s.gold_answers ? h("span", { class: "muted" }, ` (${s.gold_answers})`) : null),
      h("td", {}, pct(w.agreement_with_consensus)),
      h("td", {}, (w.earnings || []).map((m) => money(m.amount, m.currency)).join(", ") || "—"),
      h("td", {}, suspended ? h("span", { class: "badge bad", title: s.suspension_reason || "" }, "suspended") : h("span", { class: "badge ok" }, "active")),
      h("td", {}, suspended ? h("button", { type: "button", onclick: async () => {
        await post(`/projects/${project.id}/workers/${id}/lift-suspension`);
        fill(status, notice("ok", `Worker #${id} may work again.`));
        setTimeout(() => workersTab(body, project), 800);
      } }, `Lift suspension of #${id}`) : h("button", { type: "button", onclick: async () => {
        const reason = await askReason(`Suspend worker #${id}`, "Suspend");
        if (!reason) return;
        await post(`/projects/${project.id}/workers/${id}/suspend`, { reason });
        fill(status, notice("ok", `Worker #${id} is suspended from this project.`));
        setTimeout(() => workersTab(body, project), 800);
      } }, `Suspend #${id}`)));
  });
  fill(body, status, rows.length ? h("div", { class: "table-wrap" }, table(["Worker", "Answers", "Per hour",
    "Approved / rejected", "Gold accuracy", "Agreement with consensus", "Earnings", "State", ""], rows, "Workers on this project"))
    : notice("info", "Nobody has worked on this project yet."),
  h("p", { class: "muted" }, "Workers are also suspended automatically when their gold accuracy falls below the project's minimum."),
  ids.length ? bonusForm(project, ids) : null);
}

// A bonus to one of the project's workers, in the project's currency; one key per form, so a repeated submit pays once.
function bonusForm(project, ids) {
  const currency = project.reward?.currency || "USD";
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "bonus-form", novalidate: true }, h("h2", {}, "Pay a bonus"),
    h("div", { class: "form-grid" },
      h("div", { class: "field", dataset: { field: "worker" } }, h("label", { for: "b-worker" }, "Worker"),
        h("select", { id: "b-worker", name: "worker" }, ids.map((id) => h("option", { value: String(id) }, `#${id}`)))),
      h("div", { class: "field", dataset: { field: "amount" } }, h("label", { for: "b-amount" }, `Amount (${currency})`),
        h("input", { id: "b-amount", name: "amount", type: "number", step: "any", min: "0", required: true })),
      h("div", { class: "field", dataset: { field: "reason" } }, h("label", { for: "b-reason" }, "Reason"),
        h("input", { id: "b-reason", name: "reason", required: true }))),
    status, h("button", { class: "primary", type: "submit" }, "Pay bonus"));
  onSubmit(form, status, async (key) => {  // a changed bonus is a new one: a new key
    const worker = form.worker.value;
    const amount = form.amount.value === "" ? null : toMinor(form.amount.value, currency);
    const { body } = await request("POST", `/workers/${worker}/bonuses`,
      { amount, currency, reason: form.reason.value, project_id: project.id }, { "Idempotency-Key": key });
    fill(status, notice("ok", `Bonus of ${money(body.amount, body.currency)} paid to worker #${worker}.`));
  });
  return form;
}

function answerText(answer) {
  if (!answer) return "—";
  if ("choice" in answer) return answer.choice;
  if ("choices" in answer) return answer.choices.join(", ") || "(none)";
  if ("value" in answer) return String(answer.value);
  if ("text" in answer) return answer.text;
  if ("spans" in answer) return answer.spans.map((s) => `${s.label} ${s.start}–${s.end}`).join("; ") || "(no spans)";
  if ("boxes" in answer) return `${answer.boxes.length} box(es): ${answer.boxes.map((b) => b.label).join(", ")}`;
  return JSON.stringify(answer);
}

function dataText(data) {
  const values = Object.values(data || {});
  return values.length === 1 && typeof values[0] === "string" ? values[0] : JSON.stringify(data);
}

// A reason dialog (rejections, suspensions); resolves to the reason or null when cancelled.
function askReason(title = "Reject this answer", action = "Reject") {
  return new Promise((resolve) => {
    const input = h("input", { id: "reject-reason", required: true, maxlength: "500", style: "width:100%" });
    const dialog = h("dialog", { "aria-labelledby": "reject-title" },
      h("form", { method: "dialog" }, h("h2", { id: "reject-title", style: "margin-top:0" }, title),
        h("div", { class: "field" }, h("label", { for: "reject-reason" }, "Reason (the worker reads it)"), input),
        h("div", { class: "actions" }, h("button", { class: "primary", value: "ok" }, action), h("button", { value: "cancel", formnovalidate: true }, "Cancel"))));
    dialog.addEventListener("close", () => {
      const reason = dialog.returnValue === "ok" ? input.value.trim() : "";
      dialog.remove();
      resolve(reason || null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

// Every pending answer that matches the filters, approved or rejected by the server in one request (one
// Idempotency-Key per form, so a repeated click pays once); the queue is then read again.
function bulkReviewForm(project, batches, items, loadedAt, done) {
  const status = h("div", { "aria-live": "polite" });
  const workers = new Map(items.map((i) => [i.worker_id, i.worker_external_id || `#${i.worker_id}`]));
  const select = (label, name, options) => h("div", { class: "field", dataset: { field: name } },
    h("label", { for: `bulk-${name}` }, label),
    h("select", { id: `bulk-${name}`, name }, options.map(([value, text]) => h("option", { value }, text))));
  const form = h("form", { class: "card", id: "bulk-review", novalidate: true }, h("h2", {}, "Review in bulk"),
    h("div", { class: "form-grid" },
      select("Batch", "batch_id", [["", "every batch"], ...batches.map((b) => [String(b.id), `batch ${b.number}`])]),
      select("Worker", "worker_id", [["", "every worker"], ...[...workers].map(([id, name]) => [String(id), name])]),
      select("Answers to", "gold", [["", "all tasks"], ["false", "regular tasks only"], ["true", "control tasks only"]]),
      select("Decision", "action", [["approve", "Approve"], ["reject", "Reject"]]),
      h("div", { class: "field", dataset: { field: "reason" } }, h("label", { for: "bulk-reason" }, "Reason (for a rejection; the workers read it)"),
        h("input", { id: "bulk-reason", name: "reason", maxlength: "500" }))),
    status, h("button", { class: "primary", type: "submit" }, "Apply to matching pending answers"));
  onSubmit(form, status, async (key) => {
    const option = (name) => form[name].selectedOptions[0].textContent;
    const filters = { batch_id: form.batch_id.value ? Number(form.batch_id.value) : null,
      worker_id: form.worker_id.value ? Number(form.worker_id.value) : null,
      gold: form.gold.value === "" ? null : form.gold.value === "true", submitted_before: loadedAt.toISOString() };
    const verb = form.action.value === "approve" ? "Approve" : "Reject";
    const scope = `${option("batch_id")}, ${option("worker_id")}, ${option("gold")}`;
    const until = loadedAt.toLocaleString();
    if (await ask(`${verb} in bulk`, `${verb} every pending answer of ${scope}, submitted before ${until} (when this page was read)?`,
      [["yes", verb]]) === null) return;
    const { body } = await request("POST", `/projects/${project.id}/reviews`,
      { action: form.action.value, reason: form.reason.value || null, ...filters }, { "Idempotency-Key": key });
    const decided = form.action.value === "approve" ? "approved" : "rejected";
    const result = `${body[decided]} answer(s) ${decided}.`;
    announce(result);
    await done(result);
  });
  return form;
}

export async function reviewsTab(body, project, message = null) {
  // The server's clock when the queue is read: bulk decisions cover the answers submitted before it, not the
  // ones that come in while the manager looks. Its Date header counts whole seconds: the next one is the bound.
  const first = await request("GET", `/projects/${project.id}/reviews?review_status=pending&limit=1`);
  const loadedAt = new Date((Date.parse(first.headers.get("Date")) || Date.now()) + 1000);
  const [items, batches] = await Promise.all([all(`/projects/${project.id}/reviews?review_status=pending`, 500),
    all(`/projects/${project.id}/batches`)]);
  if (!body.isConnected) return;  // the manager has left the tab meanwhile: no keys, no redraw
  let index = 0;
  const status = h("div", { id: "review-status", "aria-live": "polite" }, message ? notice("ok", message) : null);
  const tbody = h("tbody");
  const caption = h("caption");
  const render = () => {
    caption.textContent = `${items.length} answers pending review`;
    fill(tbody, ...items.map((item, i) => h("tr", { class: i === index ? "selected" : null, "aria-selected": String(i === index),
      dataset: { assignment: String(item.id) }, onclick: () => { index = i; render(); } },
    h("td", {}, item.task.external_id || `#${item.task.id}`, item.is_gold ? h("span", { class: "badge warn" }, " gold") : null),
    h("td", {}, dataText(item.task.data).slice(0, 160)), h("td", {}, answerText(item.answer)),
    h("td", {}, item.worker_external_id || `#${item.worker_id}`), h("td", {}, money(item.reward.amount, item.reward.currency)),
    h("td", {}, h("button", { type: "button", onclick: (e) => { e.stopPropagation(); index = i; decide("approve"); } }, "Approve"),
      " ", h("button", { type: "button", class: "danger", onclick: (e) => { e.stopPropagation(); index = i; decide("reject"); } }, "Reject")))));
    if (!items.length) fill(tbody, h("tr", {}, h("td", { colspan: "6" }, "Nothing waits for review.")));
  };
  async function decide(action) {
    const item = items[index];
    if (!item) return;
    let reason = null;
    if (action === "reject") {
      reason = await askReason();
      if (!reason) return;
    }
    try {
      await post(`/assignments/${item.id}/${action}`, reason ? { reason } : {});
      items.splice(index, 1);
      index = Math.min(index, items.length - 1);
      fill(status, notice("ok", `${action === "approve" ? "Approved" : "Rejected"} ${item.task.external_id || `#${item.task.id}`}.`));
      render();
    } catch (error) {
      fill(status, notice("error", error.message));
    }
  }
  const onKey = (event) => {
    if (document.querySelector("dialog[open]") || event.target.closest?.("input,textarea,select") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "a") decide("approve");
    else if (key === "r") decide("reject");
    else if (key === "j" || event.key === "ArrowDown") index = Math.min(items.length - 1, index + 1);
    else if (key === "k" || event.key === "ArrowUp") index = Math.max(0, index - 1);
    else return;
    event.preventDefault();
    render();
  };
  document.addEventListener("keydown", onKey);
  onLeave(() => document.removeEventListener("keydown", onKey));
  render();
  fill(body, h("p", {}, "Keys: ", h("kbd", {}, "A"), " approve, ", h("kbd", {}, "R"), " reject (with a reason), ",
    h("kbd", {}, "J"), "/", h("kbd", {}, "K"), " next/previous."), status,
  h("div", { class: "table-wrap" }, h("table", { id: "review-queue" }, caption,
    h("thead", {}, h("tr", {}, ["Task", "Data", "Answer", "Worker", "Reward", ""].map((x) => h("th", { scope: "col" }, x)))), tbody)),
  items.length ? bulkReviewForm(project, batches, items, loadedAt, (result) => {
    document.removeEventListener("keydown", onKey);  // the tab is drawn again, with its own
    return reviewsTab(body, project, result);
  }) : null);
}

export async function flaggedTab(body, project) {
  const tasks = await all(`/projects/${project.id}/tasks?flagged=true`, 500);
  fill(body, tasks.length ? h("div", { class: "table-wrap" }, table(["Task", "Data", "Answers", "Agreement", "Reason"],
    tasks.map((t) => [t.external_id || `#${t.id}`, dataText(t.data).slice(0, 160), `${t.answer_count} / ${t.required_overlap}`,
      pct(t.agreement), t.flag_reason || "—"]), "Tasks flagged for low agreement"))
    : notice("info", "No flagged task: every completed task reached the agreement threshold."));
}
