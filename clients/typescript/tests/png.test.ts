import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32, isPng, testCardPng } from "./png.js";

describe("the test PNG encoder", () => {
  it("computes the standard CRC-32", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new TextEncoder().encode("IEND"))).toBe(0xae426082);
  });

  it("writes a valid 4x4 RGB PNG", () => {
    const png = Buffer.from(testCardPng());
    expect(isPng(png)).toBe(true);
    // IHDR right after the signature
    expect(png.readUInt32BE(8)).toBe(13);
    expect(png.toString("latin1", 12, 16)).toBe("IHDR");
    expect(png.readUInt32BE(16)).toBe(4);
    expect(png.readUInt32BE(20)).toBe(4);
    expect(png[24]).toBe(8);
    expect(png[25]).toBe(2);
    // every chunk's CRC is right, and the pixels inflate back
    let offset = 8;
    const types: string[] = [];
    let idat = Buffer.alloc(0);
    while (offset < png.length) {
      const length = png.readUInt32BE(offset);
      const type = png.toString("latin1", offset + 4, offset + 8);
      types.push(type);
      expect(png.readUInt32BE(offset + 8 + length)).toBe(crc32(png.subarray(offset + 4, offset + 8 + length)));
      if (type === "IDAT") idat = png.subarray(offset + 8, offset + 8 + length);
      offset += 12 + length;
    }
    expect(types).toEqual(["IHDR", "IDAT", "IEND"]);
    const raw = inflateSync(idat);
    expect(raw.length).toBe(4 * (1 + 4 * 3));
    expect([...raw.subarray(0, 4)]).toEqual([0, 255, 0, 0]); // filter byte, then the red pixel
  });
});
