/**
 * The project's history and gallery, from the server (so they survive a reload, another browser and a
 * restart of the system): GET /api/generations?project=… (newest first, paged with nextCursor) and
 * GET /api/projects/{id}/outputs; an ended generation's outputs can be deleted
 * (DELETE /api/generations/{id}/outputs).
 */
import type { Output } from "../../typescript/src/index.js";
import { el, size } from "./dom.js";
import { outputPath, type RunActions } from "./run.js";

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface HistoryItem {
  id: string;
  status: string;
  functionId: string;
  projectId: string;
  nodeId: string;
  tier: string;
  startedAt: string | null;
  endedAt: string | null;
  outputs: Output[];
  error: { code: string; message: string } | null;
}

interface GalleryItem {
  generationId: string;
  functionId: string;
  nodeId: string;
  createdAt: string;
  name: string;
  url: string;
  contentType: string;
  sizeBytes: number;
  width?: number;
  height?: number;
}

export interface HistoryContext {
  api<T>(path: string, init?: RequestInit): Promise<T>;
  project(): string;
  outputUrl(url: string): string;
  actions: RunActions;
  history: HTMLElement;
  gallery: HTMLElement;
  functionName(id: string): string;
}

const PAGE = 20;
const STATUSES = ["", "SUCCEEDED", "FAILED", "CANCELLED", "RUNNING", "QUEUED"];

export class History {
  private historyShown = false;
  private galleryShown = false;
  private status = "";

  constructor(private readonly ctx: HistoryContext) {}

  /** Loads again what is on show (after a new key, a new project, the network back). */
  refresh(): void {
    if (this.historyShown) void this.loadHistory();
    if (this.galleryShown) void this.loadGallery();
  }

  showHistory(): void {
    this.historyShown = true;
    void this.loadHistory();
  }

  showGallery(): void {
    this.galleryShown = true;
    void this.loadGallery();
  }

  private async loadHistory(cursor?: string, list?: HTMLElement): Promise<void> {
    const root = this.ctx.history;
    if (!list) {
      const filter = el("select", { "aria-label": "Status", "data-testid": "history-status" }) as HTMLSelectElement;
      for (const s of STATUSES) filter.append(el("option", { value: s }, s ? s.toLowerCase() : "all"));
      filter.value = this.status;
      filter.addEventListener("change", () => {
        this.status = filter.value;
        void this.loadHistory();
      });
      const reload = el("button", { type: "button", class: "link", "data-testid": "history-refresh" }, "Refresh");
      reload.addEventListener("click", () => void this.loadHistory());
      list = el("ol", { class: "history", "data-testid": "history-list", "aria-busy": "true" });
      root.replaceChildren(el("div", { class: "toolbar" }, el("label", { class: "small" }, "Status ", filter), reload), list);
    }
    const query = new URLSearchParams({ project: this.ctx.project(), limit: String(PAGE) });
    if (this.status) query.set("status", this.status);
    if (cursor) query.set("cursor", cursor);
    let page: Page<HistoryItem>;
    try {
      page = await this.ctx.api<Page<HistoryItem>>(`/api/generations?${query}`);
    } catch (error) {
      list.removeAttribute("aria-busy");
      list.append(el("li", { class: "alert error", "data-testid": "history-error" }, `Could not load the history: ${text(error)}`));
      return;
    }
    list.removeAttribute("aria-busy");
    list.querySelector(".more")?.remove();
    if (page.items.length === 0 && !cursor) list.append(el("li", { class: "muted empty" }, "No generations in this project yet."));
    for (const item of page.items) list.append(this.historyRow(item));
    if (page.nextCursor) {
      const more = el("button", { type: "button", class: "secondary small", "data-testid": "history-more" }, "Load more");
      more.addEventListener("click", () => void this.loadHistory(page.nextCursor!, list));
      list.append(el("li", { class: "more" }, more));
    }
  }

  private historyRow(item: HistoryItem): HTMLElement {
    const when = item.startedAt ? new Date(item.startedAt).toLocaleString([], { dateStyle: "short", timeStyle: "medium" }) : "";
    const thumbs = item.outputs
      .filter((o) => o.contentType.startsWith("image/"))
      .slice(0, 4)
      .map((o) => this.thumb(o.url, o.name, item.nodeId, item.id));
    return el(
      "li",
      { class: "history-item", "data-testid": "history-item", "data-id": item.id, "data-status": item.status, "data-function": item.functionId },
      el(
        "div",
        { class: "row" },
        el("strong", {}, this.ctx.functionName(item.functionId)),
        el("span", { class: `badge ${item.status.toLowerCase()}` }, item.status.charAt(0) + item.status.slice(1).toLowerCase()),
        el("span", { class: "chip" }, item.tier),
      ),
      el("div", { class: "sub muted" }, `${item.id} · ${when}`),
      item.error && item.status !== "CANCELLED" ? el("div", { class: "small bad" }, item.error.message) : "",
      thumbs.length ? el("div", { class: "thumbs" }, ...thumbs) : "",
    );
  }

