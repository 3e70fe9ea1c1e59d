/** One generation on the page: status, progress bar, ETA, queue position, preview, outputs, values, errors. */
import type {
  Generation,
  GenerationEvent,
  GenerationStatus,
  Output,
  OutputValue,
  TaskFailed,
  TaskProgress,
  TaskSuccess,
  TemperaClient,
  UploadedInput,
} from "../../typescript/src/index.js";
import { duration, el, size } from "./dom.js";
import { describeWaiting, EtaSmoother, waitingFor } from "./eta.js";
import { describeValue, finishedText } from "./values.js";

export interface RunInfo {
  taskId: string;
  functionId: string;
  title: string;
  tier?: string;
  startedAt: number;
  /** The node id it was started with: its outputs are the project's files under outputs/renders/{nodeId}/. */
  nodeId?: string;
  /** The images its image parameters showed when it started (for the before/after comparison). */
  inputs?: Record<string, string>;
  /**
   * Image parameters whose input was uploaded from this page: shown from the page's memory (a blob:
   * URL, which dies with the page), so after a reload the comparison reads the upload back from the
   * server (the generation's `inputs` give a fresh signed URL).
   */
  unkeptInputs?: string[];
}

/** What a card offers to do with a result. */
export interface RunActions {
  /** Puts an output into another function's image parameter. */
  useAsInput(path: string, url: string, name: string): void;
  /** Fills the form with a generation's parameters, its seed fixed, to make it again. */
  reproduce(functionId: string, parameters: Record<string, unknown>, tier: string | undefined): void;
}

/** The project path of an output, which an image parameter takes. */
export function outputPath(nodeId: string, name: string): string {
  return `outputs/renders/${nodeId}/${name}`;
}

