// Entry point: who is logged in, the navigation and a small hash router (#/path/with/params).
import { ApiError, get, post, setCsrf } from "./api.js";
import { fill, h, notice } from "./format.js";

export const session = { me: null };

const isManager = () => ["manager", "admin"].includes(session.me?.role);
const canWork = () => session.me?.worker_id !== null && session.me?.worker_id !== undefined;

// [pattern, loader, page title]; loaders import pages lazily so the first paint stays small.
const ROUTES = [
  [/^\/login$/, () => import("./login.js").then((m) => m.loginPage), "Log in"],
  [/^\/projects$/, () => import("./annotator.js").then((m) => m.projectsPage), "Projects"],
  [/^\/work\/(\d+)$/, () => import("./annotator.js").then((m) => m.workPage), "Work"],
  [/^\/stats$/, () => import("./annotator.js").then((m) => m.statsPage), "My stats"],
  [/^\/manage$/, () => import("./manager.js").then((m) => m.dashboardPage), "Projects"],
  [/^\/manage\/new$/, () => import("./manager.js").then((m) => m.projectFormPage), "New project"],
  [/^\/manage\/payouts$/, () => import("./money.js").then((m) => m.payoutsPage), "Payouts"],
  [/^\/manage\/integrations$/, () => import("./integrations.js").then((m) => m.integrationsPage), "Integrations"],
  [/^\/manage\/(\d+)(?:\/([a-z-]+))?$/, () => import("./manager.js").then((m) => m.projectPage), "Project"],
];

let cleanup = null;

// A page may register a function to run when the user navigates away (timers, key handlers).
export function onLeave(fn) {
  const previous = cleanup;
  cleanup = () => { previous?.(); fn(); };
}

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = `#${path}`;
}

function home() {
  if (!session.me) return "/login";
  return isManager() ? "/manage" : "/projects";
}

function renderChrome(path) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  const links = [];
  if (session.me) {
    if (canWork()) links.push(["#/projects", "Work"], ["#/stats", "My stats"]);
    if (isManager()) links.push(["#/manage", "Projects"], ["#/manage/new", "New project"], ["#/manage/payouts", "Payouts"],
      ["#/manage/integrations", "Integrations"]);
  }
  fill(nav, ...links.map(([href, text]) => h("a", {
    href, "aria-current": `#${path}` === href || (href !== "#/manage" && `#${path}`.startsWith(`${href}/`)) ? "page" : null,
  }, text)));
  fill(who, );
  if (session.me) {
    who.append(h("span", {}, `${session.me.email || "token"} · ${session.me.role}`),
      h("button", { type: "button", onclick: logout }, "Log out"));
  }
}

async function logout() {
  try { await post("/auth/logout"); } catch { /* already gone */ }
  session.me = null;
  setCsrf(null);
  navigate("/login");
}

export async function refreshMe() {
  try {
    session.me = await get("/me");
    setCsrf(session.me.csrf_token);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    session.me = null;
  }
  return session.me;
}

async function route() {
  const path = location.hash.replace(/^#/, "") || "/";
  if (cleanup) { const fn = cleanup; cleanup = null; fn(); }
  if (path !== "/login" && !session.me) return navigate("/login");
  if (path === "/" || (path === "/login" && session.me)) return navigate(home());
  const view = document.getElementById("view");
  renderChrome(path);
  for (const [pattern, load, title] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    document.title = `${title} · Concord`;
    if (path.startsWith("/manage") && !isManager()) {
      // The API would refuse every call of a manager page; say so instead of showing empty numbers.
      fill(view, h("h1", {}, title), notice("error", `This page is for managers; you are logged in as ${
        session.me.role}.`), h("p", {}, h("a", { href: `#${home()}` }, "Back to your start page")));
      return;
    }
    fill(view, h("p", { class: "muted" }, "Loading…"));
    try {
      const page = await load();
      await page(view, ...match.slice(1));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) { session.me = null; return navigate("/login"); }
      console.error(error);
      fill(view, notice("error", error.message || String(error)));
    }
    return;
  }
  fill(view, h("h1", {}, "Not found"), h("p", {}, h("a", { href: `#${home()}` }, "Back to the start")));
}

export function announce(text) {
  const live = document.getElementById("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 30);
}

export function afterLogin(me) {
  session.me = me;
  setCsrf(me.csrf_token);
  navigate(home());
}

window.addEventListener("hashchange", route);
refreshMe().then(route, (error) => {
  document.getElementById("view").replaceChildren(notice("error", `The API is not reachable: ${error.message}`));
});