  private async loadGallery(cursor?: string, grid?: HTMLElement): Promise<void> {
    const root = this.ctx.gallery;
    if (!grid) {
      grid = el("ul", { class: "gallery", "data-testid": "gallery", "aria-busy": "true" });
      root.replaceChildren(grid);
    }
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) query.set("cursor", cursor);
    let page: Page<GalleryItem>;
    try {
      page = await this.ctx.api<Page<GalleryItem>>(`/api/projects/${encodeURIComponent(this.ctx.project())}/outputs?${query}`);
    } catch (error) {
      grid.removeAttribute("aria-busy");
      root.append(el("p", { class: "alert error", "data-testid": "gallery-error" }, `Could not load the gallery: ${text(error)}`));
      return;
    }
    grid.removeAttribute("aria-busy");
    root.querySelector(".more")?.remove();
    if (page.items.length === 0 && !cursor) root.append(el("p", { class: "muted empty" }, "No outputs in this project yet."));
    for (const item of page.items) grid.append(this.galleryItem(item));
    if (page.nextCursor) {
      const more = el("button", { type: "button", class: "secondary small more", "data-testid": "gallery-more" }, "Load more");
      more.addEventListener("click", () => void this.loadGallery(page.nextCursor!, grid));
      root.append(more);
    }
  }

  private galleryItem(item: GalleryItem): HTMLElement {
    const url = this.ctx.outputUrl(item.url);
    const caption = [this.ctx.functionName(item.functionId)];
    if (item.width && item.height) caption.push(`${item.width}×${item.height}`);
    caption.push(size(item.sizeBytes));
    const media = item.contentType.startsWith("image/")
      ? el("img", { src: url, alt: `${item.name} from ${item.generationId}`, loading: "lazy", "data-testid": "gallery-image" })
      : el("a", { href: url }, item.name);
    const remove = el("button", { type: "button", class: "link danger", "data-testid": "gallery-delete", "aria-label": `Delete the outputs of ${item.generationId}` }, "Delete");
    remove.addEventListener("click", () => void this.delete(item.generationId));
    const tools: HTMLElement[] = [el("a", { href: url, download: item.name, class: "link", "data-testid": "gallery-download" }, "Download")];
    if (item.contentType.startsWith("image/")) {
      const use = el("button", { type: "button", class: "link", "data-testid": "gallery-use" }, "Use as input");
      use.addEventListener("click", () => this.ctx.actions.useAsInput(outputPath(item.nodeId, item.name), url, item.name));
      tools.push(use);
    }
    tools.push(remove);
    return el(
      "li",
      { class: "gallery-item", "data-testid": "gallery-item", "data-generation": item.generationId, "data-name": item.name },
      el("figure", {}, media, el("figcaption", {}, caption.join(" · ")), el("div", { class: "tools" }, ...tools)),
    );
  }

  private async delete(generationId: string): Promise<void> {
    if (!confirm(`Delete the outputs of ${generationId}? This cannot be undone.`)) return;
    try {
      await this.ctx.api(`/api/generations/${encodeURIComponent(generationId)}/outputs`, { method: "DELETE" });
    } catch (error) {
      this.ctx.gallery.prepend(el("p", { class: "alert error", role: "alert" }, `Could not delete: ${text(error)}`));
      return;
    }
    for (const node of this.ctx.gallery.querySelectorAll<HTMLElement>(`[data-generation="${CSS.escape(generationId)}"]`)) node.remove();
  }

  private thumb(relative: string, name: string, nodeId: string, generationId: string): HTMLElement {
    const url = this.ctx.outputUrl(relative);
    const use = el("button", { type: "button", class: "thumb-use", "data-testid": "history-use", "aria-label": `Use ${name} of ${generationId} as input` },
      el("img", { src: url, alt: "", loading: "lazy" }));
    use.addEventListener("click", () => this.ctx.actions.useAsInput(outputPath(nodeId, name), url, name));
    return use;
  }
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
