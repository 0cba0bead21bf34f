// Annotator pages: the projects open to me, the labeling workspace and my stats.
import { ApiError, all, get, request } from "./api.js";
import { announce, navigate, onLeave, session } from "./app.js";
import { duration, fill, h, markdown, money, notice, pct, table } from "./format.js";
import { createForm } from "./questions/task_form.js";

const REASONS = {
  no_task_available: ["No task is available for you in this project right now. Come back later or try another project.", "info"],
  suspended: ["You are suspended from this project because your accuracy on control tasks is too low. A manager can lift the suspension.", "error"],
  daily_cap_reached: ["You have reached today's limit of answers for this project. Thank you! Come back tomorrow.", "warn"],
  budget_exhausted: ["This project's budget is used up; no more tasks are handed out.", "warn"],
  not_qualified: ["You do not meet this project's qualification requirements yet.", "warn"],
  project_not_active: ["This project is not active at the moment.", "warn"],
};

// What a project asks, in a few words: "single choice · pos, neg" or "form · 5 questions".
function kindLine(p) {
  if (p.task_type === "form") {
    const n = (p.questions || []).length;
    return `form · ${n} question${n === 1 ? "" : "s"}`;
  }
  return `${p.task_type.replaceAll("_", " ")}${p.labels ? ` · ${p.labels.join(", ")}` : ""}`;
}

export async function projectsPage(view) {
  const projects = await all("/projects?status=active");
  fill(view, h("h1", {}, "Projects open to you"),
    session.me.worker_id == null ? notice("warn", "Your account has no worker profile, so it cannot take tasks.") : null,
    projects.length ? h("div", { class: "grid" }, projects.map((p) => h("article", { class: "card", "aria-labelledby": `p-${p.id}` },
      h("div", { class: "spread" }, h("h2", { id: `p-${p.id}`, style: "margin:0" }, p.name),
        p.reward ? h("span", { class: "badge ok" }, `${money(p.reward.amount, p.reward.currency)} / answer`) : null),
      h("p", { class: "muted" }, kindLine(p)),
      h("details", {}, h("summary", {}, "Instructions"), markdown(p.instructions || "No instructions.")),
      h("p", {}, h("a", { class: "button primary", href: `#/work/${p.id}` }, "Start working")))))
      : notice("info", "No project is open to you at the moment."));
}

// Seconds the tab was visible and the annotator active (input in the last 30 seconds).
function activityClock() {
  let seconds = 0;
  let lastInput = Date.now();
  const mark = () => { lastInput = Date.now(); };
  const events = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "input"];
  for (const e of events) document.addEventListener(e, mark, { passive: true });
  const timer = setInterval(() => {
    if (document.visibilityState === "visible" && Date.now() - lastInput < 30_000) seconds += 1;
  }, 1000);
  return {
    reset() { seconds = 0; mark(); },
    get seconds() { return seconds; },
    stop() { clearInterval(timer); for (const e of events) document.removeEventListener(e, mark); },
  };
}

