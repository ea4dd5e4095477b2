import { HEADER_SIZE, SUBPROTOCOL, TCP_HELLO } from "./protocol/constants.js";
import type { WebSocketConstructor, WebSocketLike } from "./websocket.js";

/**
 * The raw TCP transport (Node only): `tcp://host:port` or `tcps://host:port` (TLS). It starts with the
 * 6-byte hello ("AMSH" + u16 version, echoed by the server), then frames follow each other on the byte
 * stream. This adapter gives the client the same shape as a WebSocket: each "message" it delivers holds
 * whole frames only.
 */

interface NodeSocket {
  write(data: Uint8Array): boolean;
  end(): void;
  destroy(): void;
  setNoDelay?(noDelay: boolean): void;
  on(event: "data", listener: (chunk: Uint8Array) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "close", listener: () => void): void;
  on(event: string, listener: (...args: never[]) => void): void;
}

interface NetModule {
  connect(options: { host: string; port: number; servername?: string }, onConnect: () => void): NodeSocket;
}

/** Largest frame body accepted on the stream before the client's own frame reader checks it. */
const MAX_STREAM_FRAME = 16 * 1024 * 1024;

function equalsHello(bytes: Uint8Array): boolean {
  return bytes.length >= TCP_HELLO.length && TCP_HELLO.every((b, i) => bytes[i] === b);
}

/** Whether an endpoint uses the raw TCP transport. */
export function isTcpEndpoint(endpoint: string): boolean {
  return /^tcps?:\/\//i.test(endpoint);
}

let cached: WebSocketConstructor | undefined;

/** Loads node:net / node:tls and returns a WebSocket-shaped constructor for tcp:// and tcps:// endpoints. */
export async function resolveTcp(): Promise<WebSocketConstructor> {
  cached ??= await createTcpSocketClass();
  return cached;
}

async function createTcpSocketClass(): Promise<WebSocketConstructor> {
  const netName = "node:net";
  const tlsName = "node:tls";
  let net: NetModule;
  let tls: NetModule;
  try {
    net = (await import(/* @vite-ignore */ /* webpackIgnore: true */ netName)) as NetModule;
    tls = (await import(/* @vite-ignore */ /* webpackIgnore: true */ tlsName)) as NetModule;
  } catch (error) {
    throw new Error("The raw TCP transport (tcp://) needs Node.js; browsers use ws:// or wss:// endpoints.", { cause: error });
  }

  return class TcpSocket implements WebSocketLike {
    binaryType = "arraybuffer";
    protocol = "";
    readyState = 0;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string; wasClean?: boolean }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    private readonly socket: NodeSocket;
    private buffer = new Uint8Array(0);
    private helloDone = false;
    private closedByUs = false;
    private failed = false;
    private closeFired = false;

    constructor(url: string) {
      const parsed = new URL(url);
      const secure = parsed.protocol === "tcps:";
      const host = parsed.hostname.replace(/^\[|\]$/g, "");
      const port = Number(parsed.port || 5081);
      const onConnect = (): void => {
        this.socket.setNoDelay?.(true);
        this.socket.write(TCP_HELLO);
      };
      this.socket = secure ? tls.connect({ host, port, servername: host }, onConnect) : net.connect({ host, port }, onConnect);
      this.socket.on("data", (chunk: Uint8Array) => this.receive(chunk));
      this.socket.on("error", (error: Error) => {
        this.failed = true;
        this.onerror?.({ message: error.message, error });
      });
      this.socket.on("close", () => this.fireClose());
    }

    send(data: Uint8Array | ArrayBuffer): void {
      if (this.readyState !== 1) throw new Error("The TCP connection is not open.");
      this.socket.write(data instanceof Uint8Array ? data : new Uint8Array(data));
    }

    close(): void {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      this.closedByUs = true;
      this.socket.end();
      // Do not wait for a peer that stopped answering.
      const timer = setTimeout(() => this.socket.destroy(), 2_000);
      (timer as unknown as { unref?: () => void }).unref?.();
    }

    terminate(): void {
      this.closedByUs = true;
      this.readyState = 2;
      this.socket.destroy();
    }

    private fireClose(): void {
      if (this.closeFired) return;
      this.closeFired = true;
      this.readyState = 3;
      const clean = this.closedByUs && !this.failed;
      this.onclose?.({ code: clean ? 1000 : 1006, reason: "", wasClean: clean });
    }

    private receive(chunk: Uint8Array): void {
      const merged = new Uint8Array(this.buffer.length + chunk.length);
      merged.set(this.buffer);
      merged.set(chunk, this.buffer.length);
      this.buffer = merged;
      if (!this.helloDone) {
        if (this.buffer.length < TCP_HELLO.length) return;
        this.helloDone = true;
        if (equalsHello(this.buffer)) {
          this.buffer = this.buffer.slice(TCP_HELLO.length);
          this.protocol = SUBPROTOCOL;
          this.readyState = 1;
          this.onopen?.({});
        }
        // Otherwise the server answered with an Error frame instead of the hello: deliver it below.
      }
      // Cut whole frames (header length prefix); the client's frame reader checks everything else.
      let end = 0;
      const view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
      while (this.buffer.length - end >= HEADER_SIZE) {
        const length = view.getUint32(end);
        if (length > MAX_STREAM_FRAME) {
          this.failed = true;
          this.onerror?.({ message: `Frame length ${length} on the TCP stream exceeds ${MAX_STREAM_FRAME}.` });
          this.socket.destroy();
          return;
        }
        if (this.buffer.length - end < HEADER_SIZE + length) break;
        end += HEADER_SIZE + length;
      }
      if (end === 0) return;
      const message = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end);
      this.onmessage?.({ data: message.buffer });
    }
  };
}
