/**
 * {@linkcode RingSnapshot}: one membership and its ring, never changed once
 * built; {@linkcode CurrentRing}: the snapshot a process routes by now,
 * swapped whole on each membership update. Every owner decision of a
 * process reads the same `CurrentRing`: the gateway's upstream, its fail-over
 * and hedging, and the `mccache_ring` balancer of its channel (handed over
 * in the {@linkcode CURRENT_RING_OPTION} channel option), so they cannot
 * disagree about a key's owner.
 *
 * @module
 */

import { HashRing, type HashRingOptions } from "../hash_ring.ts";
import type { MemberSource } from "./resolver.ts";

/**
 * Channel option (and resolver attribute) carrying the {@linkcode CurrentRing}
 * that the channel's resolver lists endpoints from and its `mccache_ring`
 * balancer places calls by. Without it, the resolver makes one of its own
 * from the target or the member source.
 */
export const CURRENT_RING_OPTION = "grpc.internal.no_subchannel.mccache_current_ring";

/** Which members may take a call, as {@linkcode RingSnapshot.pick} walks the ring. */
export interface PickRule {
  /** Whether `member` can take the call (e.g. connected and serving its protocol). */
  accept(member: string): boolean;
  /**
   * Whether `member` is passed over while an accepted member that is not
   * passed over can take the call (e.g. a suspect one).
   * @default {undefined (none is)}
   */
  avoid?: ((member: string) => boolean) | undefined;
}

/**
 * One membership and its ring, never changed once built: a membership
 * update builds a new one. The owner, the member a call falls back to, and
 * the member a get is hedged to all come from {@linkcode RingSnapshot.pick}.
 *
 * @example The owner, then the next member when the owner cannot take a call
 * ```ts
 * import assert from "node:assert/strict";
 * import { RingSnapshot } from "@mccache/core/grpc";
 *
 * const snapshot = new RingSnapshot(["127.0.0.1:8001", "127.0.0.1:8002"]);
 * const hash = snapshot.hashKey("Rex");
 * const owner = snapshot.owner("Rex")!;
 * assert.equal(snapshot.pick(hash, 0, { accept: () => true }), owner);
 * const next = snapshot.pick(hash, 0, { accept: (m) => m !== owner });
 * assert(next !== undefined && next !== owner);
 * ```
 */
export class RingSnapshot {
  /** The ring of the members. Never change it: build a new snapshot instead. */
  readonly ring: HashRing;
  /** The members, each once, in the order given. */
  readonly members: readonly string[];

  /** Builds the ring of `members`; `options` must match the nodes' placement. */
  constructor(members: Iterable<string>, options: HashRingOptions = {}) {
    this.members = Object.freeze([...new Set(members)]);
    this.ring = new HashRing(options);
    this.ring.add(...this.members);
  }

  /** Whether `member` is on the ring. */
  has(member: string): boolean {
    return this.ring.has(member);
  }

  /** The ring position of `key` (see {@linkcode HashRing.hashKey}). */
  hashKey(key: string): number {
    return this.ring.hashKey(key);
  }

  /**
   * The owner of `key`: what {@linkcode RingSnapshot.pick} returns when every
   * member is accepted; `undefined` on an empty ring.
   */
  owner(key: string): string | undefined {
    return this.ring.get(key);
  }

  /**
   * The member a call for the ring position `hash` goes to: walking
   * clockwise over the members `rule` accepts, the first on the first
   * attempt, the next one on a retry (`attempt` 1, after the member that
   * failed), or the last one found. Members `rule` avoids are skipped while
   * another accepted member can take the call. `undefined` when none is
   * accepted.
   *
   * @example Fall back past the owner on a retry
   * ```ts
   * import assert from "node:assert/strict";
   * import { RingSnapshot } from "@mccache/core/grpc";
   *
   * const snapshot = new RingSnapshot(["a", "b", "c"]);
   * const hash = snapshot.hashKey("k");
   * const all = { accept: () => true };
   * const [owner, next] = snapshot.ring.walk(hash, 2);
   * assert.equal(snapshot.pick(hash, 0, all), owner);
   * assert.equal(snapshot.pick(hash, 1, all), next);
   * assert.equal(snapshot.pick(hash, 0, { ...all, avoid: (m) => m === owner }), next);
   * ```
   */
  pick(hash: number, attempt: number, rule: PickRule): string | undefined {
    const { ring } = this;
    const { accept, avoid } = rule;
    let members = ring.walk(hash, attempt + 1, accept);
    if (avoid !== undefined && members.some(avoid)) {
      const preferred = ring.walk(hash, attempt + 1, (m) => accept(m) && !avoid(m));
      if (preferred.length > 0) members = preferred;
    }
    return members.length === 0 ? undefined : members[Math.min(attempt, members.length - 1)];
  }
}

/**
 * The ring snapshot a process routes by now. It builds a new
 * {@linkcode RingSnapshot} on each change of its member source and swaps it
 * in whole, then tells its listeners; readers take `snapshot` when they
 * decide, so each decision sees one membership. It is itself a
 * {@linkcode MemberSource} (of the current snapshot's members), so a
 * channel's resolver can list its endpoints from it.
 *
 * @example One snapshot for every reader, swapped when the members change
 * ```ts
 * import assert from "node:assert/strict";
 * import { CurrentRing } from "@mccache/core/grpc";
 *
 * let members = ["127.0.0.1:8001"];
 * const listeners = new Set<() => void>();
 * const ring = new CurrentRing({
 *   get members() { return members; },
 *   subscribe(listener) {
 *     listeners.add(listener);
 *     return () => listeners.delete(listener);
 *   },
 * });
 * const before = ring.snapshot;
 * members = ["127.0.0.1:8001", "127.0.0.1:8002"];
 * for (const listener of listeners) listener();
 * assert(ring.snapshot !== before && ring.snapshot.has("127.0.0.1:8002"));
 * ring.close();
 * ```
 */
export class CurrentRing implements MemberSource {
  #source: MemberSource;
  #options: HashRingOptions;
  #snapshot: RingSnapshot;
  #listeners = new Set<() => void>();
  #unsubscribe: () => void;

  /** Follows `members` (a fixed list, or a source such as an etcd prefix watch). */
  constructor(members: readonly string[] | MemberSource, options: HashRingOptions = {}) {
    this.#source = "subscribe" in members ? members : { members, subscribe: () => () => {} };
    this.#options = options;
    this.#snapshot = new RingSnapshot(this.#source.members, options);
    this.#unsubscribe = this.#source.subscribe(() => this.#swap());
  }

  /** The snapshot to route by now. */
  get snapshot(): RingSnapshot {
    return this.#snapshot;
  }

  /** The ring options every snapshot is built with. */
  get options(): HashRingOptions {
    return this.#options;
  }

  /** The current snapshot's members. */
  get members(): readonly string[] {
    return this.#snapshot.members;
  }

  /** The member's registration, as the source names it. */
  registrationOf(member: string): string | undefined {
    return this.#source.registrationOf?.(member);
  }

  /** Calls `listener` after each swap, in the order subscribed; returns a function that unsubscribes. */
  subscribe(listener: () => void): () => void {
    // A wrapper per subscription, so the same function may subscribe twice.
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Stops following the source; the last snapshot stays. */
  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #swap(): void {
    this.#snapshot = new RingSnapshot(this.#source.members, this.#options);
    for (const listener of [...this.#listeners]) listener();
  }
}