export async function workPage(view, projectId) {
  const clock = activityClock();
  let lease = null, widget = null, countdownTimer = null, busy = false, serverOffset = 0;
  const state = { expired: false };

  const head = h("div", { class: "task-head" });
  const taskArea = h("section", { "aria-label": "Task" });
  const message = h("div", { id: "work-message", "aria-live": "polite" });
  const side = h("aside", { class: "card", "aria-label": "Instructions" });
  fill(view, h("div", { class: "workspace" }, h("div", {}, head, message, taskArea), side));

  const stopCountdown = () => { clearInterval(countdownTimer); countdownTimer = null; };

  function startCountdown(expiresAt) {
    stopCountdown();
    const el = h("span", { class: "countdown", id: "countdown", role: "timer", "aria-label": "Time left on this task" });
    head.append(el);
    let warned = false;
    const tick = () => {
      // The Date header has whole seconds: never show more than the lease itself.
      const left = Math.min(lease.project.lease_seconds || Infinity, (Date.parse(expiresAt) - (Date.now() + serverOffset)) / 1000);
      el.textContent = left > 0 ? `Time left ${duration(left)}` : "Time is up";
      el.classList.toggle("low", left > 0 && left < 60);
      el.classList.toggle("expired", left <= 0);
      if (left < 60 && left > 0 && !warned) { warned = true; announce("Less than a minute left on this task."); }
      if (left <= 0 && !state.expired) {
        state.expired = true;
        fill(message, notice("warn", "Your time on this task ran out. You may still submit (it is accepted if the task still needs an answer), or skip to the next one."));
      }
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
  }

  function showReason(reason) {
    const [text, kind] = REASONS[reason] || [`No task for you (${reason || "unknown reason"}).`, "info"];
    showMessage(text, kind);
  }

  function showMessage(text, kind) {
    fill(head, h("h1", {}, "Nothing to label"));
    fill(taskArea, notice(kind, text), h("p", { class: "actions" },
      h("button", { type: "button", class: "primary", id: "retry", onclick: claim }, "Try again"),
      h("a", { class: "button", href: "#/projects" }, "Back to projects")));
    taskArea.querySelector("#retry").focus();
  }

  function renderLease() {
    const p = lease.project;
    widget = createForm(p, lease.task);
    const submitKey = widget.textEntry ? "Ctrl+Enter" : "Enter";
    fill(head, h("h1", { style: "margin:0" }, p.name),
      lease.reward ? h("span", { class: "badge ok" }, money(lease.reward.amount, lease.reward.currency)) : null);
    startCountdown(lease.expires_at);
    fill(side, h("h2", { style: "margin-top:0" }, "Instructions"), markdown(p.instructions || "No instructions."),
      h("h2", {}, "Keys"), h("ul", {},
        widget.textEntry && widget.legacy ? h("li", {}, h("kbd", {}, "Ctrl"), "+", h("kbd", {}, "Enter"), " submit")
          : h("li", {}, h("kbd", {}, "Enter"), " submit", widget.textEntry ? [" (", h("kbd", {}, "Ctrl"), "+", h("kbd", {}, "Enter"), " in a text box)"] : null),
        widget.legacy ? null : h("li", {}, h("kbd", {}, "Tab"), " next question, ", h("kbd", {}, "Shift"), "+", h("kbd", {}, "Tab"), " previous"),
        widget.help.map((line) => h("li", {}, line))));
    fill(taskArea, widget.el, h("div", { class: "actions", style: "margin-top:1rem" },
      h("button", { type: "button", class: "primary", id: "submit", onclick: submit }, "Submit ", h("kbd", {}, widget.legacy ? submitKey : "Enter")),
      h("button", { type: "button", id: "skip", "data-native-enter": "", onclick: skip }, "Skip"),
      h("span", { class: "muted" }, lease.task.external_id ? `Task ${lease.task.external_id}` : `Task #${lease.task.id}`)));
    taskArea.dataset.assignment = String(lease.id);
    taskArea.dataset.taskType = p.task_type;
    clock.reset();
    widget.ready.then(() => widget.focus());
  }

  async function claim() {
    if (busy) return;
    busy = true;
    stopCountdown();
    fill(message, );
    fill(taskArea, h("p", { class: "muted" }, "Fetching a task…"));
    try {
      const response = await request("POST", `/projects/${projectId}/assignments`, {});
      const date = response.headers.get("Date");
      if (date) serverOffset = Date.parse(date) - Date.now();
      if (response.status === 204) { lease = null; showReason(response.headers.get("X-Concord-Reason")); return; }
      lease = response.body;
      state.expired = false;
      renderLease();
    } catch (error) {
      lease = null;
      if (error instanceof ApiError && error.status === 404) {
        showMessage("This project is not open for work: it may be paused, archived or finished.", "warn");
      } else {
        showMessage(error.message, "error");
      }
    } finally {
      busy = false;
    }
  }

  async function submit() {
    if (!lease || busy) return;
    let answer;
    try { answer = widget.answer(); } catch (error) {
      fill(message, notice("error", error.message));
      return;
    }
    busy = true;
    try {
      await request("POST", `/assignments/${lease.id}/submit`, { answer, active_seconds: Math.min(86_400, clock.seconds) });
      announce("Answer submitted.");
      busy = false;
      await claim();
      if (lease) fill(message, notice("ok", "Submitted. Here is the next task."));
    } catch (error) {
      busy = false;
      if (error instanceof ApiError && (error.code === "lease_expired" || error.code === "already_submitted")) {
        fill(message, notice("warn", `${error.message} Moving on to the next task.`));
        setTimeout(claim, 1200);
      } else {
        const fields = error instanceof ApiError ? Object.entries(error.fields).map(([k, v]) => `${k}: ${v.join(" ")}`) : [];
        fill(message, notice("error", fields.length ? `${error.message} ${fields.join("; ")}` : error.message));
      }
    }
  }

  async function skip() {
    if (!lease || busy) return;
    busy = true;
    try { await request("POST", `/assignments/${lease.id}/release`, { reason: "skipped" }); } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409) { busy = false; fill(message, notice("error", error.message)); return; }
    }
    busy = false;
    announce("Task skipped.");
    await claim();
  }

  function onKey(event) {
    if (!lease || !widget || document.querySelector("dialog[open]")) return;
    const target = event.target;
    const typing = target instanceof HTMLTextAreaElement || (target instanceof HTMLInputElement && target.type !== "checkbox" && target.type !== "radio");
    if (event.key === "Tab") {
      if (widget.onTab(event)) event.preventDefault();
      return;
    }
    if (event.key === "Enter") {
      const ctrl = event.ctrlKey || event.metaKey;
      // A one-question text project submits with Ctrl+Enter only; in a form, Enter outside a text box submits.
      if (!ctrl && (typing || (widget.legacy && widget.textEntry))) return;
      if (!ctrl && target.closest?.("[data-native-enter], a, header, nav, .moves")) return;
      // Enter submits what is chosen; it never picks the focused choice (Space or a number key does).
      event.preventDefault();
      submit();
      return;
    }
    if (typing) return;
    if (widget.onKey(event)) event.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  onLeave(() => { document.removeEventListener("keydown", onKey); stopCountdown(); clock.stop(); });
  await claim();
}

