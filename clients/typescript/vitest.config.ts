import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    exclude: ["tests/integration.test.ts", "tests/package.test.ts", "node_modules/**"],
    testTimeout: 5_000,
  },
});
