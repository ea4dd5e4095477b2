// npm test (after the build): unit + golden vectors, gateway integration, browser, packaging; exits non-zero on failure.
// Each group runs with the built-in runner (node --test) so CI reads its TAP summary.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const groups = [
  ["types (declarations compile for a consumer)", [tsc, "-p", "test/types/tsconfig.json"]],
  ["unit + golden vectors", ["--test", "test/unit/"]],
  ["gateway integration", ["--test", "--test-concurrency=1", "test/gateway/"]],
  ["browser", ["--test", "test/browser/"]],
  ["package (npm pack, install in a web project, bundler import)", ["--test", "test/package/"]],
];
const only = process.argv.slice(2);
let failed = 0;
for (const [name, args] of groups) {
  if (only.length && !only.some((o) => name.includes(o))) continue;
  console.log(`\n== ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, [...args], { cwd: root, stdio: "inherit", timeout: 10 * 60_000 });
  const ok = result.status === 0;
  console.log(`== ${name}: ${ok ? "passed" : `FAILED (exit ${result.status ?? result.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!ok) failed++;
}
process.exit(failed ? 1 : 0);