export async function statsPage(view) {
  // Payout entries newest first: the oldest page of the ledger is all earnings for a busy worker.
  const [stats, earnings] = await Promise.all([get("/me/stats?by=project"), get("/me/earnings?kind=payout&order=newest&limit=20")]);
  const projects = new Map((await all("/projects")).map((p) => [p.id, p.name]));
  const rows = stats.rows || [];
  const sum = (k) => rows.reduce((t, r) => t + (r[k] || 0), 0);
  const today = new Date().toISOString().slice(0, 10);
  const daily = await get(`/me/stats?by=day&from=${today}&to=${today}`);
  const todayAnswers = (daily.rows || []).reduce((t, r) => t + (r.submitted || 0), 0);
  const approved = sum("approved"), rejected = sum("rejected");
  const goldAnswers = sum("gold_answers");
  const goldAccuracy = goldAnswers ? rows.reduce((t, r) => t + (r.gold_accuracy ?? 0) * (r.gold_answers || 0), 0) / goldAnswers : null;
  const balances = earnings.balances || [];
  const payouts = earnings.entries || [];
  const answers = answersSection(rejected);
  await answers.load();
  fill(view, h("h1", {}, "My stats"),
    h("div", { class: "stats", id: "my-stats" },
      h("div", {}, h("div", { class: "muted" }, "Answers today"), h("div", { class: "stat", id: "stat-today" }, String(todayAnswers))),
      h("div", {}, h("div", { class: "muted" }, "Answers in all"), h("div", { class: "stat" }, String(sum("submitted")))),
      h("div", {}, h("div", { class: "muted" }, "Approval rate"), h("div", { class: "stat" }, approved + rejected ? pct(approved / (approved + rejected)) : "—")),
      h("div", {}, h("div", { class: "muted" }, "Gold accuracy"), h("div", { class: "stat" }, pct(goldAccuracy))),
      h("div", {}, h("div", { class: "muted" }, "Pending review"), h("div", { class: "stat" }, String(sum("pending"))))),
    answers.el,
    h("h2", {}, "Earnings"),
    balances.length ? h("div", { class: "table-wrap" }, table(["Currency", "Balance", "Pending review", "Earned", "Bonuses", "Adjustments", "Paid out"],
      balances.map((b) => [b.currency, money(b.balance, b.currency), money(b.pending, b.currency), money(b.earned, b.currency),
        money(b.bonuses, b.currency), money(b.adjustments, b.currency), money(b.paid_out, b.currency)]))) : notice("info", "No earnings yet."),
    h("h2", {}, "Per project"),
    rows.length ? h("div", { class: "table-wrap" }, table(["Project", "Submitted", "Approved", "Rejected", "Answers/hour", "Gold accuracy", "Earnings"],
      rows.map((r) => [projects.get(r.project_id) || `#${r.project_id}`, r.submitted, r.approved, r.rejected,
        r.answers_per_hour == null ? "—" : r.answers_per_hour.toFixed(1), pct(r.gold_accuracy),
        (r.earnings || []).map((m) => money(m.amount, m.currency)).join(", ") || "—"]))) : notice("info", "You have not answered any task yet."),
    h("h2", {}, "Payouts"),
    payouts.length ? h("div", { class: "table-wrap", id: "my-payouts" }, table(["Date", "Amount", "What", "Payout"],
      // A failed payout gives the money back with a positive entry of its own.
      payouts.map((e) => [new Date(e.created_at).toLocaleDateString(), money(Math.abs(e.amount), e.currency),
        e.amount < 0 ? "Paid out" : "Returned: the payout failed", `#${e.payout_id}`]),
      earnings.next_cursor ? `Your latest ${payouts.length} payout entries` : null))
      : notice("info", "No payouts yet."));
}

