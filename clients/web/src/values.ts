/**
 * How the page shows a generation's values (what it returned that is not a file): text and numbers as
 * they are, a label as its confidences, highlighted text as its tokens, JSON compactly. Only text comes
 * out of here; the page puts it into elements as text, never as HTML.
 */
import type { JsonValue, Output, OutputValue } from "../../typescript/src/index.js";

/** A stretch of highlighted text: its token, and the class or confidence it was marked with. */
export interface Segment {
  text: string;
  mark?: string;
}

export interface ValueView {
  /** The value as one line or block of text. */
  text: string;
  /** Highlighted text's tokens, to show marked. */
  segments?: Segment[];
  /** More than `text` shows (the whole JSON, every confidence), for a tooltip. */
  title?: string;
}

/** JSON longer than this is cut in the card (the whole of it is in the tooltip, up to TITLE_LIMIT). */
export const JSON_LIMIT = 200;
const TITLE_LIMIT = 2000;
/** The confidences a label shows. */
const LABEL_TOP = 3;

export function describeValue(value: OutputValue): ValueView {
  const v = value.value;
  switch (value.kind) {
    case "text":
      return { text: typeof v === "string" ? v : compact(v) };
    case "number":
      return { text: typeof v === "number" ? formatNumber(v) : compact(v) };
    case "boolean":
      return { text: typeof v === "boolean" ? (v ? "yes" : "no") : compact(v) };
    case "label":
      return label(v);
    case "highlighted_text":
      return highlighted(v);
    default:
      return json(v);
  }
}

/** "Finished: 2 outputs", "Finished: 1 value", "Finished: 1 output and 2 values". */
export function finishedText(outputs: Output[], values: OutputValue[] | undefined): string {
  const parts: string[] = [];
  const files = outputs.length;
  const returned = values?.length ?? 0;
  if (files > 0 || returned === 0) parts.push(files === 1 ? "1 output" : `${files} outputs`);
  if (returned > 0) parts.push(returned === 1 ? "1 value" : `${returned} values`);
  return `Finished: ${parts.join(" and ")}`;
}

/** A number without floating-point noise (0.1 + 0.2 shows as 0.3), at 12 significant digits. */
function formatNumber(n: number): string {
  return Number.isInteger(n) || !Number.isFinite(n) ? String(n) : String(Number(n.toPrecision(12)));
}

function percent(confidence: number): string {
  const p = confidence * 100;
  return `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)}%`;
}

/** Gradio's `{label, confidences: [{label, confidence}]}`: the label, then its most confident classes. */
function label(v: JsonValue): ValueView {
  if (!isObject(v)) return json(v);
  const confidences = Array.isArray(v.confidences)
    ? v.confidences
        .filter(isObject)
        .filter((c) => typeof c.confidence === "number")
        .map((c) => ({ label: String(c.label ?? ""), confidence: c.confidence as number }))
        .sort((a, b) => b.confidence - a.confidence)
    : [];
  const top = typeof v.label === "string" || typeof v.label === "number" ? String(v.label) : confidences[0]?.label;
  if (top === undefined) return json(v);
  if (confidences.length === 0) return { text: top };
  const shown = confidences.slice(0, LABEL_TOP).map((c) => `${c.label} ${percent(c.confidence)}`);
  const all = confidences.map((c) => `${c.label} ${percent(c.confidence)}`);
  return {
    text: `${top} (${shown.join(", ")}${confidences.length > LABEL_TOP ? ", …" : ""})`,
    title: all.join("\n"),
  };
}

/** Gradio's `[{token, class_or_confidence}]` (or `[token, class]` pairs): the tokens, marked ones marked. */
function highlighted(v: JsonValue): ValueView {
  if (!Array.isArray(v)) return json(v);
  const segments: Segment[] = [];
  for (const item of v) {
    let token: JsonValue | undefined;
    let mark: JsonValue | undefined;
    if (isObject(item)) {
      token = item.token;
      mark = item.class_or_confidence;
    } else if (Array.isArray(item)) {
      [token, mark] = item;
    } else {
      return json(v);
    }
    const text = typeof token === "string" ? token : token === undefined || token === null ? "" : compact(token);
    segments.push(
      mark === null || mark === undefined
        ? { text }
        : { text, mark: typeof mark === "number" ? percent(mark) : typeof mark === "string" ? mark : compact(mark) },
    );
  }
  return { text: segments.map((s) => s.text).join(""), segments };
}

function json(v: JsonValue): ValueView {
  const text = compact(v);
  if (text.length <= JSON_LIMIT) return { text };
  const pretty = JSON.stringify(v, null, 2);
  return {
    text: `${text.slice(0, JSON_LIMIT - 1)}…`,
    title: pretty.length > TITLE_LIMIT ? `${pretty.slice(0, TITLE_LIMIT - 1)}…` : pretty,
  };
}

function compact(v: JsonValue | undefined): string {
  return v === undefined ? "" : JSON.stringify(v);
}

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