const STATUS_LABEL: Record<string, string> = {
  QUEUED: "Queued",
  RUNNING: "Running",
  SUCCEEDED: "Done",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

export class RunCard {
  readonly element: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly percent: HTMLElement;
  private readonly message: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly preview: HTMLImageElement;
  private readonly outputs: HTMLElement;
  private readonly values: HTMLElement;
  private readonly notes: HTMLElement;
  private readonly cancelButton: HTMLButtonElement;
  private status: GenerationStatus = "QUEUED";
  /** The phase and step last shown: updates without a step (e.g. a new preview) keep them. */
  private phase: string | undefined;
  private step: { step: number; totalSteps: number; message: string } | undefined;
  private lastPreview: string | undefined;
  private readonly eta = new EtaSmoother();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private lastMeta: MetaValues = {};
  private readonly seedLine: HTMLElement;
  /** Its uploaded inputs as the server lists them (parameter → URL reading it back); undefined until known. */
  private uploaded: Record<string, string> | undefined;
  /** The outputs shown, to show them again once the uploaded inputs are known. */
  private shownOutputs: Output[] | undefined;

  constructor(
    private readonly client: TemperaClient,
    readonly info: RunInfo,
    onCancel: () => Promise<unknown>,
    private readonly actions?: RunActions,
  ) {
    this.badge = el("span", { class: "badge", "data-testid": "run-status" }, "Queued");
    this.cancelButton = el("button", { type: "button", class: "secondary small", "data-testid": "run-cancel" }, "Cancel") as HTMLButtonElement;
    this.cancelButton.addEventListener("click", () => {
      this.cancelButton.disabled = true;
      this.cancelButton.textContent = "Cancelling…";
      onCancel().catch((error: unknown) => {
        this.cancelButton.disabled = false;
        this.cancelButton.textContent = "Cancel";
        this.note("error", `Cancel failed: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
    this.fill = el("div", { class: "fill" });
    this.bar = el("div", { class: "bar", role: "progressbar", "aria-label": `Progress of ${info.title}`, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0", "data-testid": "run-progress", "data-progress": "0" }, this.fill);
    this.percent = el("span", { class: "percent" }, "0%");
    this.message = el("div", { class: "message", "data-testid": "run-message" }, "Waiting for the server…");
    this.meta = el("div", { class: "meta", "data-testid": "run-meta" });
    this.preview = el("img", { class: "preview", alt: "preview", hidden: "", "data-testid": "run-preview" }) as HTMLImageElement;
    this.outputs = el("div", { class: "outputs", "data-testid": "run-outputs" });
    this.values = el("dl", { class: "values", "data-testid": "run-values" });
    this.notes = el("div", { class: "notes" });
    this.seedLine = el("div", { class: "seed-line small", "data-testid": "run-seed", hidden: "" });
    const time = new Date(info.startedAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    this.element = el(
      "article",
      { class: "run", "data-testid": "run", "data-task-id": info.taskId, "data-function": info.functionId, "data-status": "QUEUED" },
      el(
        "header",
        {},
        el("div", { class: "title" }, el("strong", {}, info.title), info.tier ? el("span", { class: "chip" }, info.tier) : "", this.badge),
        this.cancelButton,
      ),
      el("div", { class: "sub muted" }, `${info.taskId} · ${time}`),
      el("div", { class: "progress-row" }, this.bar, this.percent),
      this.message,
      this.meta,
      el("div", { class: "media" }, this.preview, this.outputs),
      this.values,
      this.seedLine,
      this.notes,
    );
    // the ETA counts down between updates
    this.ticker = setInterval(() => this.renderMeta(), 1000);
  }

  get finished(): boolean {
    return this.status === "SUCCEEDED" || this.status === "FAILED" || this.status === "CANCELLED";
  }

  /** Applies one event of the task's story. */
  apply(event: GenerationEvent): void {
    switch (event.type) {
      case "task_state":
        this.showState(event.state);
        break;
      case "task_progress":
        this.showProgress(event);
        break;
      case "task_success":
        this.showSuccess(event);
        break;
      case "task_failed":
        this.showFailure(event);
        break;
    }
  }

  /** Following the task failed (the task itself may be fine: e.g. the server restarted). */
  lost(message: string): void {
    if (this.finished) return;
    this.setStatus("FAILED");
    this.note("error", message);
  }

  private showState(state: Generation): void {
    this.setStatus(state.status);
    this.setProgress(state.progress);
    this.phase = state.phase;
    this.step = state.step !== undefined && state.totalSteps !== undefined
      ? { step: state.step, totalSteps: state.totalSteps, message: state.message }
      : undefined;
    this.message.textContent = state.message || phaseText(state.phase);
    this.setMeta(state);
    this.showPreview(state.previewUrl, state.eventId);
    for (const warning of state.warnings ?? []) this.note("warning", warning);
    if (state.status === "SUCCEEDED") {
      this.uploaded ??= uploadedInputs(this.client, state.inputs);
      this.showOutputs(state.outputs);
      this.showValues(state.values);
      if (state.parameters) this.renderParameters(state.parameters);
    }
  }

  private showProgress(p: TaskProgress): void {
    if (this.finished) return;
    this.setStatus(p.phase === "WAITING_FOR_SLOT" || p.phase === "RESOLVING" ? "QUEUED" : "RUNNING");
    this.setProgress(p.progress);
    if (p.phase !== this.phase) this.step = undefined;
    this.phase = p.phase;
    if (p.step !== undefined && p.totalSteps !== undefined) {
      this.step = { step: p.step, totalSteps: p.totalSteps, message: p.message };
    }
    const withStep = p.step === undefined && this.step ? { ...p, step: this.step.step, totalSteps: this.step.totalSteps } : p;
    this.message.textContent = (p.step === undefined && this.step ? this.step.message : p.message) || phaseText(p.phase);
    this.setMeta(withStep);
    this.showPreview(p.previewUrl, p.eventId);
  }

  private showSuccess(s: TaskSuccess): void {
    this.setStatus("SUCCEEDED");
    this.setProgress(1);
    this.message.textContent = finishedText(s.outputs, s.values);
    this.meta.textContent = `tier used: ${s.tierUsed}${s.variant ? ` · variant ${s.variant}` : ""}`;
    this.preview.hidden = true;
    this.showOutputs(s.outputs);
    this.showValues(s.values);
    for (const f of s.fallbacks ?? []) this.note("warning", `Fell back from ${f.fromTier} to ${f.toTier}: ${f.reason}`);
    for (const warning of s.warnings ?? []) this.note("warning", warning);
    void this.showParameters();
  }

  /** The parameters it ran with (a seed the server drew included), and a button to make it again. */
  private async showParameters(): Promise<void> {
    let parameters: Record<string, unknown> | undefined;
    try {
      const view = await this.client.getGeneration(this.info.taskId);
      parameters = view.parameters;
      if (this.uploaded === undefined) {
        this.uploaded = uploadedInputs(this.client, view.inputs);
        // a compare that needs an uploaded input read back: now it can be offered (or said to be gone)
        if (this.shownOutputs && !this.keptBefore() && this.info.unkeptInputs?.length) this.showOutputs(this.shownOutputs);
      }
    } catch {
      return; // the result is shown; only the way to reproduce it is missing
    }
    if (!parameters) return;
    this.renderParameters(parameters);
  }

  renderParameters(parameters: Record<string, unknown>): void {
    const seeds = Object.entries(parameters).filter(([name]) => /seed/i.test(name));
    const text = seeds.length ? seeds.map(([name, value]) => `${name} ${String(value)}`).join(" · ") : "";
    const children: (Node | string)[] = [];
    if (text) children.push(el("span", { "data-testid": "run-seed-value", "data-seed": String(seeds[0]![1]) }, text));
    if (this.actions) {
      const again = el("button", { type: "button", class: "link", "data-testid": "run-reproduce" }, "Reproduce") as HTMLButtonElement;
      again.addEventListener("click", () => this.actions!.reproduce(this.info.functionId, parameters, this.info.tier));
      children.push(again);
    }
    this.seedLine.replaceChildren(...children);
    this.seedLine.hidden = children.length === 0;
  }

  private showFailure(f: TaskFailed): void {
    const cancelled = f.code === "CANCELLED";
    this.setStatus(cancelled ? "CANCELLED" : "FAILED");
    // the badge says Cancelled / Failed; the message says why, once
    this.message.textContent = "";
    this.meta.textContent = "";
    this.preview.hidden = true;
    const box = el(
      "div",
      { class: `alert ${cancelled ? "info" : "error"}`, "data-testid": "run-error", "data-code": f.code },
      ...(cancelled ? [] : [el("strong", {}, f.code), " "]),
      f.message,
    );
    if (f.suggestion) box.append(el("div", { class: "suggestion" }, f.suggestion));
    this.notes.append(box);
    if (f.outputs?.length) this.showOutputs(f.outputs);
  }

  private setStatus(status: GenerationStatus): void {
    this.status = status;
    this.element.dataset.status = status;
    this.badge.textContent = STATUS_LABEL[status] ?? status;
    this.badge.className = `badge ${status.toLowerCase()}`;
    this.cancelButton.hidden = this.finished;
    if (this.finished) {
      if (this.ticker) clearInterval(this.ticker);
      this.ticker = undefined;
      this.element.dataset.waiting = "none";
    }
  }

  /** Stops the card's timer (it is taken off the page). */
  dispose(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private setProgress(progress: number): void {
    const pct = Math.round(Math.min(1, Math.max(0, progress || 0)) * 100);
    this.fill.style.width = `${pct}%`;
    this.bar.setAttribute("aria-valuenow", String(pct));
    this.bar.dataset.progress = String(progress || 0);
    this.percent.textContent = `${pct}%`;
  }

  private setMeta(v: MetaValues): void {
    this.lastMeta = v;
    this.eta.update(v.etaSeconds ?? undefined, Date.now());
    this.renderMeta();
  }

  /** Waiting for a slot, in the backend's queue, or running: each said its own way, with a steady ETA. */
  private renderMeta(): void {
    if (this.finished) return;
    const v = this.lastMeta;
    const waiting = waitingFor(v);
    const parts: string[] = [];
    const said = describeWaiting(waiting, duration);
    if (said) parts.push(said);
    if (v.step !== undefined && v.totalSteps !== undefined) parts.push(`step ${v.step} of ${v.totalSteps}`);
    const eta = this.eta.shown(Date.now());
    if (eta !== undefined) parts.push(`about ${duration(eta)} left`);
    this.meta.textContent = parts.join(" · ");
    this.meta.dataset.eta = eta === undefined ? "" : String(eta);
    this.meta.dataset.queuePosition = waiting.kind !== "none" && waiting.ahead !== undefined ? String(waiting.ahead) : "";
    this.element.dataset.waiting = waiting.kind;
    if (this.status === "QUEUED" || this.status === "RUNNING") {
      const label = waiting.kind === "slot" ? "Waiting for a GPU slot" : waiting.kind === "backend-queue" ? "In backend queue" : STATUS_LABEL[this.status]!;
      this.badge.textContent = label;
      this.badge.className = `badge ${this.status.toLowerCase()} ${waiting.kind}`;
    }
  }

  private showPreview(previewUrl: string | undefined, version: number): void {
    if (!previewUrl || this.finished) return;
    const url = new URL(this.client.outputUrl(previewUrl));
    url.searchParams.set("v", String(version));
    if (url.toString() === this.lastPreview) return;
    this.lastPreview = url.toString();
    // loaded aside, then swapped in: the shown preview never flickers to a half-loaded image
    const next = new Image();
    next.onload = () => {
      if (this.finished || this.lastPreview !== next.src) return;
      this.preview.src = next.src;
      this.preview.hidden = false;
    };
    next.src = this.lastPreview;
  }

  /** The comparison's before as the page kept it (an earlier output's URL, or this page's own upload). */
  private keptBefore(): string | undefined {
    return Object.values(this.info.inputs ?? {})[0];
  }

  /** The comparison's before read back from the server: the upload of the parameter the page uploaded, else the first. */
  private uploadedBefore(): string | undefined {
    if (!this.uploaded) return undefined;
    const parameter = this.info.unkeptInputs?.find((p) => p in this.uploaded!);
    return parameter ? this.uploaded[parameter] : Object.values(this.uploaded)[0];
  }

  private showOutputs(outputs: Output[]): void {
    this.shownOutputs = outputs;
    this.outputs.replaceChildren();
    for (const output of outputs) {
      const url = this.client.outputUrl(output);
      const caption = [output.name];
      if (output.width && output.height) caption.push(`${output.width}×${output.height}`);
      caption.push(size(output.sizeBytes));
      let media: HTMLElement;
      const tools: HTMLElement[] = [];
      if (output.contentType.startsWith("image/")) {
        media = el("a", { href: url, target: "_blank", rel: "noopener", "aria-label": `Open ${output.name}` }, el("img", { src: url, alt: output.name, "data-testid": "output-image" }));
        const kept = this.keptBefore();
        const before = kept ?? this.uploadedBefore();
        if (before) {
          const compare = el("button", { type: "button", class: "link", "data-testid": "output-compare", "aria-expanded": "false" }, "Compare");
          compare.addEventListener("click", () => {
            const open = media.classList.toggle("comparing");
            compare.setAttribute("aria-expanded", String(open));
            if (open) media.replaceWith((media = compareView(before, url, output.name)));
          });
          tools.push(compare);
          if (!kept) {
            // read back from the server: an upload deleted since cannot be compared with, said so
            const check = new Image();
            check.onerror = () => compare.replaceWith(uploadGone());
            check.src = before;
          }
        } else if (this.info.unkeptInputs?.length && this.uploaded !== undefined) {
          tools.push(uploadGone());
        }
        if (this.actions && this.info.nodeId) {
          const use = el("button", { type: "button", class: "link", "data-testid": "output-use" }, "Use as input");
          const path = outputPath(this.info.nodeId, output.name);
          use.addEventListener("click", () => this.actions!.useAsInput(path, url, output.name));
          tools.push(use);
        }
      } else if (output.contentType.startsWith("video/")) {
        media = el("video", { src: url, controls: "", "data-testid": "output-video" });
      } else if (output.contentType.startsWith("audio/")) {
        media = el("audio", { src: url, controls: "", "data-testid": "output-audio" });
      } else {
        media = el("a", { href: url, "data-testid": "output-link" }, output.name);
      }
      tools.unshift(el("a", { href: url, download: output.name, class: "link", "data-testid": "output-download" }, "Download"));
      this.outputs.append(el("figure", {}, media, el("figcaption", {}, caption.join(" · ")), el("div", { class: "tools" }, ...tools)));
    }
  }

  /** Each value as a name and its text (always text nodes: a value is never read as HTML). */
  private showValues(values: OutputValue[] | undefined): void {
    this.values.replaceChildren();
    for (const value of values ?? []) {
      const view = describeValue(value);
      const body = el(
        value.kind === "text" ? "div" : "code",
        { class: "value-body", ...(view.title ? { title: view.title } : {}) },
        ...(view.segments
          ? view.segments.map((s) => (s.mark ? el("mark", { title: s.mark }, s.text) : s.text))
          : [view.text]),
      );
      this.values.append(
        el("dt", { "data-testid": "run-value-name" }, value.name),
        el("dd", { class: `value ${value.kind}`, "data-testid": "run-value", "data-name": value.name, "data-kind": value.kind }, body),
      );
    }
  }

  private note(kind: "warning" | "error", text: string): void {
    if ([...this.notes.children].some((n) => n.textContent === text)) return;
    this.notes.append(el("div", { class: `alert ${kind}` }, text));
  }
}

interface MetaValues {
  phase?: string;
  step?: number;
  totalSteps?: number;
  etaSeconds?: number;
  queuePosition?: number;
  startsInSeconds?: number;
  waiting?: { for: string; position?: number | null; startsInSeconds?: number | null } | null;
}

/** The generation's uploaded inputs, parameter → absolute URL reading each back (signed: an <img> sends no key). */
function uploadedInputs(client: TemperaClient, inputs: UploadedInput[] | undefined): Record<string, string> {
  return Object.fromEntries((inputs ?? []).map((input) => [input.parameter, client.outputUrl(input.url)]));
}

/** Said in place of Compare when the uploaded input is no longer on the server. */
function uploadGone(): HTMLElement {
  return el(
    "span",
    { class: "muted small", "data-testid": "output-compare-unavailable" },
    "No compare: the uploaded input is no longer stored on the server",
  );
}

/** Before and after, one over the other, a slider (keyboard too) moving the line between them. */
export function compareView(before: string, after: string, name: string): HTMLElement {
  const top = el("img", { src: after, alt: `${name} (after)`, class: "after" }) as HTMLImageElement;
  const view = el("div", { class: "compare", "data-testid": "compare", style: "--cut: 50%" }, el("img", { src: before, alt: `${name} (before)`, class: "before" }), top);
  const slider = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "Before / after", "data-testid": "compare-slider" }) as HTMLInputElement;
  slider.addEventListener("input", () => view.style.setProperty("--cut", `${slider.value}%`));
  return el("div", { class: "compare-wrap" }, view, slider);
}

function phaseText(phase: string): string {
  switch (phase) {
    case "RESOLVING":
      return "Preparing…";
    case "WAITING_FOR_SLOT":
      return "Waiting for a free slot…";
    case "GENERATING":
      return "Generating…";
    case "COLLECTING_OUTPUTS":
      return "Collecting the outputs…";
    default:
      return phase.charAt(0) + phase.slice(1).toLowerCase().replace(/_/g, " ");
  }
}
