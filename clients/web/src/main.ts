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
  type SystemInfo,
  type Tier,
  type TierDetails,
} from "../../typescript/src/index.js";
import { describeIdentity, isUnauthenticated, keyProblem, readStoredKey, storeKey, takeKeyFromFragment } from "./auth.js";
import { $, el } from "./dom.js";
import { buildForm, humanise, type ParameterForm } from "./form.js";
import { History } from "./history.js";
import { RunCard, type RunActions, type RunInfo } from "./run.js";
import { BatchPanel } from "./batch.js";
import { batchVariation, type BatchVariation } from "./seed.js";
import { applyTheme, nextTheme, readTheme, storeTheme } from "./theme.js";
import { checkBatchCount } from "./validate.js";
import "./style.css";

const STORAGE_KEY = "tempera.try-it.runs";
const MAX_REMEMBERED = 20;
/** The batches started here, per project (followed again after a reload). */
const BATCHES_KEY = "tempera.try-it.batches";
const MAX_REMEMBERED_BATCHES = 10;

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
/** The key's identity: operators see why a function is unavailable. */
let operator = false;
let connectionState = "idle";
const MAX_BATCH = 8;
/** How often a batch's progress is read (GET /api/batches/{id}). */
const BATCH_POLL_MS = 1000;

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
    connectionState = state;
    showConnection();
  });
  next.onIdentity((identity) => {
    if (client !== next) return;
    $("key-identity").textContent = describeIdentity(identity);
    const wasOperator = operator;
    operator = identity.role === "operator" || identity.projectId === null;
    if (operator !== wasOperator) void loadUnavailable();
    // the key's own project, unless the person chose one
    const project = $("project") as HTMLInputElement;
    if (identity.projectId && !projectEdited && project.value !== identity.projectId) {
      project.value = identity.projectId;
      resumeBatches();
    }
  });
  next.onError((error) => {
    if (client !== next) return;
    if (isUnauthenticated(error)) showKeyError(error);
    console.warn("tempera:", error);
  });
  return next;
}

const CONNECTION_LABEL: Record<string, string> = {
  idle: "idle",
  connecting: "connecting…",
  open: "live",
  reconnecting: "reconnecting…",
  closed: "disconnected",
  offline: "offline: waiting for the network",
};

/** The connection dot: live, connecting, reconnecting, or offline (the browser has no network). */
function showConnection(): void {
  const state = navigator.onLine ? connectionState : "offline";
  const conn = $("connection");
  conn.dataset.state = state;
  conn.querySelector(".label")!.textContent = CONNECTION_LABEL[state] ?? state;
  conn.title = state === "offline" ? "The browser is offline: updates resume when the network is back" : `Live updates: ${CONNECTION_LABEL[state] ?? state}`;
}

window.addEventListener("offline", showConnection);
window.addEventListener("online", () => {
  // the client reconnects with its backoff; say so until it is open again
  if (connectionState !== "open") connectionState = "reconnecting";
  showConnection();
  past?.refresh();
});

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
    for (const card of cards.values()) {
      card.dispose();
      card.element.remove();
    }
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
  void loadUnavailable();
  void loadSystem();
  past?.refresh();
  const wanted = new URLSearchParams(location.search).get("function");
  const first = functions.find((f) => f.id === wanted) ?? functions.find((f) => f.id === "generate-pattern") ?? functions[0];
  if (first) select(first.id);
  resumeRemembered();
}

/**
 * Says so, calmly, when the server runs on the in-process Temporal test server (`GET /api/system`:
 * not durable): generations still running when it restarts are lost there.
 */
async function loadSystem(): Promise<void> {
  const current = client;
  const note = $("system-note");
  let system: SystemInfo;
  try {
    system = await current.system();
  } catch {
    return; // a server before 0.2, or a passing failure: nothing to say
  }
  if (client !== current) return;
  note.dataset.temporal = system.temporal;
  note.hidden = system.durable;
  note.textContent = system.durable
    ? ""
    : "This server runs on Temporal's in-process test server: a generation still running when the server " +
      "restarts is lost (finished ones stay in the history). ./tempera run keeps them on the Temporal dev server.";
}

interface UnavailableFunction {
  id: string;
  displayName: string;
  problems: { reason: string }[];
}

/**
 * The functions this server cannot run (their backend lacks what they need): listed greyed out, so
 * nobody wonders where they went; why, only for operators (it names servers and files).
 */
