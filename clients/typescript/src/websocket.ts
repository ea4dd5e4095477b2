/** The subset of the WHATWG WebSocket the client uses (browsers, Node 22+ global, and the `ws` package). */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the socket without a close handshake. */
  terminate?: () => void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

let cached: WebSocketConstructor | undefined;

/**
 * The WebSocket implementation: the one given in the options, else the global one (browsers, Deno, Bun,
 * Node 22+), else the optional peer dependency `ws`, loaded on demand (Node 20).
 */
export async function resolveWebSocket(explicit?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (explicit) return explicit;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  if (cached) return cached;
  const name = "ws";
  try {
    const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
    cached = mod.WebSocket ?? mod.default;
  } catch (error) {
    throw new Error("No WebSocket implementation: this runtime has no global WebSocket; install the 'ws' package (npm i ws) or pass options.WebSocket.", { cause: error });
  }
  if (!cached) throw new Error("The 'ws' package did not export a WebSocket class.");
  return cached;
}
