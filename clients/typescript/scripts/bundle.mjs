// Bundles the client for browsers: dist/browser/gateway-client.js (ESM, no dependencies).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(root, "dist/browser/gateway-client.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  sourcemap: true,
  minify: false,
  legalComments: "none",
  logLevel: "warning",
});
await build({
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(root, "dist/browser/gateway-client.min.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  sourcemap: true,
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});
