/**
 * Checks what a person typed into a number field before anything is sent: a clear message for text
 * that is not a number, a fraction where a whole number is wanted, or a value out of bounds — never a
 * silent fall back to the default. Pure functions: no DOM.
 */

export interface NumberRule {
  type: "integer" | "number" | (string & {});
  minimum?: number;
  maximum?: number;
  /** True when the field must be filled (no default on the server). */
  required?: boolean;
}

export type NumberCheck = { ok: true; value: number | undefined } | { ok: false; message: string };

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const COMMA_DECIMAL = /^[+-]?\d+,\d+$/;

/**
 * The value of a number field's text: `undefined` for an empty optional field (the server applies its
 * default, which the field shows as a placeholder), else the number, or what is wrong with the text.
 */
export function checkNumber(raw: string, rule: NumberRule): NumberCheck {
  const text = raw.trim();
  if (text === "") {
    return rule.required ? { ok: false, message: "Required: enter a number" } : { ok: true, value: undefined };
  }
  if (COMMA_DECIMAL.test(text)) {
    return { ok: false, message: `Not a number: use a point for decimals (${text.replace(",", ".")})` };
  }
  if (!DECIMAL.test(text)) return { ok: false, message: `Not a number: "${shorten(text)}"` };
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, message: "Too large a number" };
  if (rule.type === "integer" && !Number.isInteger(value)) {
    return { ok: false, message: `Must be a whole number (${Math.trunc(value)} or ${Math.trunc(value) + Math.sign(value || 1)})` };
  }
  if (rule.minimum !== undefined && value < rule.minimum) return { ok: false, message: `Must be at least ${rule.minimum}` };
  if (rule.maximum !== undefined && value > rule.maximum) return { ok: false, message: `Must be at most ${rule.maximum}` };
  return { ok: true, value };
}

/** How many generations a batch count field asks for: a whole number from 1 to `max`. */
export function checkBatchCount(raw: string, max: number): NumberCheck {
  return checkNumber(raw === "" ? "1" : raw, { type: "integer", minimum: 1, maximum: max, required: true });
}

function shorten(text: string): string {
  return text.length > 24 ? `${text.slice(0, 23)}…` : text;
}
