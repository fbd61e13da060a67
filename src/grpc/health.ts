/**
 * {@linkcode MemberHealth}: how each member has been answering lately: the
 * latencies that set how long a call waits before it is hedged to the next
 * member, and a circuit breaker that skips a member that keeps failing or
 * stalling until it answers again.
 *
 * @module
 */

/**
 * Channel option carrying the {@linkcode MemberHealth} whose suspect members
 * the `mccache_ring` balancer skips.
 */
export const HEALTH_OPTION = "grpc.internal.no_subchannel.mccache_health";

/** Options for {@linkcode MemberHealth}. */
export interface MemberHealthOptions {
  /** The least time a call waits before it is hedged, in milliseconds. @default {50} */
  minHedgeMs?: number;
  /** Failures or stalls in a row after which a member is suspect. @default {3} */
  failuresToSuspect?: number;
  /** How often a suspect member is asked whether it answers again, in milliseconds. @default {500} */
  recheckMs?: number;
  /**
   * Asks a suspect member whether it answers (e.g. a call with a short
   * deadline); `true` clears it. Without it, a suspect member is tried again
   * after `recheckMs`.
   * @default {undefined}
   */
  check?: (member: string) => Promise<boolean>;
  /**
   * Asks whether a member that has answered nothing for its budget is alive
   * (e.g. a `Stats` call with a short deadline): a member busy with a slow
   * load answers it, a frozen one does not. Without it, silence is enough.
   * @default {undefined}
   */
  ping?: (member: string) => Promise<boolean>;
}

// Latencies kept per member: enough for a p99 that follows the last seconds.
const SAMPLES = 128;
// How many new samples make the p99 worth sorting again.
const RESORT_EVERY = 32;

