// npm run build: the ES module build (dist/esm) and the CommonJS one (dist/cjs), each with its .d.ts.
// dist/cjs gets a package.json of "type": "commonjs", so Node and TypeScript read its .js and .d.ts
// as CommonJS inside this "type": "module" package.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
rmSync(`${root}/dist`, { recursive: true, force: true });
for (const config of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
  execFileSync(process.execPath, [tsc, "-p", config], { cwd: root, stdio: "inherit" });
}
mkdirSync(`${root}/dist/cjs`, { recursive: true });
writeFileSync(`${root}/dist/cjs/package.json`, `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);
