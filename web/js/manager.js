// Manager pages: the dashboard, the project form and a project's page with its tabs.
import { ApiError, all, get, patch, post, upload, waitForJob } from "./api.js";
import { navigate, onLeave } from "./app.js";
import { clearFieldErrors, showFieldErrors } from "./forms.js";
import { duration, fill, h, money, notice, progressBar, table, toMajor, toMinor } from "./format.js";

const TASK_TYPES = ["single_choice", "multi_choice", "rating", "bounding_boxes", "text_spans", "free_text"];
const LABELLED = ["single_choice", "multi_choice", "bounding_boxes", "text_spans"];
const MONEY_FIELDS = ["gold_reward_amount", "min_hourly_rate", "budget_amount"];

export async function dashboardPage(view) {
  const projects = await all("/projects");
  const progress = await Promise.all(projects.map((p) => get(`/projects/${p.id}/progress`).catch(() => null)));
  fill(view, 
    h("div", { class: "spread" }, h("h1", {}, "Projects"), h("a", { class: "button primary", href: "#/manage/new" }, "New project")),
    projects.length ? h("div", { class: "table-wrap" }, table(["Project", "Type", "Status", "Progress", "Answers", "Pace", "Time left"],
      projects.map((p, i) => {
        const pr = progress[i] || {};
        const share = pr.answers_required ? pr.answers_submitted / pr.answers_required : 0;
        return h("tr", { dataset: { project: String(p.id) } },
          h("td", {}, h("a", { href: `#/manage/${p.id}` }, p.name)),
          h("td", {}, p.task_type), h("td", {}, h("span", { class: `badge ${p.status === "active" ? "ok" : ""}` }, p.status)),
          h("td", {}, progressBar(share, `${p.name}: ${Math.round(share * 100)}% of answers`),
            h("span", { class: "muted" }, `${pr.tasks_complete ?? 0} / ${pr.tasks_total ?? 0} tasks complete${
              pr.control_tasks ? ` · ${pr.control_tasks} control` : ""}`)),
          h("td", {}, `${pr.answers_submitted ?? 0} / ${pr.answers_required ?? 0}`),
          h("td", {}, pr.answers_per_hour ? `${pr.answers_per_hour.toFixed(0)}/h` : "—"),
          h("td", {}, pr.estimated_seconds_left == null ? "—" : duration(pr.estimated_seconds_left)));
      }), "Your organization's projects"))
      : notice("info", "No project yet. Create one, then upload a dataset."));
}

// [name, label, kind, hint, task types it applies to]
const FIELDS = [
  ["Project", [
    ["name", "Name", "text"], ["task_type", "Task type", "task_type"], ["status", "Status", "status"],
    ["instructions", "Instructions (Markdown)", "textarea"],
  ]],
  ["Labels", [
    ["labels", "Labels (one per line)", "labels", "", LABELLED],
    ["min", "Lowest rating", "int", "", ["rating"]], ["max", "Highest rating", "int", "", ["rating"]],
    ["text_field", "Text field", "text", "The data field holding the text (default: text)", ["text_spans"]],
    ["image_field", "Image field", "text", "The data field holding the image URL (default: image)", ["bounding_boxes"]],
    ["max_length", "Longest answer (characters)", "int", "", ["free_text"]],
  ]],
  ["Work", [
    ["overlap", "Overlap", "float", "Distinct annotators per task; 2.5 = half the tasks get 3"],
    ["max_overlap", "Max overlap", "int", "Dynamic overlap ceiling"], ["batch_size", "Batch size", "int"],
    ["lease_seconds", "Lease (seconds)", "int"], ["max_active_leases", "Active leases per worker", "int"],
    ["max_answers_per_worker_per_day", "Daily cap per worker", "int"],
  ]],
  ["Quality", [
    ["gold_ratio", "Gold ratio", "float", "Share of control tasks, e.g. 0.1"],
    ["min_gold_accuracy", "Min gold accuracy", "float", "Suspend below this (0..1)"],
    ["min_gold_answers", "Gold answers before judging", "int"],
    ["agreement_threshold", "Agreement threshold", "float", "Below it a task gets one more answer"],
    ["rating_tolerance", "Rating tolerance", "int", "", ["rating"]],
    ["consensus_method", "Consensus method", "text", "Empty: the task type's default"],
  ]],
  ["Payment", [
    ["reward.amount", "Reward per answer", "money"], ["reward.currency", "Currency", "currency"],
    ["gold_reward_amount", "Reward for a gold answer", "money", "Empty: the regular reward"],
    ["budget_amount", "Budget", "money", "Claims stop when committed rewards reach it"],
    ["min_hourly_rate", "Fair pay: minimum per hour", "money"],
    ["auto_approve_hours", "Auto-approve after (hours)", "int"], ["rejection_window_hours", "Rejection window (hours)", "int"],
    ["auto_approve_consensus", "Approve answers that agree with consensus", "bool"],
    ["auto_reject_suspended", "Reject pending answers of suspended workers", "bool"],
    ["fair_pay_auto_apply", "Pay fair-pay top-ups automatically", "bool"],
  ]],
];

