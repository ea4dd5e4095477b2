// What a web project does with the client: `npm pack` here (prepack builds dist/), `npm install` of the
// tarball in a fresh project (offline: no runtime dependencies), then a bundler import of the package
// name. The bundle must be the browser build (exports "browser" condition) and run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { packageRoot } from "../support/gateway.mjs";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

test("npm pack produces a tarball a web project installs and bundles", { timeout: 300_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), "archmesh-pack-"));
  try {
    const packed = JSON.parse(execFileSync(npm, ["pack", "--json", "--pack-destination", work], { cwd: packageRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
    const files = packed[0].files.map((f) => f.path);
    assert.ok(files.includes("dist/index.js") && files.includes("dist/index.d.ts") && files.includes("dist/browser/gateway-client.js"), files.join(", "));
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), "only the build goes into the tarball");

    const app = join(work, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "web-app", version: "1.0.0", private: true, type: "module" }));
    execFileSync(npm, ["install", "--offline", "--no-audit", "--no-fund", join(work, packed[0].filename)], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
    const installed = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    assert.ok(installed.dependencies["@archmesh/gateway-client"].endsWith(".tgz"));

    writeFileSync(join(app, "main.js"), 'import { GatewayClient, GatewayError } from "@archmesh/gateway-client";\nexport const kinds = [typeof GatewayClient, typeof GatewayError];\n');
    const result = await build({ entryPoints: [join(app, "main.js")], bundle: true, format: "esm", platform: "browser", write: false, absWorkingDir: app, logLevel: "silent", metafile: true });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.some((i) => i.includes("@archmesh/gateway-client/dist/browser/gateway-client.js")), `browser build picked: ${inputs.join(", ")}`);
    const bundled = join(app, "bundle.mjs");
    writeFileSync(bundled, result.outputFiles[0].text);
    const { kinds } = await import(bundled);
    assert.deepEqual(kinds, ["function", "function"]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
