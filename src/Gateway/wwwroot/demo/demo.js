// The /demo page (Development only): the TypeScript client's browser bundle (gateway-client.js, built
// from clients/typescript) connected to the gateway that serves the page, with a token from /demo/token.
// Query: ?user=alice&workflows=7f3a,9b21
import { GatewayClient } from "/demo/gateway-client.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const user = params.get("user") || "alice";
const workflows = (params.get("workflows") || "7f3a").split(",").map((s) => s.trim()).filter(Boolean);
const endpoint = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function body(message) {
  try {
    const value = message.json();
    return typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    return message.text();
  }
}

function meta(message, extra = "") {
  const flags = [message.retained && "retained state", message.replayed && "replayed", message.afterGap && "after a gap"].filter(Boolean);
  return `${message.topic} · #${message.offset} · ${message.priority} · ${message.timestamp.toLocaleTimeString()}${flags.length ? " · " + flags.join(", ") : ""}${extra}`;
}

function log(text) {
  const item = element("li", "", `${new Date().toLocaleTimeString()} ${text}`);
  $("log").prepend(item);
}

function workflowRow(id) {
  let row = document.querySelector(`#workflows li[data-workflow="${CSS.escape(id)}"]`);
  if (!row) {
    row = element("li", "workflow");
    row.dataset.workflow = id;
    row.append(element("strong", "", `workflow:${id}`), element("div", "bar"), element("div", "text", "no state yet"), element("div", "meta"));
    row.querySelector(".bar").append(element("div", "fill"));
    $("workflows").append(row);
  }
  return row;
}

function showWorkflow(id, message) {
  const row = workflowRow(id);
  let state;
  try {
    state = message.json();
  } catch {
    state = { state: message.text() };
  }
  let progress = Number(state?.progress ?? (state?.state === "succeeded" || state?.state === "done" ? 1 : 0));
  if (progress > 1) progress /= 100; // accept 0..1 and 0..100
  progress = Math.min(1, Math.max(0, progress || 0));
  row.dataset.state = String(state?.state ?? "");
  row.dataset.progress = String(progress);
  row.querySelector(".fill").style.width = `${Math.round(progress * 100)}%`;
  row.querySelector(".text").textContent = `${state?.state ?? "?"} · ${Math.round(progress * 100)} %`;
  row.querySelector(".meta").textContent = meta(message);
}

async function watchWorkflow(client, id) {
  workflowRow(id);
  const sub = await client.subscribe(`workflow:${id}`);
  sub.on("recovered", () => log(`workflow:${id}: recovered after reconnect (missed updates replayed)`));
  sub.on("recoveryFailed", () => log(`workflow:${id}: history lost (e.g. the gateway restarted): showing the current state`));
  for await (const message of sub) showWorkflow(id, message);
}

async function showNotifications(client) {
  for await (const message of client.notifications()) {
    const item = element("li", "notification");
    const ack = element("button", "", "Ack");
    ack.addEventListener("click", () => {
      client.ack(message); // acked: the gateway stops redelivering it on the next connect
      item.classList.add("acked");
      ack.disabled = true;
      ack.textContent = "acked";
    });
    item.dataset.offset = String(message.offset);
    item.append(ack, element("div", "text", body(message)), element("div", "meta", meta(message, message.replayed ? " · redelivered (not acked yet)" : "")));
    $("notifications").prepend(item);
  }
}

async function showBroadcasts(client) {
  for await (const message of client.broadcasts()) {
    const item = element("li", "broadcast");
    item.append(element("div", "text", body(message)), element("div", "meta", meta(message)));
    $("broadcasts").prepend(item);
  }
}

async function main() {
  for (const node of document.querySelectorAll("#user, .user")) node.textContent = user;
  const origin = `localhost:${location.port || 80}`;
  $("try").textContent = [
    "KEY=$(src/Gateway/bin/Debug/net10.0/gateway apikey)",
    `curl -s ${origin}/api/v1/workflows/${workflows[0]} -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' -d '{"payload":{"state":"running","progress":0.4}}'`,
    `curl -s ${origin}/api/v1/notify -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' -d '{"user":"${user}","payload":{"title":"Build finished"},"priority":"high"}'`,
    `curl -s ${origin}/api/v1/broadcast -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' -d '{"payload":"hello all"}'`,
  ].join("\n");

  const client = new GatewayClient({
    endpoints: [endpoint],
    // Called for every connect and before expiry: a restarted gateway gets a fresh token too.
    getToken: async () => {
      const response = await fetch(`/demo/token?user=${encodeURIComponent(user)}`, { cache: "no-store" });
      if (!response.ok) throw new Error(`/demo/token answered ${response.status}`);
      return response.text();
    },
    clientName: "archmesh-demo",
    retryInitialConnect: true,
    reconnect: { initialDelayMs: 250, maxDelayMs: 3000 },
  });
  window.archmeshClient = client;
  client.on("state", ({ state }) => {
    $("state").dataset.state = state;
    $("state").textContent = state;
    log(`state: ${state}`);
  });
  client.on("connected", (info) => log(`connected to node ${info.nodeId} as ${info.userId}`));
  client.on("disconnected", ({ error, closeCode }) => log(`disconnected (${error ? error.name : "closed"}${closeCode ? ", " + closeCode : ""})`));
  client.on("closed", ({ error }) => { if (error) $("error").textContent = `${error.name}: ${error.message}`; });

  $("add-workflow").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("workflow-id").value.trim();
    $("workflow-id").value = "";
    if (id && !document.querySelector(`#workflows li[data-workflow="${CSS.escape(id)}"]`)) {
      watchWorkflow(client, id).catch((error) => log(`workflow:${id}: ${error.name}: ${error.message}`));
    }
  });

  try {
    await client.start();
  } catch (error) {
    $("error").textContent = `${error.name}: ${error.message}`;
    return;
  }
  showNotifications(client);
  showBroadcasts(client);
  for (const id of workflows) watchWorkflow(client, id).catch((error) => log(`workflow:${id}: ${error.name}: ${error.message}`));
}

main();
