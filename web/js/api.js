// The one place that talks to the JSON API: session cookie + X-CSRF-Token on writes, one error shape.

const BASE = "/api/v1";
let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || {};
  }

  // details.fields flattened to dotted paths: {"reward.amount": ["..."], "labels": ["..."]}
  get fields() {
    const out = {};
    const walk = (value, path) => {
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
        out[path] = value;
      } else if (typeof value === "string") {
        out[path] = [value];
      } else if (value && typeof value === "object") {
        for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key);
      }
    };
    walk(this.details.fields || {}, "");
    return out;
  }
}

function headersFor(method, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  return headers;
}

// Returns {status, headers, body}; throws ApiError for 4xx/5xx.
export async function request(method, path, body, extraHeaders = {}) {
  const init = { method, credentials: "same-origin", headers: headersFor(method, extraHeaders) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
  let parsed = null;
  const type = response.headers.get("Content-Type") || "";
  if (response.status !== 204 && type.includes("json")) parsed = await response.json();
  if (!response.ok) throw new ApiError(response.status, parsed);
  return { status: response.status, headers: response.headers, body: parsed };
}

export const get = async (path) => (await request("GET", path)).body;
export const post = async (path, body = {}) => (await request("POST", path, body)).body;
export const patch = async (path, body) => (await request("PATCH", path, body)).body;

// A key for a request that moves money, so that a retried click pays once (crypto.randomUUID needs HTTPS).
export function idempotencyKey() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Every page of a list endpoint ({items, next_cursor}), up to `max` items.
export async function all(path, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// Multipart upload with progress (fetch cannot report upload progress).
export function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + path);
    xhr.setRequestHeader("Accept", "application/json");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body });
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { code: "network", message: "The upload failed (network)." } }));
    xhr.send(formData);
  });
}

// Poll a job (GET /jobs/{id}) until it finishes or fails; onUpdate sees each state.
export async function waitForJob(jobId, onUpdate, intervalMs = 500) {
  for (;;) {
    const job = await get(`/jobs/${encodeURIComponent(jobId)}`);
    onUpdate?.(job);
    if (job.status === "finished" || job.status === "failed") return job;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
