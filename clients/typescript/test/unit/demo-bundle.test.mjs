// The gateway serves a committed copy of the browser bundle at /demo/gateway-client.js (so `dotnet run`
// needs no npm). It must be what the current sources build to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildDemoBundle, demoBundlePath } from "../../scripts/demo-bundle.mjs";

test("the gateway's demo bundle is built from the current sources", async () => {
  const committed = readFileSync(demoBundlePath, "utf8");
  const fresh = await buildDemoBundle();
  assert.ok(committed === fresh, `${demoBundlePath} is stale: run \`npm run build:demo\` in clients/typescript and commit it`);
});
