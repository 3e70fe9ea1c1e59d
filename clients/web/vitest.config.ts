import { defineConfig } from "vitest/config";

/** The page's unit tests (no browser, no server): `npm test`. The browser test has its own config. */
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    exclude: ["tests/**/*.browser.test.ts"],
  },
});
