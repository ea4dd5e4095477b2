// Compile-only check of the shipped declarations (dist/*.d.ts through the package's `exports` map).
import { GatewayClient, GatewayError, GatewayMessage, Subscription, ErrorCode, type PublishResult, type RecoveryStatus, type ConnectionState, type DiscontinuityEvent, type DiscontinuityKind } from "@archmesh/gateway-client";
import { encodeFrame, readFrame, FrameKind, type Frame } from "@archmesh/gateway-client/protocol";

export async function usage(signal: AbortSignal): Promise<void> {
  const client: GatewayClient = await GatewayClient.connect({
    endpoints: ["ws://localhost:5080/ws"],
    getToken: async ({ reason }) => (reason === "refresh" ? "new" : "first"),
    reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, jitter: 0.3 },
    heartbeatMs: 10_000,
    clientName: "types",
    signal,
  });
  const off: () => void = client.on("state", ({ state, previous }) => {
    const s: ConnectionState = state;
    void s;
    void previous;
  });
  off();
  client.on("recoveryFailed", (e) => console.log(e.topic, e.from.offset + 1n, e.subscription.recovery));
  const sub: Subscription = await client.subscribe("workflow:1", { signal, from: { epoch: 1n, offset: 2n } });
  const status: RecoveryStatus = sub.recovery;
  void status;
  sub.on("discontinuity", (e: DiscontinuityEvent) => {
    const kind: DiscontinuityKind = e.kind;
    if (e.refetch) console.log(kind, e.from?.offset, e.to?.epoch, e.missed + 1n, e.recovering);
  });
  sub.on("recoveryIncomplete", (e) => console.log(e.topic, e.lastReplayed?.offset, e.message));
  sub.on("gap", (e) => console.log(e.from.offset, e.to?.offset, e.missed, e.recovering));
  sub.on("epochChanged", (e) => console.log(e.from.epoch, e.to.epoch));
  client.on("recoveryIncomplete", (e) => console.log(e.subscription.recovery === "incomplete"));
  client.on("discontinuity", (e) => console.log(e.subscription.topic, e.kind));
  for await (const msg of sub) {
    const m: GatewayMessage = msg;
    const offset: bigint = m.offset;
    const data = m.json<{ step: number }>();
    console.log(offset, data.step, m.afterGap, m.priority satisfies "critical" | "high" | "normal" | "low");
    break;
  }
  for await (const n of client.notifications()) client.ack(n);
  try {
    const r: PublishResult = await client.publish("team:1", new Uint8Array([1]), { priority: "high", signal });
    console.log(r.epoch, r.offset);
  } catch (e) {
    if (e instanceof GatewayError && e.code === ErrorCode.Overloaded && e.retryable) console.log(e.name);
  }
  const bytes: Uint8Array = encodeFrame({ kind: FrameKind.Ping, nonce: 1n });
  const frame: Frame | undefined = readFrame(bytes)?.frame;
  if (frame?.kind === FrameKind.Ping) console.log(frame.nonce);
  // @ts-expect-error publish needs a topic string
  await client.publish(1, "x");
  await client.close();
}
