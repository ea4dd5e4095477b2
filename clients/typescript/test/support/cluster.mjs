// Test support for failover tests: a real redis-server and a real HAProxy, each a child process on free
// loopback ports with a throwaway directory, stopped by PID (and killed if the test process exits first).
// Gateways come from gateway.mjs (started with the Redis engine so they share one history).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway, freePort } from "./gateway.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** A child process whose output is kept (for error messages) and which is killed by PID. */
class Child {
  constructor(command, args, cwd) {
    this.output = [];
    this.process = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    children.add(this.process);
    const keep = (chunk) => {
      this.output.push(chunk.toString());
      if (this.output.length > 100) this.output.splice(0, 50);
    };
    this.process.stdout.on("data", keep);
    this.process.stderr.on("data", keep);
    this.failed = new Promise((resolve) => this.process.on("error", resolve));
    this.exited = new Promise((resolve) => this.process.on("exit", (code, signal) => {
      children.delete(this.process);
      resolve({ code, signal });
    }));
  }
  get running() {
    return this.process.exitCode === null && this.process.signalCode === null;
  }
  async stop() {
    if (this.running) this.process.kill("SIGKILL");
    await Promise.race([this.exited, this.failed]);
  }
}

async function waitFor(child, what, probe) {
  const deadline = Date.now() + 30_000;
  let error;
  child.failed.then((e) => (error = e));
  while (Date.now() < deadline) {
    if (error) throw new Error(`${what} did not start: ${error.message}`);
    if (!child.running) throw new Error(`${what} exited: ${child.output.join("").slice(-2000)}`);
    if (await probe()) return;
    await sleep(50);
  }
  await child.stop();
  throw new Error(`${what} did not become ready within 30 s: ${child.output.join("").slice(-2000)}`);
}

/** redis-server (Debian package redis-server) without persistence. */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "archmesh-ts-redis-"));
  const child = new Child("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no", "--loglevel", "warning"], dir);
  const ping = () =>
    new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => resolve(false));
      socket.on("connect", () => socket.write("PING\r\n"));
      socket.on("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("+PONG"));
      });
    });
  await waitFor(child, "redis-server", ping);
  return {
    configuration: `127.0.0.1:${port}`,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A gateway node on the shared Redis (raw TCP enabled as well). */
export function startNode(keys, name, redis, extraArgs = []) {
  return Gateway.start({
    keys,
    name,
    tcp: true,
    extraArgs: ["--Gateway:Engine:Kind=redis", "--Gateway:Engine:Redis:Configuration=" + redis.configuration, "--Gateway:Engine:Redis:OperationTimeout=00:00:02", ...extraArgs],
  });
}

/**
 * HAProxy (Debian package haproxy) in front of `nodes`: HTTP mode for /ws and the API, TCP mode for the raw
 * TCP port, both checked on /health/ready every 500 ms (a dead or draining node leaves the rotation).
 */
export async function startHaproxy(nodes) {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "archmesh-ts-haproxy-"));
  const servers = (line) => nodes.map(line).join("\n");
  const config = `global
    maxconn 4096

defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 60s
    option redispatch
    retries 3

frontend http_in
    mode http
    bind 127.0.0.1:${httpPort}
    default_backend gateways_http

backend gateways_http
    mode http
    balance leastconn
    option httpchk GET /health/ready
    default-server inter 500ms fall 1 rise 1
${servers((n) => `    server ${n.name} 127.0.0.1:${n.port} check`)}

frontend tcp_in
    mode tcp
    bind 127.0.0.1:${tcpPort}
    default_backend gateways_tcp

backend gateways_tcp
    mode tcp
    balance leastconn
    option httpchk GET /health/ready
    default-server inter 500ms fall 1 rise 1
${servers((n) => `    server ${n.name} 127.0.0.1:${n.tcpPort} check port ${n.port}`)}
`;
  const path = join(dir, "haproxy.cfg");
  writeFileSync(path, config);
  const child = new Child("haproxy", ["-f", path, "-db"], dir);
  const ready = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${httpPort}/health/ready`, { signal: AbortSignal.timeout(2000) })).ok;
    } catch {
      return false;
    }
  };
  await waitFor(child, "haproxy", ready);
  return {
    wsUrl: `ws://127.0.0.1:${httpPort}/ws`,
    tcpUrl: `tcp://127.0.0.1:${tcpPort}`,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
