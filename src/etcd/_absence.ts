// Members that vanished from etcd right after an outage, kept in the ring
// until they have had their chance to register again. Used by the discovery;
// not exported from mod.ts.

/**
 * Asks whether `member` (`"host:port"`) answers, e.g. with a TCP connect or a
 * health call; resolves `false` when it does not. `signal` aborts when the
 * answer is no longer wanted (it took too long, or the discovery stopped).
 */
export type Reachability = (member: string, signal: AbortSignal) => Promise<boolean>;

/** The clock {@linkcode AbsenceGrace} runs on; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** Options for {@linkcode AbsenceGrace}. */
export interface AbsenceGraceOptions {
  /** How long after a reconnect nothing is dropped, in milliseconds (one lease TTL). */
  graceMs: number;
  /** How often members still held are asked again, in milliseconds. */
  recheckMs: number;
  /** How long one reachability check may take before it counts as "unreachable". */
  checkTimeoutMs: number;
  isReachable: Reachability;
  /** Called with the members given up on, after they left `held`. */
  onDrop: (members: string[]) => void;
  /** Called with the members that `keep()` starts to hold. @default {undefined} */
  onHold?: (members: string[]) => void;
  /** @default {systemClock} */
  clock?: Clock;
}

/**
 * Decides which members that etcd no longer lists stay in the ring. etcd
 * that comes back with an empty data dir (or with keys lost otherwise)
 * lists nobody until the members notice and register again, which takes
 * them up to a lease TTL: dropping them meanwhile would empty the ring of
 * members that serve. So for `graceMs` after each reconnect, a member that
 * leaves etcd is held instead of dropped; once the window closes, a held
 * member is dropped only when it is also unreachable, and one that answers
 * is asked again every `recheckMs` until it registers or stops answering.
 * Outside a window, leaves are applied at once: a revoked or expired lease
 * is a real leave.
 *
 * @example Keep a member through a reconnect
 * ```ts
 * import assert from "node:assert/strict";
 * import { AbsenceGrace } from "./_absence.ts";
 *
 * const grace = new AbsenceGrace({
 *   graceMs: 5000,
 *   recheckMs: 1000,
 *   checkTimeoutMs: 1000,
 *   isReachable: () => Promise.resolve(true),
 *   onDrop: () => {},
 * });
 * grace.reconnected();
 * const kept = grace.keep(new Map([["127.0.0.1:8001", "lease-1"]]), new Map());
 * assert.deepEqual([...kept.keys()], ["127.0.0.1:8001"]);
 * grace.stop();
 * ```
 */
export class AbsenceGrace {
  #options: AbsenceGraceOptions;
  #clock: Clock;
  /** member → the registration id it was last published with. */
  #held = new Map<string, string>();
  #windowEnds = -Infinity;
  #timer: unknown;
  #checking: AbortController | undefined;
  #stopped = false;

  /** Holds nothing until the first `reconnected()`; throws a `RangeError` for a bad `graceMs`. */
  constructor(options: AbsenceGraceOptions) {
    const { graceMs } = options;
    if (!Number.isFinite(graceMs) || graceMs < 0) {
      // Its options are the discovery's.
      throw new RangeError(
        `Cannot create EtcdDiscovery: graceMs must be a non-negative number: received ${graceMs}`,
      );
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The members kept although etcd does not list them. */
  get held(): ReadonlySet<string> {
    return new Set(this.#held.keys());
  }

  /** Whether a grace window is open: etcd was reconnected less than `graceMs` ago. */
  get open(): boolean {
    return this.#clock.now() < this.#windowEnds;
  }

  /**
   * etcd is out of reach: the window stays open (nothing is dropped, and
   * leaves seen meanwhile are held) until `reconnected()`.
   */
  lost(): void {
    this.#windowEnds = Infinity;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** etcd was reached again after an outage: opens (or extends) the window. */
  reconnected(): void {
    if (this.#stopped) return;
    this.#windowEnds = this.#clock.now() + this.#options.graceMs;
    this.#schedule(this.#options.graceMs);
  }

  /**
   * The members to publish, each with its registration id: those that etcd
   * lists (`registered`), and those held. A member of `published` that etcd
   * no longer lists is held while a window is open; a held member that etcd
   * lists again is released.
   */
  keep(
    published: ReadonlyMap<string, string>,
    registered: ReadonlyMap<string, string>,
  ): Map<string, string> {
    for (const member of this.#held.keys()) {
      if (registered.has(member)) this.#held.delete(member);
    }
    if (this.open) {
      const held = [...published].filter(([m]) => !registered.has(m) && !this.#held.has(m));
      for (const [member, id] of held) this.#held.set(member, id);
      if (held.length > 0) this.#options.onHold?.(held.map(([member]) => member));
    }
    const ids = new Map(registered);
    for (const [member, id] of this.#held) ids.set(member, id);
    return ids;
  }

  /** Stops the timers and any check in flight; what is held stays. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#checking?.abort();
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#check();
    }, Math.max(0, ms));
  }

  async #check(): Promise<void> {
    if (this.#held.size === 0 || this.#stopped || this.#checking) return;
    // While etcd is lost, reconnected() schedules the next check.
    if (this.#windowEnds === Infinity) return;
    if (this.open) return this.#schedule(this.#windowEnds - this.#clock.now());
    const members = [...this.#held.keys()];
    const checking = this.#checking = new AbortController();
    const answers = await Promise.all(members.map((member) => this.#ask(member, checking)));
    this.#checking = undefined;
    if (this.#stopped) return;
    // A reconnect during the check gives every member a new chance.
    const gone = this.open ? [] : members.filter((m, i) => !answers[i] && this.#held.has(m));
    for (const member of gone) this.#held.delete(member);
    if (this.#held.size > 0 && this.#timer === undefined) this.#schedule(this.#options.recheckMs);
    if (gone.length > 0) this.#options.onDrop(gone);
  }

  // A check that fails, throws or outlasts checkTimeoutMs says "unreachable".
  #ask(member: string, checking: AbortController): Promise<boolean> {
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    checking.signal.addEventListener("abort", abort, { once: true });
    return new Promise<boolean>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        controller.abort();
        resolve(false);
      }, this.#options.checkTimeoutMs);
      this.#options.isReachable(member, controller.signal).then(
        (reachable) => resolve(reachable === true && !controller.signal.aborted),
        () => resolve(false),
      ).finally(() => {
        this.#clock.clearTimeout(timer);
        checking.signal.removeEventListener("abort", abort);
      });
    });
  }
}

/**
 * Whether a TCP connection to `member` (`"host:port"`, IPv6 in brackets)
 * opens: the default {@linkcode Reachability} of the discovery, which needs
 * net permission for the members' hosts (a gateway and a node have it).
 */
export async function tcpReachable(member: string, signal: AbortSignal): Promise<boolean> {
  const colon = member.lastIndexOf(":");
  const hostname = member.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(member.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return false;
  try {
    const conn = await Deno.connect({ hostname, port, signal });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
