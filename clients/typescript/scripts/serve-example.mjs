// `npm run example:browser`: builds the client, then serves examples/ and dist/ of this package on
// http://localhost:8090 (PORT=... to change) and prints the example's address. Start a gateway first
// (`dotnet run --project src/Gateway` at the repository root: Development accepts pages from localhost),
// then paste a token from `src/Gateway/bin/Debug/net10.0/gateway token --user alice` into the page.
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 8090);
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json", ".css": "text/css" };

createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^[/\\]+/, "");
  const file = join(root, path);
  if (!(path.startsWith("examples/") || path.startsWith("dist/")) || !existsSync(file)) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
  res.end(readFileSync(file));
}).listen(port, "127.0.0.1", () => {
  console.log(`browser example: http://localhost:${port}/examples/browser/index.html  (Ctrl+C stops)`);
});
