// Test support for failover tests: a real redis-server and a real HAProxy (configured from the production
// template, like deploy/local/cluster.sh), each a child process on loopback ports with a throwaway directory,
// stopped by PID (and killed if the test process exits first).
// Gateways come from gateway.mjs (started with the Redis engine so they share one history).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway, freePort, repoRoot } from "./gateway.mjs";

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

/**
 * Loopback ports laid out as deploy/local/cluster.sh lays them out (node i: HTTP nodeBase+10i, raw TCP +1;
 * the balancer's HTTP, TCP and stats front ends at nodeBase+1..3), in 20000-32000 (below Linux's ephemeral
 * range, so no outgoing connection takes them meanwhile) and checked free.
 */
export async function freeClusterPorts(nodes) {
  const isFree = (port) =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 200; attempt++) {
    const nodeBase = 20_000 + Math.floor(Math.random() * 1_200) * 10;
    const ports = {
      nodeBase,
      lbHttp: nodeBase + 1,
      lbTcp: nodeBase + 2,
      lbStats: nodeBase + 3,
      node: (i) => ({ port: nodeBase + 10 * i, tcpPort: nodeBase + 10 * i + 1 }),
    };
    const all = [ports.lbHttp, ports.lbTcp, ports.lbStats];
    for (let i = 1; i <= nodes; i++) all.push(ports.node(i).port, ports.node(i).tcpPort);
    let free = true;
    for (const port of all) if (!(await isFree(port))) free = false;
    if (free) return ports;
  }
  throw new Error("no free block of loopback ports in 20000-32000");
}

/** A gateway node on the shared Redis (raw TCP enabled as well), on `ports` ({ port, tcpPort }) when given. */
export function startNode(keys, name, redis, extraArgs = [], ports = {}) {
  return Gateway.start({
    keys,
    name,
    tcp: true,
    ...ports,
    extraArgs: ["--Gateway:Engine:Kind=redis", "--Gateway:Engine:Redis:Configuration=" + redis.configuration, "--Gateway:Engine:Redis:OperationTimeout=00:00:02", ...extraArgs],
  });
}

/**
 * HAProxy (Debian package haproxy) in front of `nodes` gateway nodes listening at `ports.node(i)`, configured
 * exactly as `deploy/local/cluster.sh up` configures it: the production template rendered by `cluster.sh render`
 * (readiness checks with the Healthy/Degraded header, leastconn, redispatch). Resolves once every node is UP in
 * the Healthy HTTP and TCP backends.
 */
export async function startHaproxy(ports, nodes) {
  const dir = mkdtempSync(join(tmpdir(), "archmesh-ts-haproxy-"));
  const rendered = spawnSync("bash", [join(repoRoot, "deploy", "local", "cluster.sh"), "render", String(nodes)], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, NODE_BASE_PORT: String(ports.nodeBase), LB_HTTP_PORT: String(ports.lbHttp), LB_TCP_PORT: String(ports.lbTcp), LB_STATS_PORT: String(ports.lbStats) },
  });
  if (rendered.status !== 0) throw new Error(`cluster.sh render failed (${rendered.status}): ${rendered.stderr}`);
  const path = join(dir, "haproxy.cfg");
  writeFileSync(path, rendered.stdout);
  const child = new Child("haproxy", ["-f", path, "-db"], dir);
  const inRotation = async () => {
    try {
      const csv = await (await fetch(`http://127.0.0.1:${ports.lbStats}/;csv`, { signal: AbortSignal.timeout(2000) })).text();
      // pxname,svname,...: column 18 (index 17) is the status.
      const up = csv.split("\n").map((line) => line.split(",")).filter((c) => (c[0] === "be_ready" || c[0] === "be_tcp_ready") && c[1]?.startsWith("node-") && c[17] === "UP");
      return up.length === 2 * nodes;
    } catch {
      return false;
    }
  };
  await waitFor(child, "haproxy", inRotation);
  return {
    wsUrl: `ws://127.0.0.1:${ports.lbHttp}/ws`,
    tcpUrl: `tcp://127.0.0.1:${ports.lbTcp}`,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