async function loadUnavailable(): Promise<void> {
  const current = client;
  let unavailable: UnavailableFunction[];
  try {
    unavailable = await api<UnavailableFunction[]>("/api/functions/unavailable");
  } catch {
    return; // the available ones are listed; these are extra
  }
  if (client !== current) return;
  const list = $("function-list");
  list.querySelector(".unavailable-group")?.remove();
  const shown = unavailable.filter((u) => !functions.some((f) => f.id === u.id));
  if (shown.length === 0) return;
  list.append(
    el(
      "li",
      { class: "unavailable-group" },
      el("details", { "data-testid": "unavailable-functions" },
        el("summary", { class: "muted small" }, `Unavailable here (${shown.length})`),
        el("ul", {}, ...shown.map((u) =>
          el(
            "li",
            { class: "unavailable", "data-testid": `unavailable-${u.id}` },
            el("span", { class: "name" }, u.displayName),
            el("span", { class: "muted small" }, operator && u.problems[0] ? u.problems[0].reason : "not set up on this server"),
          ),
        )),
      ),
    ),
  );
}

/** A GET on the API with the page's key (for the routes the client has no function for). */
async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, {
    ...init,
    headers: { accept: "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
  });
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const error = body as { code?: string; message?: string } | undefined;
    throw new TemperaApiError({ status: response.status, code: error?.code ?? "HTTP_" + response.status, message: error?.message ?? response.statusText });
  }
  return body as T;
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
  $("generation-form").dataset.function = fn.id;
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
  hideFormError();
  form.clearProblems();
  const batchInput = $("batch") as HTMLInputElement;
  const batch = checkBatchCount(batchInput.value, MAX_BATCH);
  $("batch-problem").textContent = batch.ok ? "" : batch.message;
  batchInput.toggleAttribute("aria-invalid", !batch.ok);
  const { parameters, problems } = await form.collect();
  if (problems.length || !batch.ok) {
    // said at the fields; nothing is sent
    showFormError("INVALID_VALUES", "Check the marked fields: nothing was started.", []);
    (document.querySelector<HTMLElement>(".field.invalid input, .field.invalid select") ?? batchInput).focus();
    return;
  }
  button.disabled = true;
  const count = batch.value ?? 1;
  const seeds = form.seed ? form.seed.take(count) : Array.from({ length: count }, () => undefined);
  const inputs = form.shownImages();
  try {
    const variation = batchVariation(form.seed?.name, seeds);
    if (variation) {
      await startBatch(fn, parameters, variation, inputs);
      return;
    }
    for (const seed of seeds) {
      const withSeed = form.seed && seed !== undefined ? { ...parameters, [form.seed.name]: seed } : parameters;
      const nodeId = `try-it-${Date.now().toString(36)}-${++nodeCounter}`;
      const handle = await client.startGeneration({ functionId: fn.id, tier, parameters: withSeed, projectId: projectId(), nodeId });
      const info: RunInfo = { taskId: handle.taskId, functionId: fn.id, title: fn.displayName, tier, startedAt: Date.now(), nodeId, inputs };
      remember(info);
      show(info, handle);
    }
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

/**
 * "How many" > 1 with something that varies: one batch (`count` new seeds, or a `sweep` of the seeds
 * the vary mode gave). Its panel shows x of N done and Cancel all; each variation gets its card once it
 * started, followed live as a single generation is.
 */
async function startBatch(fn: FunctionInfo, parameters: Record<string, unknown>, variation: BatchVariation, inputs: Record<string, string>): Promise<void> {
  const nodeId = `try-it-${Date.now().toString(36)}-${++nodeCounter}`;
  const owner = client;
  const project = projectId();
  const accepted = await owner.startBatch({ functionId: fn.id, tier, parameters, projectId: project, nodeId, ...variation });
  const info: BatchInfo = { id: accepted.id, projectId: project, functionId: fn.id, title: fn.displayName, total: accepted.total, tier, nodeId, startedAt: Date.now(), inputs };
  rememberBatch(info);
  showBatch(info, owner);
}

/**
 * A batch's panel, followed until it ends: its progress read every BATCH_POLL_MS (GET /api/batches/{id}),
 * each variation's card once it started. A batch the server no longer knows (404) is forgotten.
 */
function showBatch(info: BatchInfo, owner: TemperaClient): void {
  if (document.querySelector(`[data-testid="batch-run"][data-batch-id="${CSS.escape(info.id)}"]`)) return;
  let wake: (() => void) | undefined;
  const panel = new BatchPanel(info.id, info.title, info.total, async () => {
    panel.update(await owner.cancelBatch(info.id));
    wake?.();
  });
  $("runs").querySelector(".empty")?.remove();
  $("runs").prepend(panel.element);
  const shown = new Set<string>();
  void (async () => {
    for (;;) {
      if (client !== owner) return; // the page moved on to another key
      try {
        const batch = await owner.batch(info.id, { limit: 500 });
        panel.update(batch);
        for (const item of batch.results.items) {
          // a variation that never started (waiting, or cancelled before it did) has no generation to show
          if (item.status === "WAITING" || shown.has(item.generationId)) continue;
          if (item.status === "CANCELLED" && !item.outputs?.length) continue;
          shown.add(item.generationId);
          if (cards.has(item.generationId)) continue;
          const run: RunInfo = { taskId: item.generationId, functionId: info.functionId, title: `${info.title} · ${item.index + 1} of ${batch.progress.total}`, tier: info.tier, startedAt: info.startedAt, nodeId: info.nodeId, inputs: info.inputs, ...(info.unkeptInputs ? { unkeptInputs: info.unkeptInputs } : {}) };
          show(run, owner.follow(item.generationId), panel.variations);
        }
        if (panel.finished) return;
      } catch (error) {
        if (isUnauthenticated(error)) showKeyError(error);
        if (error instanceof TemperaApiError && error.status === 404) {
          // remembered from an earlier server run that no longer knows it
          forgetBatch(info);
          panel.element.remove();
          return;
        }
        if (error instanceof TemperaApiError && error.status !== undefined && error.status < 500 && error.status !== 429) {
          panel.lost(`Lost track of this batch: ${message(error)}`);
          return;
        }
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, BATCH_POLL_MS);
      });
    }
  })();
}

