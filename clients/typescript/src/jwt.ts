/** Reads the `exp` / `iat` claims of a JWT without verifying it (to schedule a refresh). */
export function readJwtTimes(token: string): { exp?: number; iat?: number } {
  const part = token.split(".")[1];
  if (!part) return {};
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)))) as { exp?: unknown; iat?: unknown };
    return {
      exp: typeof json.exp === "number" ? json.exp : undefined,
      iat: typeof json.iat === "number" ? json.iat : undefined,
    };
  } catch {
    return {};
  }
}
