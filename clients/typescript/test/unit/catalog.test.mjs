// The TypeScript error table must match the C# one (src/Protocol/Errors) entry by entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ERROR_CATALOG, ErrorCode, errorInfo, GatewayError } from "../../dist/index.js";

const errorsDir = fileURLToPath(new URL("../../../../src/Protocol/Errors/", import.meta.url));

test("ErrorCode values match ErrorCode.cs", () => {
  const source = readFileSync(errorsDir + "ErrorCode.cs", "utf8");
  const entries = [...source.matchAll(/^\s*(\w+)\s*=\s*(0x[0-9A-Fa-f]+|\d+),/gm)].map((m) => [m[1], Number(m[2])]);
  assert.ok(entries.length >= 25, "parsed the C# enum");
  for (const [name, value] of entries) assert.equal(ErrorCode[name], value, `ErrorCode.${name}`);
  assert.equal(Object.keys(ErrorCode).length, entries.length, "same number of codes");
});

test("error catalog matches ErrorCatalog.cs (name, retryable, fatal, close code, HTTP status)", () => {
  const source = readFileSync(errorsDir + "ErrorCatalog.cs", "utf8");
  const rows = [...source.matchAll(/new\(ErrorCode\.(\w+), "(\w+)", (true|false), (true|false), (\d+), (\d+),/g)];
  assert.ok(rows.length >= 25, "parsed the C# table");
  assert.equal(ERROR_CATALOG.length, rows.length);
  for (const [, codeName, name, retryable, fatal, closeCode, http] of rows) {
    const info = errorInfo(ErrorCode[codeName]);
    assert.deepEqual(
      { name: info.name, retryable: info.retryable, fatal: info.fatal, closeCode: info.closeCode, httpStatus: info.httpStatus },
      { name, retryable: retryable === "true", fatal: fatal === "true", closeCode: Number(closeCode), httpStatus: Number(http) },
      codeName,
    );
  }
});

test("GatewayError carries code, name and retryable from the catalog", () => {
  const e = new GatewayError(ErrorCode.Overloaded, "busy");
  assert.equal(e.code, 0x0402);
  assert.equal(e.name, "overloaded");
  assert.equal(e.retryable, true);
  assert.equal(e.fatal, false);
  assert.ok(e instanceof Error);
  const f = new GatewayError(ErrorCode.Forbidden, "no");
  assert.equal(f.name, "forbidden");
  assert.equal(f.retryable, false);
  const unknown = errorInfo(0x7777);
  assert.equal(unknown.name, "unknown_7777");
  assert.equal(GatewayError.fromCloseCode(4001, "")?.name, "unauthorized");
  assert.equal(GatewayError.fromCloseCode(1000, ""), undefined);
});