/** What a result's buttons do: use an output as another function's input, or make it again. */
const actions: RunActions = {
  useAsInput(path, url, name) {
    const takers = functions.filter((f) => Object.values(f.parameterSchema.properties ?? {}).some((p) => p.format === "project-file"));
    const dialog = $("use-dialog") as HTMLDialogElement;
    $("use-dialog-name").textContent = name;
    $("use-dialog-list").replaceChildren(
      ...takers.map((f) => {
        const button = el("button", { type: "button", class: "fn", "data-testid": `use-in-${f.id}` }, el("span", { class: "name" }, f.displayName), el("span", { class: "muted small" }, f.description.slice(0, 80)));
        button.addEventListener("click", () => {
          dialog.close();
          select(f.id);
          const param = form?.imageParameters()[0];
          if (param) form!.setImage(param, path, url);
          document.querySelector<HTMLElement>(`[data-param="${param}"] input`)?.focus();
          setTab("live");
        });
        return el("li", {}, button);
      }),
    );
    if (takers.length === 0) $("use-dialog-list").replaceChildren(el("li", { class: "muted" }, "No function here takes an image."));
    dialog.showModal();
  },
  reproduce(functionId, parameters, runTier) {
    select(functionId);
    if (runTier && selected?.tiers.includes(runTier as Tier)) {
      tier = runTier as Tier;
      renderTiers(selected);
    }
    form?.setValues(parameters);
    ($("start") as HTMLButtonElement).focus();
  },
};

/** Puts a card on the page and follows the task until it ends. */
function show(info: RunInfo, handle: GenerationHandle, container: HTMLElement = $("runs")): void {
  $("runs").querySelector(".empty")?.remove();
  const card = new RunCard(client, info, () => handle.cancel(), actions);
  const owner = client;
  cards.set(info.taskId, card);
  container.prepend(card.element);
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
  resumeBatches();
}

/** The batches started from this page in the current project, followed again (their cards inside). */
function resumeBatches(): void {
  for (const info of recallBatches(projectId()).slice().reverse()) showBatch(info, client);
}

$("clear").addEventListener("click", () => {
  for (const [taskId, card] of cards) {
    if (!card.finished) continue;
    card.dispose();
    card.element.remove();
    cards.delete(taskId);
    forget(taskId);
  }
  for (const panel of document.querySelectorAll<HTMLElement>('[data-testid="batch-run"]')) {
    if (panel.dataset.status === "RUNNING" || panel.querySelector('[data-testid="run"]')) continue;
    forgetBatch({ id: panel.dataset.batchId!, projectId: projectId() });
    panel.remove();
  }
  if (cards.size === 0 && !document.querySelector('[data-testid="batch-run"]')) $("runs").replaceChildren(el("p", { class: "muted empty" }, "Nothing yet: start a generation."));
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

/** The inputs worth keeping for a comparison after a reload, and the parameters whose input is not. */
function keptInputs(inputs: Record<string, string> | undefined): Pick<RunInfo, "inputs" | "unkeptInputs"> {
  // an uploaded input shows from a blob: URL, which dies with the page: not kept (after a reload the
  // card compares with the upload read back from the server, the URL the generation's inputs give)
  const all = Object.entries(inputs ?? {});
  const unkept = all.filter(([, url]) => url.startsWith("blob:")).map(([name]) => name);
  return { inputs: Object.fromEntries(all.filter(([, url]) => !url.startsWith("blob:"))), ...(unkept.length ? { unkeptInputs: unkept } : {}) };
}

function remember(info: RunInfo): void {
  const kept: RunInfo = { ...info, ...keptInputs(info.inputs) };
  const runs = [kept, ...recall().filter((r) => r.taskId !== info.taskId)].slice(0, MAX_REMEMBERED);
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

/** A batch started from this page: enough to show its panel again after a reload. */
interface BatchInfo {
  id: string;
  projectId: string;
  functionId: string;
  title: string;
  total: number;
  tier: string;
  nodeId: string;
  startedAt: number;
  inputs: Record<string, string>;
  unkeptInputs?: string[];
}

/** The batches remembered for `project`, newest first (`tempera.try-it.batches`: per project). */
function recallBatches(project: string): BatchInfo[] {
  const all = readBatches();
  const list = all[project];
  return Array.isArray(list) ? list.filter((b) => typeof b?.id === "string" && typeof b.total === "number") : [];
}

function readBatches(): Record<string, BatchInfo[]> {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(BATCHES_KEY) ?? "{}");
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, BatchInfo[]>) : {};
  } catch {
    return {};
  }
}

