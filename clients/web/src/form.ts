/** A function's parameter form, generated from the JSON Schema in GET /api/functions. */
import type { FunctionInfo, ParameterSchemaProperty, RequestProblem, UploadResult } from "../../typescript/src/index.js";
import { el } from "./dom.js";
import { isRandomParameter, nextSeed, SEED_MODES, seedsFor, type SeedMode } from "./seed.js";
import { checkNumber } from "./validate.js";

export interface FormContext {
  /** Uploads a file into the current project; resolves with the path an image parameter takes. */
  upload(file: File): Promise<UploadResult>;
}

export interface Collected {
  /** The parameters to send: empty optional fields are left out (the server applies defaults). */
  parameters: Record<string, unknown>;
  /** What is wrong with what was typed (already shown at the fields): nothing is sent while there is any. */
  problems: RequestProblem[];
}

export interface ParameterForm {
  collect(): Promise<Collected>;
  /** Marks the fields a request problem names; returns the problems that name no field. */
  showProblems(problems: RequestProblem[]): RequestProblem[];
  clearProblems(): void;
  /** The names of the image parameters (in schema order). */
  imageParameters(): string[];
  /** Puts a project file (an earlier output) into an image parameter, with an image to show for it. */
  setImage(name: string, path: string, shownUrl: string): void;
  /** Uploads a dropped or pasted file into the first image parameter; false when the function takes none. */
  acceptFile(file: File, name?: string): boolean;
  /** The image URL shown for each image parameter (for the before/after comparison). */
  shownImages(): Record<string, string>;
  /** Sets the fields from a generation's parameters (to reproduce it: a seed becomes fixed). */
  setValues(parameters: Record<string, unknown>): void;
  /** The seed parameter, when the function has one (`x-tempera-random`). */
  readonly seed: SeedControl | undefined;
}

export interface SeedControl {
  readonly name: string;
  mode(): SeedMode;
  /** The seeds for `count` generations (undefined: the server draws), moving a varying seed on. */
  take(count: number): (number | undefined)[];
}

interface Field {
  name: string;
  wrapper: HTMLElement;
  /** The value, or a problem with what was typed. */
  read(): Promise<{ value: unknown } | { problem: string }>;
  set?(value: unknown): void;
  image?: { set(path: string, url: string): void; accept(file: File): void; shown(): string | undefined };
  seed?: SeedControl & { setFixed(value: number): void };
}

const WHITE = 0xffffff;

export function buildForm(fn: FunctionInfo, container: HTMLElement, ctx: FormContext): ParameterForm {
  container.replaceChildren();
  const schema = fn.parameterSchema;
  const required = new Set(schema.required ?? []);
  const fields: Field[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const field = buildField(name, property, required.has(name), ctx);
    fields.push(field);
    container.append(field.wrapper);
  }
  if (fields.length === 0) container.append(el("p", { class: "muted" }, "This function takes no parameters."));

  const mark = (field: Field, message: string) => {
    field.wrapper.classList.add("invalid");
    field.wrapper.querySelector("input:not([type=range]):not([type=color]), select")?.setAttribute("aria-invalid", "true");
    const note = field.wrapper.querySelector(".problem");
    if (note) note.textContent = message;
  };

  return {
    async collect() {
      const parameters: Record<string, unknown> = {};
      const problems: RequestProblem[] = [];
      for (const field of fields) {
        const result = await field.read();
        if ("problem" in result) {
          problems.push({ field: `parameters.${field.name}`, code: "INVALID_VALUE", message: result.problem });
          mark(field, result.problem);
        } else if (result.value !== undefined) {
          parameters[field.name] = result.value;
        }
      }
      return { parameters, problems };
    },
    showProblems(problems) {
      const rest: RequestProblem[] = [];
      for (const problem of problems) {
        const name = problem.field.replace(/^parameters\./, "");
        const field = fields.find((f) => f.name === name);
        if (!field) {
          rest.push(problem);
          continue;
        }
        mark(field, problem.message);
      }
      return rest;
    },
    clearProblems() {
      for (const field of fields) {
        field.wrapper.classList.remove("invalid");
        field.wrapper.querySelector("[aria-invalid]")?.removeAttribute("aria-invalid");
        const note = field.wrapper.querySelector(".problem");
        if (note) note.textContent = "";
      }
    },
    imageParameters() {
      return fields.filter((f) => f.image).map((f) => f.name);
    },
    setImage(name, path, url) {
      fields.find((f) => f.name === name)?.image?.set(path, url);
    },
    acceptFile(file, name) {
      const field = fields.find((f) => f.image && (name === undefined || f.name === name));
      if (!field) return false;
      field.image!.accept(file);
      return true;
    },
    shownImages() {
      const shown: Record<string, string> = {};
      for (const f of fields) {
        const url = f.image?.shown();
        if (url) shown[f.name] = url;
      }
      return shown;
    },
    setValues(parameters) {
      for (const field of fields) {
        if (!(field.name in parameters)) continue;
        const value = parameters[field.name];
        if (field.seed && typeof value === "number") field.seed.setFixed(value);
        else field.set?.(value);
      }
    },
    seed: fields.find((f) => f.seed)?.seed,
  };
}

