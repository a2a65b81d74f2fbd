// The page's logic: submit a document as a job (POST /jobs), follow its progress (GET /jobs/<id>),
// then show each page's image beside its text. Text only ever reaches the page as text nodes.
import { renderMarkdown } from "./markdown.js";

const TOKEN_KEY = "gnosis-ocr-token";
const EXTENSIONS = { markdown: "md", text: "txt", json: "json" };
const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "", config: null, run: 0, jobId: null, stem: "document", images: [],
};

// What an HTTP status means for the person who dropped the document; the API's message follows.
const PLAIN_WORDS = {
  0: "The service could not be reached.",
  400: "The request was refused.",
  401: "The access token was refused.",
  404: "Not found.",
  411: "The upload was refused.",
  413: "The document is too large.",
  415: "This type of file is not supported.",
  422: "The document cannot be read.",
  503: "The service is busy or not ready; try again in a moment.",
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  get plain() {
    const lead = PLAIN_WORDS[this.status] || (this.status >= 500 ? "The service failed." : "The request failed.");
    return this.message ? `${lead} ${capitalise(this.message)}` : lead;
  }
}

function capitalise(text) {
  const sentence = String(text).trim();
  return sentence.charAt(0).toUpperCase() + sentence.slice(1) + (/[.!?]$/.test(sentence) ? "" : ".");
}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.token) headers.set("X-Api-Key", state.token);
  let response;
  try {
    response = await fetch(path, { ...options, headers, cache: "no-store" });
  } catch {
    const limit = state.config ? ` (the limit is ${state.config.max_upload_bytes} bytes)` : "";
    throw new ApiError(0, "network", options.method === "POST"
      ? `the connection closed before the service answered; a document over the size limit${limit} is cut off like this`
      : "");
  }
  if (response.ok) return response;
  let error = { code: `http_${response.status}`, message: `the service answered ${response.status}` };
  try {
    const body = await response.json();
    if (body && body.error) error = body.error;
  } catch { /* not JSON: keep the status line */ }
  if (response.status === 401) askForToken("The token was refused: enter it again.");
  throw new ApiError(response.status, error.code, error.message);
}

// --- the token, asked for once when the service says it needs one ---

function askForToken(note) {
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  $("token-form").hidden = false;
  $("upload").hidden = true;
  if (note) $("token-note").textContent = note;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token-input").value.trim();
  if (!state.token) return;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("token-input").value = "";
  $("token-form").hidden = true;
  $("upload").hidden = false;
  $("file-input").focus();
});

// --- choosing a document: drop or picker ---

const zone = $("drop-zone");
for (const name of ["dragenter", "dragover"]) {
  zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
}
zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("dragging");
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) submit(file);
});
// A file dropped beside the zone must not make the browser navigate away to it.
for (const name of ["dragover", "drop"]) window.addEventListener(name, (event) => event.preventDefault());

$("file-input").addEventListener("change", (event) => {
  const file = event.target.files[0];
  event.target.value = ""; // choosing the same file again is a new job
  if (file) submit(file);
});

// --- a job: submit, follow, show ---

async function submit(file) {
  const run = ++state.run;
  state.stem = file.name.replace(/\.[^.]+$/, "") || "document";
  $("result").hidden = true;
  $("pages").replaceChildren();
  state.images.splice(0).forEach((url) => URL.revokeObjectURL(url)); // the previous document's pages
  $("job").hidden = false;
  $("job-error").hidden = true;
  $("job-title").textContent = file.name;
  const progress = $("progress");
  progress.removeAttribute("value"); // indeterminate until the page count is known
  setLabel(`Sending ${formatBytes(file.size)}`);
  try {
    const accepted = await (await api("/jobs", {
      method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    })).json();
    state.jobId = accepted.job_id;
    const status = await follow(accepted.job_id, run);
    if (status === null) return; // a newer document replaced this one
    const result = await (await api(`${jobPath(accepted.job_id)}/result?format=json`)).json();
    if (run === state.run) showResult(result);
  } catch (error) {
    if (run !== state.run) return;
    showError(error instanceof ApiError ? error.plain : `The page failed: ${error.message}`);
  }
}

function jobPath(id) {
  return `/jobs/${encodeURIComponent(id)}`;
}

async function follow(id, run) {
  let delay = 300;
  for (;;) {
    const status = await (await api(jobPath(id))).json();
    if (run !== state.run) return null;
    showProgress(status);
    if (status.status === "done") return status;
    if (status.status === "failed") {
      const error = typeof status.error === "object" && status.error ? status.error : { message: status.error };
      throw new ApiError(422, error.code || "failed", error.message || "the job failed");
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 2000);
  }
}