class State {
  latencies = new Float64Array(SAMPLES);
  count = 0;
  sinceSort = 0;
  p99 = 0;
  failures = 0;
  suspect = false;
  // When it last answered (ms since the epoch; 0 = never).
  answeredAt = 0;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Per-member latency and suspicion. Callers report each answer (with its
 * latency) and each failure or stall; `budget` says how long to wait for a
 * member before hedging (4 × its recent p99, at least `minHedgeMs`), and
 * `suspect` whether to skip it.
 *
 * @example Suspect a member that stalls three times
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberHealth } from "@mccache/core/grpc";
 *
 * const health = new MemberHealth({ recheckMs: 60_000 });
 * for (let i = 0; i < 3; i++) health.failed("127.0.0.1:8002");
 * assert(health.suspect("127.0.0.1:8002"));
 * health.answered("127.0.0.1:8002", 2);
 * assert(!health.suspect("127.0.0.1:8002"));
 * health.close();
 * ```
 */
export class MemberHealth {
  #members = new Map<string, State>();
  #minHedgeMs: number;
  #failuresToSuspect: number;
  #recheckMs: number;
  #check: MemberHealthOptions["check"];
  #ping: MemberHealthOptions["ping"];
  #pings = new Map<string, Promise<boolean>>();
  #listeners = new Set<() => void>();
  #unreachable: ReadonlySet<string> = new Set();
  #closed = false;

  /** Creates an empty table. */
  constructor(options: MemberHealthOptions = {}) {
    this.#minHedgeMs = options.minHedgeMs ?? 50;
    this.#failuresToSuspect = options.failuresToSuspect ?? 3;
    this.#recheckMs = options.recheckMs ?? 500;
    this.#check = options.check;
    this.#ping = options.ping;
  }

  /**
   * Records an answer from `member` after `ms` milliseconds: it is healthy
   * (a suspect member is cleared here only without a `check`).
   */
  answered(member: string, ms: number): void {
    const state = this.#state(member);
    state.latencies[state.count++ % SAMPLES] = ms;
    state.answeredAt = Date.now();
    if (++state.sinceSort >= RESORT_EVERY) this.#resort(state);
    state.failures = 0;
    // With a check, only the check clears a member: it may do more than ask
    // (the gateway replays the writes the member missed).
    if (state.suspect && this.#check === undefined) this.#clear(state);
  }

  /** Records a failure or a stall of `member`. */
  failed(member: string): void {
    const state = this.#state(member);
    if (++state.failures < this.#failuresToSuspect || state.suspect) return;
    state.suspect = true;
    this.#schedule(member, state);
    this.#changed();
  }

  /** Whether calls should skip `member` for now. */
  suspect(member: string): boolean {
    return this.#members.get(member)?.suspect ?? false;
  }

  /** How long to wait for `member` before hedging a call, in milliseconds. */
  budget(member: string): number {
    const p99 = this.#members.get(member)?.p99 ?? 0;
    return Math.max(this.#minHedgeMs, 4 * p99);
  }

  /** Takes the members whose connections failed, as the balancer last saw them. */
  setUnreachable(members: ReadonlySet<string>): void {
    this.#unreachable = members;
  }

  /** Whether `member`'s connection failed (refused, reset), as the balancer last saw it. */
  unreachable(member: string): boolean {
    return this.#unreachable.has(member);
  }

  /** Milliseconds since `member` last answered (`Infinity` if it never did). */
  silentFor(member: string, now: number = Date.now()): number {
    const at = this.#members.get(member)?.answeredAt ?? 0;
    return at === 0 ? Infinity : now - at;
  }

  /**
   * Whether a member that has been silent is alive: one ping at a time per
   * member. An answer counts as an answer (see `silentFor`); no answer makes
   * the member suspect.
   */
  ping(member: string): Promise<boolean> {
    let pinging = this.#pings.get(member);
    if (pinging !== undefined) return pinging;
    const ask = this.#ping?.(member) ?? Promise.resolve(false);
    pinging = ask.catch(() => false).then((alive) => {
      this.#pings.delete(member);
      if (this.#closed) return alive;
      if (alive) this.#state(member).answeredAt = Date.now();
      else this.suspectNow(member);
      return alive;
    });
    this.#pings.set(member, pinging);
    return pinging;
  }

  /** Marks `member` suspect at once (e.g. its connection broke under a write). */
  suspectNow(member: string): void {
    const state = this.#state(member);
    state.failures = this.#failuresToSuspect - 1;
    this.failed(member);
  }

  /** The members something is known of. */
  members(): string[] {
    return [...this.#members.keys()];
  }

  /** Drops what is known of a member that left. */
  forget(member: string): void {
    const state = this.#members.get(member);
    if (state === undefined) return;
    clearTimeout(state.timer);
    this.#members.delete(member);
    if (state.suspect) this.#changed();
  }

  /** Calls `listener` (on a later tick) when a member becomes suspect or clears. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops asking suspect members. */
  close(): void {
    this.#closed = true;
    for (const state of this.#members.values()) clearTimeout(state.timer);
  }

  #state(member: string): State {
    let state = this.#members.get(member);
    if (state === undefined) this.#members.set(member, state = new State());
    return state;
  }

  #resort(state: State): void {
    state.sinceSort = 0;
    const n = Math.min(state.count, SAMPLES);
    const sorted = state.latencies.slice(0, n).sort();
    state.p99 = sorted[Math.min(n - 1, Math.floor(n * 0.99))];
  }

  #clear(state: State): void {
    state.suspect = false;
    clearTimeout(state.timer);
    state.timer = undefined;
    this.#changed();
  }

  // Asks a suspect member again every recheckMs until it answers.
  #schedule(member: string, state: State): void {
    if (this.#closed) return;
    state.timer = setTimeout(async () => {
      if (this.#members.get(member) !== state || !state.suspect) return;
      const check = this.#check;
      if (check === undefined || await check(member).catch(() => false)) {
        if (this.#members.get(member) === state && state.suspect) this.#clear(state);
        return;
      }
      if (this.#members.get(member) === state && state.suspect) this.#schedule(member, state);
    }, this.#recheckMs);
  }

  #changed(): void {
    if (this.#listeners.size === 0) return;
    setTimeout(() => {
      for (const listener of this.#listeners) listener();
    }, 0);
  }
}
