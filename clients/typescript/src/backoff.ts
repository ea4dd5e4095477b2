/** Reconnect policy: jittered exponential backoff across the endpoint list. */
export interface ReconnectOptions {
  /** Reconnect at all after a drop (default true). */
  enabled?: boolean;
  /** First delay (default 250 ms). */
  initialDelayMs?: number;
  /** Largest delay (default 30 s). */
  maxDelayMs?: number;
  /** 0..1: fraction of each delay that is randomised (default 0.5: delay in [d/2, d]). */
  jitter?: number;
  /** Consecutive failed rounds (one attempt per endpoint) before giving up (default Infinity). */
  maxAttempts?: number;
}

export interface ResolvedReconnect {
  enabled: boolean;
  initialDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  maxAttempts: number;
}

export function resolveReconnect(options: ReconnectOptions | undefined): ResolvedReconnect {
  const r: ResolvedReconnect = {
    enabled: options?.enabled ?? true,
    initialDelayMs: options?.initialDelayMs ?? 250,
    maxDelayMs: options?.maxDelayMs ?? 30_000,
    jitter: options?.jitter ?? 0.5,
    maxAttempts: options?.maxAttempts ?? Number.POSITIVE_INFINITY,
  };
  if (!(r.initialDelayMs >= 0)) throw new RangeError("reconnect.initialDelayMs must be >= 0.");
  if (!(r.maxDelayMs >= r.initialDelayMs)) throw new RangeError("reconnect.maxDelayMs must be >= initialDelayMs.");
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new RangeError("reconnect.jitter must be between 0 and 1.");
  if (!(r.maxAttempts >= 1)) throw new RangeError("reconnect.maxAttempts must be >= 1.");
  return r;
}

/**
 * Delay before attempt number `attempt` (0 = first retry): min(max, initial * 2^attempt), of which a
 * `jitter` fraction is random, so a crowd of clients spreads out instead of reconnecting in lockstep.
 */
export function backoffDelay(attempt: number, policy: ResolvedReconnect, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - policy.jitter * random()));
}
