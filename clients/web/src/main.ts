/**
 * The try-it page: lists the functions, builds each one's parameter form from its JSON Schema,
 * starts generations over the canvas WebSocket with the TypeScript client, and follows them live.
 * Generations started here are remembered in localStorage and followed again after a reload.
 *
 * The server wants an API key: the page takes it from a `#key=…` link (which it then removes from
 * the address bar), or from the "API key" field, keeps it in localStorage (`tempera.apiKey`) and
 * (re)creates the client with it. A refused or missing key is said plainly, with where to get one.
 */
import {
  TaskFailedError,
  TemperaApiError,
  TemperaClient,
  type FunctionInfo,
  type GenerationHandle,
  type Tier,
  type TierDetails,
} from "../../typescript/src/index.js";
import { describeIdentity, isUnauthenticated, keyProblem, readStoredKey, storeKey, takeKeyFromFragment } from "./auth.js";
import { $, el } from "./dom.js";
import { buildForm, type ParameterForm } from "./form.js";
import { RunCard, type RunInfo } from "./run.js";
import "./style.css";

const STORAGE_KEY = "tempera.try-it.runs";
const MAX_REMEMBERED = 20;

let apiKey: string | undefined;
let client: TemperaClient;
/** True once the person typed a project: the key's project then no longer replaces it. */
let projectEdited = false;
let functions: FunctionInfo[] = [];
let selected: FunctionInfo | undefined;
let form: ParameterForm | undefined;
let tier: Tier = "standard";
let nodeCounter = 0;
const cards = new Map<string, RunCard>();

/** localStorage, or undefined where it is disabled (the key then lives in memory only). */
function storage(): Storage | undefined {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
}

/** Takes a `#key=…` from the address into storage and out of the address bar. */
function takeKeyFromAddress(): string | undefined {
  const taken = takeKeyFromFragment(location.hash);
  if (!location.hash || taken.hash === location.hash) return undefined;
  history.replaceState(history.state, "", `${location.pathname}${location.search}${taken.hash}`);
  if (taken.key) storeKey(storage(), taken.key);
  return taken.key;
}

/** A client for `key`, its connection state, identity and errors shown on the page while it is the current one. */
function createClient(key: string | undefined): TemperaClient {
  const next = new TemperaClient({ baseUrl: location.origin, apiKey: key });
  next.onConnectionState((state) => {
    if (client !== next) return;
    const conn = $("connection");
    conn.dataset.state = state;
    conn.querySelector(".label")!.textContent = state === "open" ? "live" : state;
  });
  next.onIdentity((identity) => {
    if (client !== next) return;
    $("key-identity").textContent = describeIdentity(identity);
    // the key's own project, unless the person chose one
    const project = $("project") as HTMLInputElement;
    if (identity.projectId && !projectEdited) project.value = identity.projectId;
  });
  next.onError((error) => {
    if (client !== next) return;
    if (isUnauthenticated(error)) showKeyError(error);
    console.warn("tempera:", error);
  });
  return next;
}

/** (Re)starts the page with `key`: a new client, the functions and the remembered generations again. */
function useKey(key: string | undefined): void {
  apiKey = key || undefined;
  ($("api-key") as HTMLInputElement).value = apiKey ?? "";
  $("key-identity").textContent = "";
  hideKeyError();
  const previous = client;
  client = createClient(apiKey);
  if (previous) {
    previous.close();
    for (const card of cards.values()) card.element.remove();
    cards.clear();
    $("runs").replaceChildren(el("p", { class: "muted empty" }, "Nothing yet: start a generation."));
    $("function-list").replaceChildren(el("li", { class: "muted" }, "Loading…"));
  }
  void load();
}

function showKeyError(error: unknown): void {
  const box = $("key-error");
  box.textContent = keyProblem(error, apiKey !== undefined);
  box.dataset.code = "UNAUTHENTICATED";
  box.hidden = false;
  $("key-form").classList.add("missing");
}

