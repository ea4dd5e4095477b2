// Test support: builds and starts the real gateway (dotnet gateway.dll) on a free loopback port with an
// explicit HS256 key and API key, mints tokens with node:crypto, calls the HTTP API, and offers a TCP proxy
// that can drop or freeze connections like a network would.
import { spawn, spawnSync } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const repoRoot = join(packageRoot, "..", "..");
export const resultsDir = join(repoRoot, "artifacts", "test-results");
const gatewayDll = process.env.ARCHMESH_GATEWAY_DLL ?? join(repoRoot, "src", "Gateway", "bin", "Release", "net10.0", "gateway.dll");

/**
 * Builds the gateway (Release) when its dll is missing, or always with ARCHMESH_TS_BUILD_GATEWAY=1.
 * ARCHMESH_GATEWAY_DLL points the tests at another build.
 */
export function ensureGatewayBuilt() {
  if (existsSync(gatewayDll) && (process.env.ARCHMESH_TS_BUILD_GATEWAY !== "1" || process.env.ARCHMESH_GATEWAY_DLL)) return gatewayDll;
  const result = spawnSync("dotnet", ["build", join(repoRoot, "src", "Gateway"), "-c", "Release", "--nologo", "-v", "q"], { stdio: "inherit", cwd: repoRoot });
  if (result.status !== 0 || !existsSync(gatewayDll)) throw new Error(`dotnet build src/Gateway failed (exit ${result.status}).`);
  return gatewayDll;
}

/** A free loopback TCP port (bound then released). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Gateways started by this process; killed if the test process exits without stopping them.
const children = new Set();
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** Keys shared by the gateway processes of one test file (a restarted gateway accepts the same tokens). */
export function createKeys() {
  return {
    secret: randomBytes(32),
    apiKey: "test-api-key-" + randomBytes(12).toString("hex"),
  };
}

