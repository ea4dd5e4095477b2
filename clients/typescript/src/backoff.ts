/**
 * Reconnect policy. The first attempt after a lost connection waits a uniformly random delay in
 * [0, firstReconnectWindowMs), so the clients of a node that died arrive spread over that window instead of
 * as one burst; a GoAway waits the delay the gateway hinted (already spread by the gateway). Later rounds
 * (one attempt per endpoint, starting after the one that was lost) back off exponentially with jitter.
 * Same rules and defaults as the .NET client's ReconnectPolicy.
 */
export interface ReconnectOptions {
  /** Reconnect at all after a drop (default true). */
  enabled?: boolean;
  /**
   * Window the first reconnect after a drop (or a GoAway without a delay hint) is spread over: a uniformly
   * random delay in [0, this). A node's N clients reconnect at about N / window per second. 0 = at once.
   * Default 1000 ms.
   */
  firstReconnectWindowMs?: number;
  /** Delay before the first retry round after a failed one; later rounds double it (default 250 ms). */
  initialDelayMs?: number;
  /** Largest delay (default 30 s). */
  maxDelayMs?: number;
  /** 0..1: fraction of each delay that is randomised (default 0.5: delay in [d/2, d]). */
  jitter?: number;
  /** Consecutive failed rounds (one attempt per endpoint) before giving up (default Infinity). */
  maxAttempts?: number;
  /** Random source in [0, 1) for the jitter (default Math.random); inject a seeded one to reproduce delays. */
  random?: () => number;
}

export interface ResolvedReconnect {
  enabled: boolean;
  firstReconnectWindowMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  maxAttempts: number;
  random: () => number;
}

export function resolveReconnect(options: ReconnectOptions | undefined): ResolvedReconnect {
  const r: ResolvedReconnect = {
    enabled: options?.enabled ?? true,
    firstReconnectWindowMs: options?.firstReconnectWindowMs ?? 1000,
    initialDelayMs: options?.initialDelayMs ?? 250,
    maxDelayMs: options?.maxDelayMs ?? 30_000,
    jitter: options?.jitter ?? 0.5,
    maxAttempts: options?.maxAttempts ?? Number.POSITIVE_INFINITY,
    random: options?.random ?? Math.random,
  };
  if (!(r.firstReconnectWindowMs >= 0)) throw new RangeError("reconnect.firstReconnectWindowMs must be >= 0.");
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
export function backoffDelay(attempt: number, policy: ResolvedReconnect, random: () => number = policy.random ?? Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - policy.jitter * random()));
}

/**
 * Delay before the first reconnect after a connection was lost. `shortLivedDrops` counts the consecutive
 * connections (this one included) that ended before they were stable (10 s): 0 or 1 draws uniformly from
 * [0, firstReconnectWindowMs); more (a node that accepts and then drops, again and again) backs off like
 * failed rounds, so a flapping node is not hammered.
 */
export function firstReconnectDelay(shortLivedDrops: number, policy: ResolvedReconnect, random: () => number = policy.random): number {
  if (shortLivedDrops <= 1) return Math.floor(policy.firstReconnectWindowMs * random());
  return backoffDelay(shortLivedDrops - 2, policy, random);
}

/**
 * Delay before the first reconnect after a GoAway that hinted `hintedMs` (the gateway spreads its clients'
 * hints; the client keeps the old connection until then), of which `remainingMs` is left: what is left of
 * the hint; without a hint (0), a draw from the window like after a drop. A flapping node is backed off from.
 */
export function goAwayDelay(hintedMs: number, remainingMs: number, shortLivedDrops: number, policy: ResolvedReconnect, random: () => number = policy.random): number {
  if (!(hintedMs > 0)) return firstReconnectDelay(shortLivedDrops, policy, random);
  const left = Math.max(0, remainingMs);
  return shortLivedDrops <= 1 ? left : Math.max(left, firstReconnectDelay(shortLivedDrops, policy, random));
}
