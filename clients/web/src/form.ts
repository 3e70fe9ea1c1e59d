/** A function's parameter form, generated from the JSON Schema in GET /api/functions. */
import type { FunctionInfo, ParameterSchemaProperty, RequestProblem, UploadResult } from "../../typescript/src/index.js";
import { el } from "./dom.js";

export interface FormContext {
  /** Uploads a file into the current project; resolves with the path an image parameter takes. */
  upload(file: File): Promise<UploadResult>;
}

export interface ParameterForm {
  /** The parameters to send: empty fields are left out (the server applies defaults). */
  collect(): Promise<Record<string, unknown>>;
  /** Marks the fields a request problem names; returns the problems that name no field. */
  showProblems(problems: RequestProblem[]): RequestProblem[];
  clearProblems(): void;
}

interface Field {
  name: string;
  wrapper: HTMLElement;
  read(): Promise<unknown>;
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

  return {
    async collect() {
      const parameters: Record<string, unknown> = {};
      for (const field of fields) {
        const value = await field.read();
        if (value !== undefined) parameters[field.name] = value;
      }
      return parameters;
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
        field.wrapper.classList.add("invalid");
        const note = field.wrapper.querySelector(".problem");
        if (note) note.textContent = problem.message;
      }
      return rest;
    },
    clearProblems() {
      for (const field of fields) {
        field.wrapper.classList.remove("invalid");
        const note = field.wrapper.querySelector(".problem");
        if (note) note.textContent = "";
      }
    },
  };
}

function buildField(name: string, s: ParameterSchemaProperty, required: boolean, ctx: FormContext): Field {
  const id = `param-${name}`;
  const label = el("label", { for: id }, humanise(name), required ? el("span", { class: "req", title: "required" }, " *") : "");
  const hint = el("small", { class: "hint" }, describe(s));
  const problem = el("div", { class: "problem", role: "alert" });
  const wrapper = el("div", { class: "field", "data-param": name });

  if (s.format === "project-file") {
    const input = el("input", { id, type: "file", accept: s.contentMediaType ?? "image/*", "data-testid": id }) as HTMLInputElement;
    const thumb = el("img", { class: "thumb", alt: "", hidden: "" }) as HTMLImageElement;
    const status = el("span", { class: "upload-status", "data-testid": `${id}-status` });
    let pending: Promise<string> | undefined;
    input.addEventListener("change", () => {
      const file = input.files?.[0];
      if (!file) {
        pending = undefined;
        status.textContent = "";
        thumb.hidden = true;
        return;
      }
      thumb.src = URL.createObjectURL(file);
      thumb.hidden = false;
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
    });
    wrapper.append(label, hint, el("div", { class: "upload" }, input, thumb, status), problem);
    return { name, wrapper, read: async () => (pending ? await pending : undefined) };
  }

  if (Array.isArray(s.enum) && s.enum.length > 0) {
    const select = el("select", { id, "data-testid": id }) as HTMLSelectElement;
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
      read: async () => (select.value === "" ? undefined : s.enum![Number(select.value)]),
    };
  }

  if (s.type === "boolean") {
    const box = el("input", { id, type: "checkbox", "data-testid": id }) as HTMLInputElement;
    box.checked = s.default === true;
    wrapper.classList.add("check");
    wrapper.append(el("div", { class: "row" }, box, label), hint, problem);
    return { name, wrapper, read: async () => box.checked };
  }

  if (s.type === "integer" || s.type === "number") {
    const input = el("input", { id, type: "number", inputmode: "decimal", "data-testid": id }) as HTMLInputElement;
    if (s.minimum !== undefined) input.min = String(s.minimum);
    if (s.maximum !== undefined) input.max = String(s.maximum);
    input.step = s.type === "integer" ? "1" : "any";
    if (s.default !== undefined && s.default !== null) input.value = String(s.default);
    const controls = el("div", { class: "row" }, input);
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
      const range = el("input", { type: "range", min: String(s.minimum), max: String(s.maximum), "aria-label": humanise(name) }) as HTMLInputElement;
      range.step = s.type === "integer" ? "1" : String((s.maximum - s.minimum) / 100);
      range.value = input.value || String(s.minimum);
      range.addEventListener("input", () => (input.value = range.value));
      input.addEventListener("input", () => (range.value = input.value));
      controls.append(range);
    }
    wrapper.append(label, hint, controls, problem);
    return {
      name,
      wrapper,
      read: async () => {
        if (input.value.trim() === "") return undefined;
        const n = Number(input.value);
        return Number.isNaN(n) ? input.value : n; // the server says what is wrong with a non-number
      },
    };
  }

  const input = el("input", { id, type: "text", "data-testid": id }) as HTMLInputElement;
  if (typeof s.default === "string") input.value = s.default;
  wrapper.append(label, hint, input, problem);
  return { name, wrapper, read: async () => (input.value === "" ? undefined : input.value) };
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