function control(name, kind) {
  const id = `f-${name.replace(".", "-")}`;
  if (kind === "textarea" || kind === "labels") return h("textarea", { id, name, rows: kind === "labels" ? 4 : 5 });
  if (kind === "task_type") return h("select", { id, name }, TASK_TYPES.map((t) => h("option", { value: t }, t)));
  if (kind === "status") return h("select", { id, name }, ["draft", "active", "paused", "archived"].map((t) => h("option", { value: t }, t)));
  if (kind === "bool") return h("input", { id, name, type: "checkbox" });
  if (kind === "currency") return h("input", { id, name, type: "text", maxlength: "3", size: "4", autocomplete: "off" });
  const step = kind === "int" ? "1" : "any";
  return h("input", { id, name, type: kind === "text" ? "text" : "number", step: kind === "text" ? null : step,
    inputmode: kind === "text" ? null : "decimal" });
}

function readValue(el, kind, currency) {
  if (kind === "bool") return el.checked;
  const raw = el.value.trim();
  if (kind === "labels") return raw ? raw.split("\n").map((l) => l.trim()).filter(Boolean) : null;
  if (raw === "") return null;
  if (kind === "int") return Number.isInteger(Number(raw)) ? Number(raw) : raw;
  if (kind === "float") return Number(raw);
  if (kind === "money") return toMinor(raw, currency);
  if (kind === "currency") return raw.toUpperCase();
  return raw;
}

function writeValue(el, kind, value, currency) {
  if (kind === "bool") { el.checked = Boolean(value); return; }
  if (value === null || value === undefined) { el.value = ""; return; }
  if (kind === "labels") el.value = value.join("\n");
  else if (kind === "money") el.value = toMajor(value, currency);
  else el.value = String(value);
}

export async function projectFormPage(view, projectId = null, project = null) {
  const editing = projectId !== null;
  const status = h("div", { "aria-live": "polite" });
  const controls = {};
  const form = h("form", { class: "card", novalidate: true, id: "project-form" },
    FIELDS.map(([legend, fields]) => h("fieldset", {}, h("legend", {}, legend), h("div", { class: "form-grid" },
      fields.map(([name, label, kind, hint, types]) => {
        const el = control(name, kind);
        controls[name] = { el, kind, types };
        const hintEl = hint ? h("span", { class: "hint", id: `${el.id}-hint` }, hint) : null;
        if (hintEl) el.setAttribute("aria-describedby", hintEl.id);
        return kind === "bool"
          ? h("div", { class: "field", dataset: { field: name } }, h("label", { class: "check", for: el.id }, el, label))
          : h("div", { class: "field", dataset: { field: name, types: types ? types.join(" ") : "" } },
            h("label", { for: el.id }, label), el, hintEl);
      })))),
    status,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, editing ? "Save changes" : "Create project"),
      editing ? null : h("a", { class: "button", href: "#/manage" }, "Cancel")));
  const currency = () => (controls["reward.currency"].el.value.trim().toUpperCase() || "USD");
  const showTypeFields = () => {
    const type = controls.task_type.el.value;
    for (const div of form.querySelectorAll(".field[data-types]")) {
      div.hidden = Boolean(div.dataset.types) && !div.dataset.types.split(" ").includes(type);
    }
  };
  controls.task_type.el.addEventListener("change", showTypeFields);

  const defaults = { task_type: "single_choice", status: "active", overlap: 3, batch_size: 100, lease_seconds: 600,
    reward: { amount: 5, currency: "USD" }, min_gold_answers: 5, rejection_window_hours: 72 };
  const source = project || defaults;
  const cur0 = source.reward?.currency || "USD";
  for (const [name, { el, kind }] of Object.entries(controls)) {
    const value = name.startsWith("reward.") ? source.reward?.[name.slice(7)] : source[name];
    writeValue(el, kind, value, cur0);
  }
  if (editing) controls.task_type.el.disabled = true;
  showTypeFields();

  const body = () => {
    const out = {};
    const type = controls.task_type.el.value;
    for (const [name, { el, kind, types }] of Object.entries(controls)) {
      if (types && !types.includes(type)) continue;
      if (editing && name === "task_type") continue;
      const value = readValue(el, kind, currency());
      if (name.startsWith("reward.")) {
        out.reward ??= {};
        out.reward[name.slice(7)] = value;
        continue;
      }
      if (value === null && !editing) continue;
      out[name] = value;
    }
    if (out.reward && out.reward.amount === null) delete out.reward;
    if (editing) {
      // Send only what changed, so that untouched settings are never rewritten.
      for (const key of Object.keys(out)) {
        if (JSON.stringify(out[key]) === JSON.stringify(project[key] ?? (controls[key]?.kind === "bool" ? false : null))) delete out[key];
      }
    }
    return out;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    fill(status, );
    try {
      if (editing) {
        const changes = body();
        if (!Object.keys(changes).length) { fill(status, notice("info", "Nothing changed.")); return; }
        Object.assign(project, await patch(`/projects/${projectId}`, changes));
        fill(status, notice("ok", "Saved."));
      } else {
        const created = await post("/projects", body());
        navigate(`/manage/${created.id}/overview`);
      }
    } catch (error) {
      if (error instanceof ApiError) showFieldErrors(form, error, status);
      else fill(status, notice("error", error.message));
    }
  });
  if (!editing) fill(view, h("h1", {}, "New project"), form);
  else fill(view, form);
  return form;
}