function showProgress(status) {
  const progress = $("progress");
  const total = status.pages_total || 0;
  if (!total) {
    setLabel(status.status === "queued" ? "Queued" : "Counting pages");
    return;
  }
  progress.max = total;
  progress.value = status.pages_done || 0;
  const failed = status.pages_failed ? `, ${status.pages_failed} failed` : "";
  const word = { queued: "Queued", running: "Reading", done: "Done" }[status.status] || status.status;
  setLabel(`${word}: ${status.pages_done || 0} of ${total} page${total === 1 ? "" : "s"}${failed}`);
}

function setLabel(text) {
  $("progress-label").textContent = text;
}

function showError(message) {
  const box = $("job-error");
  box.textContent = message;
  box.hidden = false;
  const progress = $("progress");
  if (!progress.hasAttribute("value")) progress.value = 0;
  setLabel("Stopped");
}

function showResult(result) {
  const meta = $("result-meta");
  meta.replaceChildren();
  const facts = [["Engine", result.engine], ["Model", result.model], ["Revision", result.revision],
    ["Pages", result.page_count ?? result.pages.length]];
  if (result.failed_pages && result.failed_pages.length) facts.push(["Failed pages", result.failed_pages.join(", ")]);
  for (const [term, value] of facts) {
    if (value === undefined || value === null || value === "") continue;
    const item = document.createElement("div");
    item.append(element("dt", term), element("dd", String(value)));
    meta.append(item);
  }
  const list = $("pages");
  list.replaceChildren(...result.pages.map(pageView));
  $("result").hidden = false;
  watchImages(list);
}

function element(name, text, className) {
  const node = document.createElement(name);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function pageView(page) {
  const item = element("li", undefined, "page");
  item.id = `page-${page.number}`;
  item.dataset.number = page.number;

  const figure = element("figure", undefined, "page-image");
  const image = element("img");
  image.alt = `Image of page ${page.number}`;
  figure.append(image, element("figcaption", `Page ${page.number}`));

  const text = element("div", undefined, "page-text");
  text.append(running("Running header", page.header, "header"));
  const rendered = element("div", undefined, "rendered");
  rendered.append(renderMarkdown(page.text || ""));
  text.append(rendered, element("pre", page.text || "", "raw"));
  if (page.error) text.append(element("p", `This page could not be read: ${page.error}`, "error"));
  text.append(running("Running footer", page.footer, "footer"));
  item.append(figure, text);
  return item;
}

function running(label, lines, kind) {
  const box = element("div", undefined, `running ${kind}`);
  if (!lines || !lines.length) {
    box.hidden = true;
    return box;
  }
  box.append(element("span", label, "running-label"));
  for (const line of lines) box.append(element("span", line, "running-line"));
  return box;
}

// Page images are fetched (with the token, which an <img src> could not send) as they scroll near.
function watchImages(list) {
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      loadImage(entry.target);
    }
  }, { rootMargin: "600px 0px" });
  for (const item of list.children) observer.observe(item);
}

async function loadImage(item) {
  const image = item.querySelector("img");
  const jobId = state.jobId;
  try {
    const blob = await (await api(`${jobPath(jobId)}/pages/${item.dataset.number}.png`)).blob();
    if (jobId !== state.jobId) return;
    image.src = URL.createObjectURL(blob);
    state.images.push(image.src);
  } catch (error) {
    item.querySelector("figcaption").textContent =
      `Page ${item.dataset.number}: image not available. ${error instanceof ApiError ? error.plain : error.message}`;
  }
}

$("raw-toggle").addEventListener("click", (event) => {
  const raw = event.currentTarget.getAttribute("aria-pressed") !== "true";
  event.currentTarget.setAttribute("aria-pressed", String(raw));
  event.currentTarget.textContent = raw ? "Show rendered markdown" : "Show raw markdown";
  $("pages").classList.toggle("raw-mode", raw);
});

for (const button of document.querySelectorAll("[data-format]")) {
  button.addEventListener("click", () => download(button.dataset.format, button));
}

async function download(format, button) {
  button.disabled = true;
  try {
    const blob = await (await api(`${jobPath(state.jobId)}/result?format=${format}`)).blob();
    const link = element("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${state.stem}.${EXTENSIONS[format]}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (error) {
    showError(error instanceof ApiError ? error.plain : error.message);
    $("job").hidden = false;
  } finally {
    button.disabled = false;
  }
}

function formatBytes(size) {
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

// --- start: does the service want a token? ---

(async () => {
  try {
    state.config = await (await fetch("/ui/config.json", { cache: "no-store" })).json();
  } catch {
    state.config = { token_required: false };
  }
  document.body.dataset.ready = "true"; // tests wait for this
  if (state.config.token_required && !state.token) askForToken();
})();
