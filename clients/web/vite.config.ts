import { defineConfig } from "vite";

// `npm run dev` serves the page with hot reload and forwards the API to a running Tempera
// (TEMPERA_URL, default http://127.0.0.1:8080). `npm run build` writes dist/, which the
// starter-api build packs as the page served at / (see starter-api/pom.xml).
const target = process.env.TEMPERA_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true },
  server: {
    fs: { allow: [".."] },
    proxy: {
      "/api": target,
      "/actuator": target,
      "/ws": { target: target.replace(/^http/, "ws"), ws: true },
    },
  },
});