/** One gateway process. */
export class Gateway {
  constructor({ keys, port, tcpPort, name = "gateway", extraArgs = [] }) {
    this.keys = keys;
    this.port = port;
    this.tcpPort = tcpPort;
    this.name = name;
    this.extraArgs = extraArgs;
    this.process = undefined;
    this.exited = undefined;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }
  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }
  /** The raw TCP endpoint (only when started with `tcp: true`). */
  get tcpUrl() {
    return `tcp://127.0.0.1:${this.tcpPort}`;
  }

  /** Starts the gateway and waits until /health/live answers 200. */
  static async start(options) {
    const tcpPort = options.tcp ? (options.tcpPort ?? (await freePort())) : undefined;
    const gateway = new Gateway({ ...options, port: options.port ?? (await freePort()), tcpPort });
    await gateway.start();
    return gateway;
  }

  args() {
    const { secret, apiKey } = this.keys;
    return [
      ensureGatewayBuilt(),
      `--urls=http://127.0.0.1:${this.port}`,
      "--Gateway:NodeId=" + this.name,
      ...(this.tcpPort ? ["--Gateway:Tcp:Enabled=true", `--Gateway:Tcp:Port=${this.tcpPort}`, "--Gateway:Tcp:BindAddress=127.0.0.1"] : ["--Gateway:Tcp:Enabled=false"]),
      "--Gateway:Auth:SigningKeys:0:Id=test",
      "--Gateway:Auth:SigningKeys:0:Algorithm=HS256",
      "--Gateway:Auth:SigningKeys:0:Secret=" + secret.toString("base64"),
      "--Gateway:Auth:ApiKeys:0:Name=test",
      "--Gateway:Auth:ApiKeys:0:Sha256=" + createHash("sha256").update(apiKey).digest("hex"),
      ...this.extraArgs,
    ];
  }

  async start() {
    mkdirSync(resultsDir, { recursive: true });
    const log = createWriteStream(join(resultsDir, `ts-${this.name}-${this.port}.log`), { flags: "a" });
    this.logTail = [];
    const child = spawn("dotnet", this.args(), {
      cwd: repoRoot,
      env: { ...process.env, ASPNETCORE_ENVIRONMENT: process.env.ARCHMESH_TS_GATEWAY_ENV ?? "Production", DOTNET_NOLOGO: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    children.add(child);
    const keep = (chunk) => {
      log.write(chunk);
      this.logTail.push(chunk.toString());
      if (this.logTail.length > 200) this.logTail.splice(0, 100);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => {
      children.delete(child);
      log.end();
      resolve({ code, signal });
    }));
    const deadline = Date.now() + 90_000;
    let exit;
    this.exited.then((e) => (exit = e));
    while (Date.now() < deadline) {
      if (exit) throw new Error(`gateway exited during start (${JSON.stringify(exit)}):\n${this.logTail.join("").slice(-4000)}`);
      try {
        const response = await fetch(this.httpUrl + "/health/live", { signal: AbortSignal.timeout(2000) });
        if (response.ok) return this;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    await this.stop();
    throw new Error(`gateway did not become live within 90 s:\n${this.logTail.join("").slice(-4000)}`);
  }

  /** Stops exactly this process: SIGTERM (graceful drain) or SIGKILL (crash); resolves on exit. */
  async stop(signal = "SIGTERM") {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** A JWT for this gateway's key. */
  token(claims = {}) {
    return mintToken(this.keys.secret, claims);
  }

  /** POST to the HTTP API with the API key; resolves with { status, body }. */
  async post(path, body) {
    const response = await fetch(this.httpUrl + path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": this.keys.apiKey },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, body: json };
  }

  /** POST that must succeed (2xx). */
  async postOk(path, body) {
    const result = await this.post(path, body);
    if (result.status < 200 || result.status > 299) throw new Error(`POST ${path} → ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  }
}

const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** HS256 JWT with the gateway's default issuer/audience. `ttl` in seconds (default 1 h). */
export function mintToken(secret, { sub = "alice", subscribe = [], publish = [], ttl = 3600, exp, iat, iss = "archmesh", aud = "archmesh-gateway" } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub, iss, aud, iat: iat ?? now, exp: exp ?? now + ttl, subscribe, publish };
  if (sub === null) delete payload.sub;
  const head = b64url({ alg: "HS256", typ: "JWT", kid: "test" });
  const body = b64url(payload);
  const signature = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${signature}`;
}

/**
 * A TCP proxy in front of the gateway. `drop()` destroys every proxied connection (a network drop),
 * `block()` refuses new connections until `unblock()`, `freeze()` stops forwarding bytes without closing
 * (a half-open connection) until `thaw()`.
 */
export class TcpProxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.pairs = new Set();
    this.blocked = false;
    this.frozen = false;
    this.accepted = 0;
    this.refused = 0;
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetPort) {
    const proxy = new TcpProxy(targetPort);
    await new Promise((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    proxy.port = proxy.server.address().port;
    return proxy;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }
  /** The raw TCP endpoint (only when started with `tcp: true`). */
  get tcpUrl() {
    return `tcp://127.0.0.1:${this.tcpPort}`;
  }

  accept(client) {
    if (this.blocked) {
      this.refused++;
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = net.connect(this.targetPort, "127.0.0.1");
    const pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    const forward = (from, to) =>
      from.on("data", (chunk) => {
        if (!pair.frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  }

  drop() {
    for (const pair of [...this.pairs]) {
      pair.client.resetAndDestroy?.() ?? pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }
  block() {
    this.blocked = true;
  }
  unblock() {
    this.blocked = false;
  }
  /** Stops reading from the gateway on the current connections (TCP backpressure: a slow consumer). */
  stall() {
    for (const pair of this.pairs) pair.upstream.pause();
  }
  unstall() {
    for (const pair of this.pairs) pair.upstream.resume();
  }
  /** Freezes the current connections (new ones flow normally). */
  freeze() {
    for (const pair of this.pairs) pair.frozen = true;
  }
  get connections() {
    return this.pairs.size;
  }

  async close() {
    this.drop();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Waits until `predicate()` is truthy (polling, bounded); for state that has no event. */
export async function until(predicate, { timeoutMs = 30_000, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) return value;
    await sleep(25);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
}

/** Reads `count` messages from an async iterator, bounded by a timeout (one timer for the whole read, not one abort listener per message). */
export async function take(subscription, count, timeoutMs = 30_000) {
  const out = [];
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for message ${out.length + 1} of ${count} on ${subscription.topic}`)), timeoutMs);
  });
  timeout.catch(() => undefined);
  try {
    while (out.length < count) {
      const next = await Promise.race([subscription.next(), timeout]);
      if (next.done) throw new Error(`subscription ${subscription.topic} ended after ${out.length} messages`);
      out.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}