const DECISIONS = { pending: ["Pending review", "warn"], approved: ["Approved", "ok"], rejected: ["Rejected", "bad"] };
const clip = (text, n = 60) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

// An answer in a few words, whatever the task type.
function answerText(answer) {
  if (!answer) return "—";
  if ("choice" in answer) return String(answer.choice);
  if (Array.isArray(answer.choices)) return answer.choices.join(", ") || "none";
  if ("value" in answer) return String(answer.value);
  if (typeof answer.text === "string") return clip(answer.text);
  if (Array.isArray(answer.spans)) return answer.spans.length ? answer.spans.map((s) => s.label).join(", ") : "no spans";
  if (Array.isArray(answer.boxes)) return `${answer.boxes.length} box${answer.boxes.length === 1 ? "" : "es"}`;
  if (Array.isArray(answer.order)) return `order ${answer.order.join(" > ")}`;
  const parts = Object.entries(answer);
  // A form's answer: one part per question.
  if (parts.length && parts.every(([, v]) => v && typeof v === "object" && !Array.isArray(v))) {
    return clip(parts.map(([name, part]) => `${name}: ${answerText(part)}`).join("; "), 120);
  }
  return clip(JSON.stringify(answer));
}

// My latest answers with the review decision and the reviewer's reason; rejections stand out.
function answersSection(rejectedCount) {
  const filter = h("select", { id: "answers-filter" }, h("option", { value: "" }, "All answers"),
    ...Object.entries(DECISIONS).map(([value, [label]]) => h("option", { value }, label)));
  const list = h("div", { class: "table-wrap" });
  const more = h("button", { type: "button", id: "answers-more", hidden: true }, "Show more");
  let cursor = null;

  const row = (a) => {
    const [label, kind] = DECISIONS[a.review_status] || ["—", ""];
    const reward = money(a.reward.amount, a.reward.currency);
    return h("tr", { class: a.review_status === "rejected" ? "rejected" : null, dataset: { assignment: String(a.id) } },
      h("td", {}, a.submitted_at ? new Date(a.submitted_at).toLocaleString() : "—"),
      h("td", {}, a.project.name),
      h("td", {}, a.task.external_id || `#${a.task.id}`,
        typeof a.task.data?.text === "string" ? h("div", { class: "muted" }, clip(a.task.data.text)) : null),
      h("td", {}, answerText(a.answer)),
      h("td", {}, h("span", { class: `badge ${kind}` }, label)),
      h("td", { class: "reason" }, a.review_reason || ""),
      h("td", {}, a.review_status === "rejected" ? [h("s", {}, reward), " not paid"] : reward));
  };

  async function load(reset = true) {
    const query = new URLSearchParams({ status: "submitted", limit: "10" });
    if (filter.value) query.set("review_status", filter.value);
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await get(`/me/assignments?${query}`);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (reset || !list.querySelector("tbody")) {
      const caption = filter.value ? `My answers: ${DECISIONS[filter.value][0].toLowerCase()}` : "My latest answers";
      fill(list, page.items.length ? table(["Submitted", "Project", "Task", "Answer", "Decision", "Reason", "Reward"],
        page.items.map(row), caption) : notice("info", filter.value ? "No answer with this decision." : "You have not answered any task yet."));
    } else {
      list.querySelector("tbody").append(...page.items.map(row));
    }
  }

  const reload = (reset) => load(reset).catch((error) => fill(list, notice("error", error.message)));
  filter.addEventListener("change", () => reload(true));
  more.addEventListener("click", () => reload(false));
  const showRejected = h("button", { type: "button", onclick: () => { filter.value = "rejected"; reload(true); } }, "Show the rejected ones");
  const el = h("section", { id: "my-answers", "aria-labelledby": "my-answers-title" },
    h("div", { class: "spread" }, h("h2", { id: "my-answers-title" }, "My answers"),
      h("div", { class: "row" }, h("label", { for: "answers-filter" }, "Show"), filter)),
    rejectedCount ? h("div", { class: "notice error row", role: "status", id: "rejections" },
      `${rejectedCount} of your answers ${rejectedCount === 1 ? "was" : "were"} rejected. The reviewer says why in each one.`, showRejected) : null,
    list, h("p", {}, more));
  return { el, load };
}