const TABS = [["overview", "Overview"], ["settings", "Settings"], ["agreement", "Agreement"], ["workers", "Workers"],
  ["reviews", "Review"], ["flagged", "Flagged"], ["money", "Costs"], ["exports", "Exports"]];

export async function projectPage(view, projectId, tab = "overview") {
  const project = await get(`/projects/${projectId}`);
  const body = h("section", { id: "tab-body", "aria-label": TABS.find(([t]) => t === tab)?.[1] || tab });
  fill(view, h("div", { class: "spread" }, h("h1", {}, project.name),
    h("span", { class: "muted" }, `${project.task_type} · ${project.status} · overlap ${project.overlap}`)),
  h("nav", { class: "tabs", "aria-label": "Project sections" }, TABS.map(([t, label]) => h("a", {
    href: `#/manage/${projectId}/${t}`, "aria-current": t === tab ? "page" : null }, label))), body);
  const pages = {
    overview: () => overviewTab(body, project),
    settings: () => projectFormPage(body, projectId, project),
    agreement: () => import("./quality.js").then((m) => m.agreementTab(body, project)),
    workers: () => import("./quality.js").then((m) => m.workersTab(body, project)),
    reviews: () => import("./quality.js").then((m) => m.reviewsTab(body, project)),
    flagged: () => import("./quality.js").then((m) => m.flaggedTab(body, project)),
    money: () => import("./money.js").then((m) => m.costTab(body, project)),
    exports: () => import("./money.js").then((m) => m.exportsTab(body, project)),
  };
  await (pages[tab] || pages.overview)();
}

async function overviewTab(body, project) {
  const progressBox = h("div", { id: "progress" });
  const batchesBox = h("div", { id: "batches" });
  const batchStatus = h("div", { id: "batch-status", "aria-live": "polite" });
  const refresh = async (force = true) => {
    const [pr, batches] = await Promise.all([get(`/projects/${project.id}/progress`), all(`/projects/${project.id}/batches`)]);
    const share = pr.answers_required ? pr.answers_submitted / pr.answers_required : 0;
    fill(progressBox, h("div", { class: "stats" },
      h("div", {}, h("div", { class: "muted" }, "Tasks complete"), h("div", { class: "stat", id: "tasks-complete" }, `${pr.tasks_complete} / ${pr.tasks_total}`),
        // Control tasks never complete: each worker answers them once. Shown apart from the work to finish.
        pr.control_tasks ? h("div", { class: "muted", id: "control-tasks" }, `+ ${pr.control_tasks} control tasks, ${pr.control_answers} answers`) : null),
      h("div", {}, h("div", { class: "muted" }, "Answers"), h("div", { class: "stat", id: "answers-submitted" }, `${pr.answers_submitted} / ${pr.answers_required}`)),
      h("div", {}, h("div", { class: "muted" }, "In flight"), h("div", { class: "stat" }, String(pr.answers_in_flight))),
      h("div", {}, h("div", { class: "muted" }, "Active workers"), h("div", { class: "stat" }, String(pr.active_workers))),
      h("div", {}, h("div", { class: "muted" }, "Time left"), h("div", { class: "stat" }, pr.estimated_seconds_left == null ? "—" : duration(pr.estimated_seconds_left)))),
    h("p", {}, progressBar(share, `Project progress ${Math.round(share * 100)}%`)));
    // Never redraw under a manager who is editing a priority.
    const editing = batchesBox.contains(document.activeElement)
      || [...batchesBox.querySelectorAll("input")].some((i) => i.value !== i.defaultValue);
    if (editing && !force) return;
    fill(batchesBox, batches.length ? h("div", { class: "table-wrap" }, table(["Batch", "Tasks", "Complete", "Gold", "Priority", "Status", ""],
      batches.map((b) => batchRow(b, refresh, batchStatus)), "Batches")) : notice("info", "No batches yet: upload a dataset."));
  };
  await refresh();
  const timer = setInterval(() => refresh(false).catch(() => {}), 5000);
  onLeave(() => clearInterval(timer));
  fill(body, progressBox, h("h2", {}, "Upload a dataset"), uploadForm(project, refresh), h("h2", {}, "Batches"), batchStatus, batchesBox);
}