function hideKeyError(): void {
  const box = $("key-error");
  box.hidden = true;
  box.textContent = "";
  delete box.dataset.code;
  $("key-form").classList.remove("missing");
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ($("api-key") as HTMLInputElement).value.trim() || undefined;
  storeKey(storage(), key);
  useKey(key);
});

// a #key=… link opened in this tab while the page is open
window.addEventListener("hashchange", () => {
  const key = takeKeyFromAddress();
  if (key) useKey(key);
});

$("project").addEventListener("input", () => (projectEdited = true));

async function load(): Promise<void> {
  const list = $("function-list");
  const current = client;
  let listed: FunctionInfo[];
  try {
    listed = await current.listFunctions();
  } catch (error) {
    if (client !== current) return;
    if (isUnauthenticated(error)) {
      showKeyError(error);
      list.replaceChildren(el("li", { class: "alert error", "data-code": "UNAUTHENTICATED" }, "No functions without an API key: enter it above."));
      ($("api-key") as HTMLInputElement).focus();
      return;
    }
    list.replaceChildren(el("li", { class: "alert error" }, `Could not load the functions: ${message(error)}`));
    return;
  }
  if (client !== current) return;
  functions = listed;
  functions.sort((a, b) => a.category.localeCompare(b.category) || a.displayName.localeCompare(b.displayName));
  list.replaceChildren(
    ...functions.map((fn) => {
      const button = el(
        "button",
        { type: "button", class: "fn", "data-testid": `function-${fn.id}`, "data-function": fn.id },
        el("span", { class: "name" }, fn.displayName),
        el("span", { class: "muted small" }, `${fn.category} · ${fn.backend} · v${fn.version}`),
      );
      button.addEventListener("click", () => select(fn.id));
      return el("li", {}, button);
    }),
  );
  if (functions.length === 0) list.replaceChildren(el("li", { class: "muted" }, "No functions: add a template under templates/."));
  const wanted = new URLSearchParams(location.search).get("function");
  const first = functions.find((f) => f.id === wanted) ?? functions.find((f) => f.id === "generate-pattern") ?? functions[0];
  if (first) select(first.id);
  resumeRemembered();
}

function select(id: string): void {
  const fn = functions.find((f) => f.id === id);
  if (!fn) return;
  selected = fn;
  for (const button of document.querySelectorAll<HTMLElement>(".fn")) {
    button.classList.toggle("selected", button.dataset.function === id);
    button.setAttribute("aria-pressed", String(button.dataset.function === id));
  }
  $("function-title").textContent = fn.displayName;
  $("function-description").textContent = fn.description;
  renderTiers(fn);
  form = buildForm(fn, $("fields"), {
    upload: (file) =>
      client.uploadImage(projectId(), file, file.name).catch((error: unknown) => {
        if (isUnauthenticated(error)) showKeyError(error);
        throw error;
      }),
  });
  hideFormError();
}

function renderTiers(fn: FunctionInfo): void {
  const tiers = $("tiers");
  if (!fn.tiers.includes(tier)) tier = fn.tiers.includes("standard") ? "standard" : (fn.tiers[0] ?? "standard");
  tiers.replaceChildren(
    ...fn.tiers.map((t) => {
      const input = el("input", { type: "radio", name: "tier", value: t, id: `tier-${t}`, "data-testid": `tier-${t}` }) as HTMLInputElement;
      input.checked = t === tier;
      input.addEventListener("change", () => (tier = t));
      const details = tierSummary(fn.tierDetails?.[t]);
      return el("label", { for: `tier-${t}`, class: "tier", title: details || t }, input, el("span", {}, t), details ? el("small", {}, details) : "");
    }),
  );
}

function tierSummary(d: TierDetails | undefined): string {
  if (!d) return "";
  const parts: string[] = [];
  if (d.resolution) parts.push(`${d.resolution} px`);
  if (d.steps) parts.push(`${d.steps} steps`);
  if (d.sampler) parts.push(d.sampler);
  return parts.join(" · ");
}