function buildField(name: string, s: ParameterSchemaProperty, required: boolean, ctx: FormContext): Field {
  const id = `param-${name}`;
  const label = el("label", { for: id }, humanise(name), required ? el("span", { class: "req", title: "required" }, " *") : "");
  const hint = el("small", { class: "hint", id: `${id}-hint` }, describe(s));
  const problem = el("div", { class: "problem", role: "alert", id: `${id}-problem`, "data-testid": `${id}-problem` });
  const wrapper = el("div", { class: "field", "data-param": name });
  const describedBy = `${id}-hint ${id}-problem`;

  if (s.format === "project-file") {
    const input = el("input", { id, type: "file", accept: s.contentMediaType ?? "image/*", "data-testid": id, "aria-describedby": describedBy }) as HTMLInputElement;
    const thumb = el("img", { class: "thumb", alt: `${humanise(name)}: the chosen image`, hidden: "", "data-testid": `${id}-thumb` }) as HTMLImageElement;
    const status = el("span", { class: "upload-status", "data-testid": `${id}-status`, "aria-live": "polite" });
    const drop = el(
      "div",
      { class: "dropzone", "data-testid": `${id}-drop` },
      input,
      el("span", { class: "muted small" }, "or drop an image here, or paste one"),
    );
    let pending: Promise<string> | undefined;
    let shown: string | undefined;
    const show = (url: string) => {
      shown = url;
      thumb.src = url;
      thumb.hidden = false;
    };
    const accept = (file: File) => {
      problem.textContent = "";
      wrapper.classList.remove("invalid");
      show(URL.createObjectURL(file));
      status.textContent = "Uploading…";
      status.dataset.state = "uploading";
      const upload = ctx.upload(file).then(
        (result) => {
          status.textContent = `Uploaded as ${result.path}`;
          status.dataset.state = "done";
          return result.path;
        },
        (error: unknown) => {
          status.textContent = `Upload failed: ${error instanceof Error ? error.message : String(error)}`;
          status.dataset.state = "failed";
          throw error;
        },
      );
      upload.catch(() => undefined);
      pending = upload;
    };
    input.addEventListener("change", () => {
      const file = input.files?.[0];
      if (!file) {
        pending = undefined;
        shown = undefined;
        status.textContent = "";
        delete status.dataset.state;
        thumb.hidden = true;
        return;
      }
      accept(file);
    });
    drop.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      drop.classList.remove("over");
      const file = [...(event.dataTransfer?.files ?? [])].find((f) => f.type.startsWith("image/"));
      if (!file) return;
      event.preventDefault();
      input.value = "";
      accept(file);
    });
    wrapper.append(label, hint, el("div", { class: "upload" }, drop, thumb, status), problem);
    return {
      name,
      wrapper,
      read: async () => {
        if (!pending) return required ? { problem: "Required: choose, drop or paste an image" } : { value: undefined };
        try {
          return { value: await pending };
        } catch {
          return { problem: "The upload failed: choose the image again" };
        }
      },
      image: {
        set(path, url) {
          input.value = "";
          show(url);
          pending = Promise.resolve(path);
          status.textContent = `Using ${path}`;
          status.dataset.state = "done";
        },
        accept,
        shown: () => shown,
      },
    };
  }

  if (Array.isArray(s.enum) && s.enum.length > 0) {
    const select = el("select", { id, "data-testid": id, "aria-describedby": describedBy }) as HTMLSelectElement;
    if (!required && s.default === undefined) select.append(el("option", { value: "" }, "—"));
    s.enum.forEach((value, index) => {
      const option = el("option", { value: String(index) }, String(value)) as HTMLOptionElement;
      if (value === s.default) option.selected = true;
      select.append(option);
    });
    wrapper.append(label, hint, select, problem);
    return {
      name,
      wrapper,
      read: async () =>
        select.value === "" ? (required ? { problem: "Required: choose one" } : { value: undefined }) : { value: s.enum![Number(select.value)] },
      set: (value) => {
        const index = s.enum!.findIndex((v) => v === value);
        if (index >= 0) select.value = String(index);
      },
    };
  }

  if (s.type === "boolean") {
    const box = el("input", { id, type: "checkbox", "data-testid": id, "aria-describedby": describedBy }) as HTMLInputElement;
    box.checked = s.default === true;
    wrapper.classList.add("check");
    wrapper.append(el("div", { class: "row" }, box, label), hint, problem);
    return { name, wrapper, read: async () => ({ value: box.checked }), set: (value) => (box.checked = value === true) };
  }

  if (s.type === "integer" || s.type === "number") {
    // a text field: what was typed stays readable, so a wrong value is said, never replaced by the default
    const input = el("input", {
      id,
      type: "text",
      inputmode: s.type === "integer" && (s.minimum ?? 0) >= 0 ? "numeric" : "decimal",
      autocomplete: "off",
      "data-testid": id,
      "aria-describedby": describedBy,
      class: "number",
    }) as HTMLInputElement;
    if (s.minimum !== undefined) input.setAttribute("min", String(s.minimum));
    if (s.maximum !== undefined) input.setAttribute("max", String(s.maximum));
    if (s.default !== undefined && s.default !== null) input.value = String(s.default);
    const rule = { type: s.type, minimum: s.minimum, maximum: s.maximum, required: required && s.default === undefined };
    const check = () => checkNumber(input.value, rule);
    // said as soon as the field is left, not only when generating
    input.addEventListener("blur", (event) => {
      // going to Generate: said there (a note appearing now would move the button from under the pointer)
      if ((event.relatedTarget as HTMLElement | null)?.id === "start") return;
      const result = check();
      problem.textContent = result.ok ? "" : result.message;
      wrapper.classList.toggle("invalid", !result.ok);
      if (result.ok) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
    });
    const controls = el("div", { class: "row" }, input);
    const set = (value: unknown) => {
      input.value = value === undefined || value === null ? "" : String(value);
      input.dispatchEvent(new Event("input"));
    };

    if (isRandomParameter(s)) {
      const mode = el("select", { id: `${id}-mode`, "aria-label": `${humanise(name)} mode`, "data-testid": `${id}-mode` }) as HTMLSelectElement;
      for (const m of SEED_MODES) mode.append(el("option", { value: m }, SEED_LABEL[m]));
      input.placeholder = "random";
      const sync = () => {
        const random = mode.value === "random";
        input.disabled = random;
        if (random) input.value = "";
        else if (input.value === "") input.value = String(randomIn(s.minimum, s.maximum));
      };
      mode.addEventListener("change", sync);
      sync();
      controls.append(mode);
      wrapper.append(label, hint, controls, problem);
      const range = { minimum: s.minimum, maximum: s.maximum };
      const seed: Field["seed"] = {
        name,
        mode: () => mode.value as SeedMode,
        take(count) {
          const m = mode.value as SeedMode;
          const result = check();
          const base = result.ok ? result.value : undefined;
          const seeds = seedsFor(m, base, count, range);
          const next = nextSeed(m, base, count, range);
          if (next !== undefined) input.value = String(next);
          return seeds;
        },
        setFixed(value) {
          mode.value = "fixed";
          input.disabled = false;
          input.value = String(value);
        },
      };
      return {
        name,
        wrapper,
        // the seed is taken per generation (seed.take); here only checked
        read: async () => {
          if (mode.value === "random") return { value: undefined };
          const result = check();
          return result.ok ? { value: undefined } : { problem: result.message };
        },
        set,
        seed,
      };
    }

    if (isColour(name, s)) {
      // A colour as 0xRRGGBB: a picker beside the number, kept in step with it.
      const picker = el("input", { type: "color", "aria-label": `${humanise(name)} colour`, "data-testid": `${id}-picker` }) as HTMLInputElement;
      const sync = () => {
        const n = Number(input.value);
        if (Number.isInteger(n) && n >= 0 && n <= WHITE) picker.value = `#${n.toString(16).padStart(6, "0")}`;
      };
      sync();
      input.addEventListener("input", sync);
      picker.addEventListener("input", () => {
        input.value = String(parseInt(picker.value.slice(1), 16));
      });
      controls.append(picker);
    } else if (s.minimum !== undefined && s.maximum !== undefined && s.maximum - s.minimum <= 1000) {
      const range = el("input", { type: "range", min: String(s.minimum), max: String(s.maximum), "aria-label": humanise(name), tabindex: "-1" }) as HTMLInputElement;
      range.step = s.type === "integer" ? "1" : String((s.maximum - s.minimum) / 100);
      range.value = input.value || String(s.minimum);
      range.addEventListener("input", () => (input.value = range.value));
      input.addEventListener("input", () => {
        if (check().ok && input.value.trim() !== "") range.value = input.value;
      });
      controls.append(range);
    }
    wrapper.append(label, hint, controls, problem);
    return {
      name,
      wrapper,
      read: async () => {
        const result = check();
        return result.ok ? { value: result.value } : { problem: result.message };
      },
      set,
    };
  }

  const input = el("input", { id, type: "text", "data-testid": id, "aria-describedby": describedBy }) as HTMLInputElement;
  if (typeof s.default === "string") input.value = s.default;
  wrapper.append(label, hint, input, problem);
  return {
    name,
    wrapper,
    read: async () =>
      input.value === "" ? (required && s.default === undefined ? { problem: "Required: enter some text" } : { value: undefined }) : { value: input.value },
    set: (value) => (input.value = value === undefined || value === null ? "" : String(value)),
  };
}

const SEED_LABEL: Record<SeedMode, string> = { random: "random", fixed: "fixed", vary: "vary (+1 each)" };

function randomIn(min = 0, max = 4294967295): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

function isColour(name: string, s: ParameterSchemaProperty): boolean {
  const named = /colou?r/i.test(name) || /colou?r/i.test(s.description ?? "");
  return s.type === "integer" && named && (s.maximum === undefined || s.maximum === WHITE);
}

function describe(s: ParameterSchemaProperty): string {
  const parts: string[] = [];
  if (s.description) parts.push(s.description);
  if (s.minimum !== undefined && s.maximum !== undefined) parts.push(`${s.minimum}–${s.maximum}`);
  else if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  else if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  return parts.join(" · ");
}

export function humanise(name: string): string {
  const words = name.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