function batchRow(batch, refresh, status) {
  const priority = h("input", { type: "number", step: "1", value: String(batch.priority), style: "width:6rem",
    "aria-label": `Priority of batch ${batch.number}` });
  const save = async (changes) => {
    try {
      await patch(`/batches/${batch.id}`, changes);
      fill(status, notice("ok", `Batch ${batch.number} updated.`));
      await refresh();
    } catch (error) {
      fill(status, notice("error", `Batch ${batch.number}: ${error.message}`));
    }
  };
  const paused = batch.status === "paused";
  return h("tr", { dataset: { batch: String(batch.id) } }, h("td", {}, `#${batch.number}`), h("td", {}, String(batch.task_count)),
    h("td", {}, progressBar(batch.task_count ? batch.completed_count / Math.max(1, batch.task_count - batch.gold_count) : 0,
      `Batch ${batch.number} complete`), `${batch.completed_count}`),
    h("td", {}, String(batch.gold_count)),
    h("td", {}, h("div", { class: "row" }, priority, h("button", { type: "button", "aria-label": `Set priority of batch ${batch.number}`,
      onclick: () => save({ priority: Number(priority.value) }) }, "Set"))),
    h("td", {}, h("span", { class: `badge ${paused ? "warn" : "ok"}` }, batch.status)),
    h("td", {}, h("button", { type: "button", onclick: () => save({ status: paused ? "active" : "paused" }) },
      paused ? `Resume batch ${batch.number}` : `Pause batch ${batch.number}`)));
}

function uploadForm(project, refresh) {
  const status = h("div", { id: "upload-status", "aria-live": "polite" });
  const bar = h("progress", { id: "upload-progress", max: "100", value: "0", hidden: true, "aria-label": "Upload progress" });
  const form = h("form", { class: "card", id: "upload-form" },
    h("div", { class: "form-grid" },
      h("div", { class: "field", dataset: { field: "file" } }, h("label", { for: "f-file" }, "File (CSV, JSON or JSON Lines)"),
        h("input", { id: "f-file", name: "file", type: "file", accept: ".csv,.json,.jsonl,.ndjson,text/csv,application/json", required: true })),
      h("div", { class: "field", dataset: { field: "batch_size" } }, h("label", { for: "f-batch-size" }, "Batch size (optional)"),
        h("input", { id: "f-batch-size", name: "batch_size", type: "number", min: "1", step: "1" }))),
    bar, status, h("button", { class: "primary", type: "submit" }, "Upload"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const file = form.file.files[0];
    if (!file) { fill(status, notice("error", "Choose a file first.")); return; }
    const data = new FormData();
    data.append("file", file);
    if (form.batch_size.value) data.append("batch_size", form.batch_size.value);
    bar.hidden = false;
    bar.value = 0;
    fill(status, notice("info", `Uploading ${file.name}…`));
    try {
      const { status: code, body } = await upload(`/projects/${project.id}/datasets`, data, (f) => { bar.value = Math.round(f * 100); });
      bar.value = 100;
      let dataset = body.dataset || body;
      if (code === 202) {
        fill(status, notice("info", "Importing in the background…"));
        const job = await waitForJob(body.job.id, (j) => { bar.value = Math.round((j.progress || 0) * 100); });
        if (job.status === "failed") throw new Error(job.error?.message || "The import failed.");
        dataset = await get(`/datasets/${dataset.id}`);
      }
      if (dataset.status === "failed") throw new Error(dataset.error?.message || "The import failed.");
      fill(status, notice("ok", `Imported ${dataset.tasks_created} tasks from ${file.name}` +
        `${dataset.duplicates_skipped ? ` (${dataset.duplicates_skipped} duplicates skipped)` : ""}.`));
      form.reset();
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && Object.keys(error.fields).length) showFieldErrors(form, error, status);
      else fill(status, notice("error", error.message));
    }
  });
  return form;
}