$("generation-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void start();
});

async function start(): Promise<void> {
  if (!selected || !form) return;
  const fn = selected;
  const button = $("start") as HTMLButtonElement;
  button.disabled = true;
  hideFormError();
  form.clearProblems();
  try {
    const parameters = await form.collect();
    const handle = await client.startGeneration({
      functionId: fn.id,
      tier,
      parameters,
      projectId: projectId(),
      nodeId: `try-it-${Date.now().toString(36)}-${++nodeCounter}`,
    });
    const info: RunInfo = { taskId: handle.taskId, functionId: fn.id, title: fn.displayName, tier, startedAt: Date.now() };
    remember(info);
    show(info, handle);
  } catch (error) {
    if (isUnauthenticated(error)) {
      showKeyError(error);
      showFormError("UNAUTHENTICATED", keyProblem(error, apiKey !== undefined), []);
    } else if (error instanceof TemperaApiError) {
      const rest = form.showProblems(error.problems ?? []);
      showFormError(error.code, error.message, rest.map((p) => `${p.field}: ${p.message}`));
    } else {
      showFormError("ERROR", message(error), []);
    }
  } finally {
    button.disabled = false;
  }
}

/** Puts a card on the page and follows the task until it ends. */
function show(info: RunInfo, handle: GenerationHandle): void {
  $("runs").querySelector(".empty")?.remove();
  const card = new RunCard(client, info, () => handle.cancel());
  const owner = client;
  cards.set(info.taskId, card);
  $("runs").prepend(card.element);
  void (async () => {
    try {
      for await (const event of handle) card.apply(event);
    } catch (error) {
      if (error instanceof TaskFailedError) return; // shown from the task_failed event
      if (client !== owner || cards.get(info.taskId) !== card) return; // the page moved on to another key
      if (isUnauthenticated(error)) {
        showKeyError(error);
        card.lost(keyProblem(error, apiKey !== undefined));
        return;
      }
      if (error instanceof TemperaApiError && error.code === "NOT_FOUND") {
        // remembered from an earlier server run that no longer knows it
        forget(info.taskId);
        card.element.remove();
        cards.delete(info.taskId);
        return;
      }
      card.lost(`Lost track of this generation: ${message(error)}`);
    }
  })();
}

function resumeRemembered(): void {
  const runs = recall();
  for (const info of runs.slice().reverse()) {
    if (cards.has(info.taskId)) continue;
    show(info, client.follow(info.taskId));
  }
}

$("clear").addEventListener("click", () => {
  for (const [taskId, card] of cards) {
    if (!card.finished) continue;
    card.element.remove();
    cards.delete(taskId);
    forget(taskId);
  }
  if (cards.size === 0) $("runs").replaceChildren(el("p", { class: "muted empty" }, "Nothing yet: start a generation."));
});

function projectId(): string {
  return ($("project") as HTMLInputElement).value.trim() || "demo";
}

function showFormError(code: string, text: string, details: string[]): void {
  const box = $("form-error");
  box.replaceChildren(el("strong", {}, code), " ", text);
  if (details.length) box.append(el("ul", {}, ...details.map((d) => el("li", {}, d))));
  box.dataset.code = code;
  box.hidden = false;
}

function hideFormError(): void {
  const box = $("form-error");
  box.hidden = true;
  box.replaceChildren();
  delete box.dataset.code;
}

function recall(): RunInfo[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "[]");
    return Array.isArray(value) ? (value as RunInfo[]).filter((r) => typeof r?.taskId === "string") : [];
  } catch {
    return [];
  }
}

function remember(info: RunInfo): void {
  const runs = [info, ...recall().filter((r) => r.taskId !== info.taskId)].slice(0, MAX_REMEMBERED);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(runs));
  } catch {
    // storage full or disabled: the page works without it
  }
}

function forget(taskId: string): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(recall().filter((r) => r.taskId !== taskId)));
  } catch {
    // as above
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

useKey(takeKeyFromAddress() ?? readStoredKey(storage()));
