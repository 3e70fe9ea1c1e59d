import { describe, expect, it } from "vitest";
import type { Output, OutputValue } from "../../typescript/src/index.js";
import { JSON_LIMIT, describeValue, finishedText } from "../src/values.js";

const value = (kind: OutputValue["kind"], v: OutputValue["value"]): OutputValue => ({ name: "x", kind, value: v });

describe("a generation's values on the page", () => {
  it("shows text as it is, markup included (the page puts it in as text)", () => {
    expect(describeValue(value("text", "a <b>red</b> square\nsecond line"))).toEqual({ text: "a <b>red</b> square\nsecond line" });
  });

  it("shows numbers without floating-point noise, booleans as yes or no", () => {
    expect(describeValue(value("number", 3)).text).toBe("3");
    expect(describeValue(value("number", 0.1 + 0.2)).text).toBe("0.3");
    expect(describeValue(value("number", 1234567.891)).text).toBe("1234567.891");
    expect(describeValue(value("boolean", true)).text).toBe("yes");
    expect(describeValue(value("boolean", false)).text).toBe("no");
  });

  it("shows a label with its three most confident classes, every one in the tooltip", () => {
    const view = describeValue(
      value("label", {
        label: "cat",
        confidences: [
          { label: "bird", confidence: 0.05 },
          { label: "cat", confidence: 0.6 },
          { label: "dog", confidence: 0.3 },
          { label: "fish", confidence: 0.05 },
        ],
      }),
    );
    expect(view.text).toBe("cat (cat 60%, dog 30%, bird 5.0%, …)");
    expect(view.title).toBe("cat 60%\ndog 30%\nbird 5.0%\nfish 5.0%");
    expect(describeValue(value("label", { label: "cat" })).text).toBe("cat");
  });

  it("shows highlighted text as its tokens, the marked ones with their class", () => {
    const view = describeValue(
      value("highlighted_text", [
        { token: "a ", class_or_confidence: null },
        { token: "red ", class_or_confidence: "colour" },
        { token: "square", class_or_confidence: 0.25 },
      ]),
    );
    expect(view.text).toBe("a red square");
    expect(view.segments).toEqual([{ text: "a " }, { text: "red ", mark: "colour" }, { text: "square", mark: "25%" }]);
    expect(describeValue(value("highlighted_text", [["blue", "colour"]])).segments).toEqual([{ text: "blue", mark: "colour" }]);
  });

  it("shows JSON compactly, cut when long, the whole of it in the tooltip", () => {
    expect(describeValue(value("json", { words: 3, nested: { empty: null } })).text).toBe('{"words":3,"nested":{"empty":null}}');
    const long = { items: Array.from({ length: 100 }, (_, i) => i) };
    const view = describeValue(value("json", long));
    expect(view.text).toHaveLength(JSON_LIMIT);
    expect(view.text.endsWith("…")).toBe(true);
    expect(JSON.parse(view.title!)).toEqual(long);
  });

  it("falls back to compact JSON where a value is not of its kind's shape", () => {
    expect(describeValue(value("text", ["a", "b"])).text).toBe('["a","b"]');
    expect(describeValue(value("label", "cat")).text).toBe('"cat"');
    expect(describeValue(value("highlighted_text", { token: "a" })).text).toBe('{"token":"a"}');
  });

  it("says what a finished generation produced", () => {
    const file: Output = { name: "a.png", url: "/a.png", contentType: "image/png", sizeBytes: 1 };
    expect(finishedText([file], [])).toBe("Finished: 1 output");
    expect(finishedText([file, file], undefined)).toBe("Finished: 2 outputs");
    expect(finishedText([], [value("text", "hi")])).toBe("Finished: 1 value");
    expect(finishedText([file], [value("text", "hi"), value("number", 2)])).toBe("Finished: 1 output and 2 values");
    expect(finishedText([], [])).toBe("Finished: 0 outputs");
  });
});