function writeBatches(all: Record<string, BatchInfo[]>): void {
  try {
    localStorage.setItem(BATCHES_KEY, JSON.stringify(all));
  } catch {
    // storage full or disabled: the page works without it
  }
}

function rememberBatch(info: BatchInfo): void {
  const all = readBatches();
  const kept: BatchInfo = { ...info, ...keptInputs(info.inputs) } as BatchInfo;
  all[info.projectId] = [kept, ...recallBatches(info.projectId).filter((b) => b.id !== info.id)].slice(0, MAX_REMEMBERED_BATCHES);
  writeBatches(all);
}

function forgetBatch(info: Pick<BatchInfo, "id" | "projectId">): void {
  const all = readBatches();
  all[info.projectId] = recallBatches(info.projectId).filter((b) => b.id !== info.id);
  if (all[info.projectId]!.length === 0) delete all[info.projectId];
  writeBatches(all);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// an image dropped anywhere on the form, or pasted anywhere on the page: into the first image parameter
$("generation-form").addEventListener("dragover", (event) => {
  if (form?.imageParameters().length && event.dataTransfer?.types.includes("Files")) event.preventDefault();
});
$("generation-form").addEventListener("drop", (event) => {
  const file = [...(event.dataTransfer?.files ?? [])].find((f) => f.type.startsWith("image/"));
  if (!file || !form?.acceptFile(file)) return;
  event.preventDefault();
});
document.addEventListener("paste", (event) => {
  const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
  if (!file || !form) return;
  if (form.acceptFile(file)) event.preventDefault();
  else showFormError("NO_IMAGE_PARAMETER", `${selected?.displayName ?? "This function"} takes no image: choose one that does to paste an image.`, []);
});

// dark mode: the system's choice, or the one picked here
let theme = readTheme(storage());
applyTheme(document.documentElement, theme, $("theme"));
$("theme").addEventListener("click", () => {
  theme = nextTheme(theme);
  storeTheme(storage(), theme);
  applyTheme(document.documentElement, theme, $("theme"));
});

// the panel's tabs: live generations, the project's history, its gallery (arrow keys move between them)
const TABS = ["live", "history", "gallery"] as const;
type Tab = (typeof TABS)[number];
function setTab(tab: Tab): void {
  for (const t of TABS) {
    const button = $(`tab-${t}`);
    const on = t === tab;
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    $(`panel-${t}`).hidden = !on;
  }
  if (tab === "history") past?.showHistory();
  if (tab === "gallery") past?.showGallery();
}
for (const t of TABS) {
  $(`tab-${t}`).addEventListener("click", () => setTab(t));
  $(`tab-${t}`).addEventListener("keydown", (event) => {
    const i = TABS.indexOf(t);
    const next = event.key === "ArrowRight" ? TABS[(i + 1) % TABS.length] : event.key === "ArrowLeft" ? TABS[(i + TABS.length - 1) % TABS.length] : undefined;
    if (!next) return;
    event.preventDefault();
    setTab(next);
    $(`tab-${next}`).focus();
  });
}

const past: History | undefined = new History({
  api,
  project: () => projectId(),
  outputUrl: (url) => client.outputUrl(url),
  actions,
  history: $("panel-history"),
  gallery: $("panel-gallery"),
  functionName: (id) => functions.find((f) => f.id === id)?.displayName ?? humanise(id),
});

showConnection();
useKey(takeKeyFromAddress() ?? readStoredKey(storage()));
