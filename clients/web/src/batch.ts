/** A batch on the page: its progress (x of N done), its status, and Cancel all. */
import type { Batch, BatchProgress } from "../../typescript/src/index.js";
import { el } from "./dom.js";

/** How many of a batch's variations ended (succeeded, failed or cancelled). */
export function doneCount(progress: BatchProgress): number {
  return progress.succeeded + progress.failed + progress.cancelled;
}

/** "2 of 5 done", with what failed or was cancelled when any did. */
export function describeProgress(progress: BatchProgress): string {
  const extra: string[] = [];
  if (progress.failed) extra.push(`${progress.failed} failed`);
  if (progress.cancelled) extra.push(`${progress.cancelled} cancelled`);
  return `${doneCount(progress)} of ${progress.total} done${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

const STATUS_LABEL: Record<string, string> = {
  RUNNING: "Running",
  COMPLETED: "Done",
  CANCELLED: "Cancelled",
  FAILED: "Failed",
};

export class BatchPanel {
  readonly element: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly progressText: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly note: HTMLElement;
  private readonly cancelButton: HTMLButtonElement;
  private status = "RUNNING";
  /** Where its variations' cards go (newest first). */
  readonly variations: HTMLElement;

  constructor(readonly id: string, title: string, total: number, onCancelAll: () => Promise<unknown>) {
    this.badge = el("span", { class: "badge", "data-testid": "batch-status" }, "Running");
    this.cancelButton = el("button", { type: "button", class: "secondary small", "data-testid": "batch-cancel-all" }, "Cancel all") as HTMLButtonElement;
    this.cancelButton.addEventListener("click", () => {
      this.cancelButton.disabled = true;
      this.cancelButton.textContent = "Cancelling…";
      onCancelAll().catch((error: unknown) => {
        this.cancelButton.disabled = false;
        this.cancelButton.textContent = "Cancel all";
        this.note.textContent = `Cancel all failed: ${error instanceof Error ? error.message : String(error)}`;
      });
    });
    this.progressText = el("span", { "data-testid": "batch-progress" }, `0 of ${total} done`);
    this.fill = el("div", { class: "fill" });
    this.bar = el("div", { class: "bar", role: "progressbar", "aria-label": `Progress of the batch of ${title}`, "aria-valuemin": "0", "aria-valuemax": String(total), "aria-valuenow": "0" }, this.fill);
    this.note = el("div", { class: "notes small", role: "status", "data-testid": "batch-note" });
    this.variations = el("div", { class: "variations", "data-testid": "batch-variations" });
    this.element = el(
      "article",
      { class: "run batch", "data-testid": "batch-run", "data-batch-id": id, "data-status": "RUNNING", "data-total": String(total), "data-done": "0" },
      el(
        "header",
        {},
        el("div", { class: "title" }, el("strong", {}, `Batch of ${total}: ${title}`), this.badge),
        this.cancelButton,
      ),
      el("div", { class: "sub muted" }, id),
      el("div", { class: "progress-row" }, this.bar, this.progressText),
      this.note,
      this.variations,
    );
  }

  get finished(): boolean {
    return this.status !== "RUNNING";
  }

  /** Shows the batch's state as the server reported it. */
  update(batch: Batch): void {
    this.status = batch.status;
    const done = doneCount(batch.progress);
    this.progressText.textContent = describeProgress(batch.progress);
    this.element.dataset.status = batch.status;
    this.element.dataset.done = String(done);
    this.badge.textContent = STATUS_LABEL[batch.status] ?? batch.status;
    this.bar.setAttribute("aria-valuenow", String(done));
    this.fill.style.width = `${batch.progress.total ? Math.round((100 * done) / batch.progress.total) : 100}%`;
    this.note.textContent = batch.quotaWait ? `Waiting: ${batch.quotaWait.message}` : "";
    if (this.finished) this.cancelButton.hidden = true;
  }

  /** The batch could not be read any more. */
  lost(text: string): void {
    this.note.textContent = text;
  }
}
