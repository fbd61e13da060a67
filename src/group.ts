/**
 * {@linkcode Group}: a named read-through cache with a byte budget.
 *
 * @module
 */

import { ByteView } from "./byte_view.ts";
import { PeerError, UnsupportedError } from "./errors.ts";
import { validateKey } from "./key.ts";
import { type Cached, type CachePolicy, Caches, ENTRY_OVERHEAD } from "./_caches.ts";
import { noPeers, type PeerGetter, type PeerPicker } from "./peers.ts";
import { Loader } from "./_loader.ts";
import type { CacheStats, CacheType, GroupStats } from "./stats.ts";
import type { GroupRegistry } from "./registry.ts";
import {
  checkTtl,
  checkWindow,
  entryOf,
  type Freshness,
  type Getter,
  toGetterFunc,
} from "./getter.ts";

export type { CachePolicy } from "./_caches.ts";

/** Options for {@linkcode Group}. */
export interface GroupOptions {
  /** The group's name, the same on every node: 1 to 255 characters, no `/`. */
  name: string;
  /** The budget of the main and hot caches together (keys, values, `entryOverhead` per entry); 0 caches nothing. */
  maxBytes: number;
  /** Loads a missing key. */
  getter: Getter;
  /** Finds the node that owns a key. @default {noPeers} */
  peers?: PeerPicker;
  /** A registry to add the group to (a duplicate name throws). @default {undefined} */
  registry?: GroupRegistry;
  /** TTL in milliseconds for loaded values that carry none of their own. @default {undefined (never expire)} */
  ttl?: number;
  /** Random source in [0, 1) for hot-cache promotion; tests inject a seeded one. @default {Math.random} */
  random?: () => number;
  /** The clock TTLs are measured against, in milliseconds. @default {Date.now} */
  now?: () => number;
  /**
   * Bytes charged to the budget for each entry on top of its key and value:
   * the objects that hold an entry take memory too, and with small values
   * they take most of it (see {@linkcode ENTRY_OVERHEAD}).
   * @default {ENTRY_OVERHEAD}
   */
  entryOverhead?: number;
  /**
   * How the main cache picks what to keep. `"tinylfu"` (W-TinyLFU) admits a
   * new key only once it is asked for more often than the entry it would
   * push out, so scans and one-time keys do not flush popular ones; `"lru"`
   * keeps the most recently used, as groupcache does. The hot cache is LRU
   * either way.
   * @default {"tinylfu"}
   */
  policy?: CachePolicy;
  /**
   * Milliseconds the owner remembers that the getter threw `NotFoundError`
   * for a key, answering it again without a load; 0 forgets at once. The
   * entry counts against the budget, and `set` replaces it.
   * @default {0}
   */
  notFoundTtl?: number;
  /**
   * Milliseconds past a value's TTL during which it is still served, at
   * once, while one background load refreshes it (HTTP's
   * `stale-while-revalidate`). Values without a TTL never go stale.
   * @default {0}
   */
  staleWhileRevalidate?: number;
  /**
   * Milliseconds past a value's TTL during which a failed load (not
   * `NotFoundError`) answers with the old value instead of the error
   * (HTTP's `stale-if-error`).
   * @default {0}
   */
  staleIfError?: number;
}

/**
 * Told of each load a group makes: `"getter"` for a call of its getter,
 * `"peer"` for a fetch from the key's owner; how long it took in
 * milliseconds, and whether it gave a value, said not found, or failed.
 */
export type LoadObserver = (
  source: "getter" | "peer",
  ms: number,
  outcome: "value" | "not_found" | "error",
) => void;

/** Options for {@linkcode Group.get}. */
export interface GetOptions {
  /** Stops waiting; a peer call carries it as a deadline. @default {undefined} */
  signal?: AbortSignal;
  /**
   * Serve from this process only, never asking a peer. Servers set it for
   * requests from peers, so that a key is never forwarded twice.
   * @default {false}
   */
  local?: boolean;
}

/** Options for {@linkcode Group.set}. */
export interface SetOptions extends GetOptions {
  /** Milliseconds until the value expires. @default {the group's ttl} */
  ttl?: number;
}

/** A value with the milliseconds it stays fresh (`undefined`: no expiry). */
export interface CacheEntry {
  /** The value. */
  value: ByteView;
  /** Milliseconds left before it expires, or `undefined` when it never does. */
  ttl: number | undefined;
}

export { ENTRY_OVERHEAD } from "./_caches.ts";

/**
 * A named cache with a byte budget and a getter. `get` answers from the main
 * cache (keys this node owns) or the hot cache (copies of popular keys owned
 * by peers); on a miss it asks the owner, or loads the key itself, once per
 * key however many callers are waiting.
 *
 * @example A read-through cache in one process
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group } from "@mccache/core";
 *
 * const db = new Map([["Tom", "630"], ["Jack", "589"]]);
 * const scores = new Group({
 *   name: "scores",
 *   maxBytes: 2 << 10,
 *   getter: (key) => db.get(key) ?? "",
 * });
 * assert((await scores.get("Tom")).text() === "630");
 * assert(scores.stats().localLoads === 1);
 * ```
 *
 * @example Remember misses, and serve a stale value when the source fails
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, NotFoundError } from "@mccache/core";
 *
 * let now = 0;
 * let up = true;
 * const prices = new Group({
 *   name: "prices",
 *   maxBytes: 1 << 20,
 *   ttl: 60_000,
 *   staleIfError: 3_600_000, // an hour past the TTL, if the database is down
 *   notFoundTtl: 10_000,
 *   now: () => now,
 *   getter: (key) => {
 *     if (!up) throw new Error("database down");
 *     if (key !== "apple") throw new NotFoundError(`no price for ${key}`);
 *     return "1.20";
 *   },
 * });
 * await prices.get("apple");
 * await prices.get("kiwi").catch(() => {}); // remembered for 10 s
 * up = false;
 * now += 120_000;
 * assert.equal((await prices.get("apple")).text(), "1.20");
 * assert.equal(prices.stats().staleServed, 1);
 * ```
 */
export class Group {
  #name: string;
  #peers: PeerPicker;
  #freshness: Freshness;
  #now: () => number;
  #observe: LoadObserver | undefined;
  #caches: Caches;
  #maxBytes: number;
  #loader: Loader;
  #stats: GroupStats = {
    gets: 0,
    cacheHits: 0,
    peerLoads: 0,
    peerErrors: 0,
    loads: 0,
    loadsDeduped: 0,
    localLoads: 0,
    localLoadErrs: 0,
    serverRequests: 0,
    staleServed: 0,
    refreshes: 0,
  };

  /** Creates a group, and adds it to `options.registry` when given. */
  constructor(options: GroupOptions) {
    const { name, maxBytes, getter } = options;
    if (typeof name !== "string" || name.length === 0 || name.length > 255 || name.includes("/")) {
      throw new TypeError(
        `Cannot create Group: name must be 1 to 255 characters without "/": received ${
          JSON.stringify(name)
        }`,
      );
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(
        `Cannot create Group: maxBytes must be a non-negative integer: received ${maxBytes}`,
      );
    }
    this.#name = name;
    this.#peers = options.peers ?? noPeers;
    this.#now = options.now ?? Date.now;
    const what = "create Group";
    this.#freshness = {
      ttl: options.ttl === undefined ? undefined : checkTtl(options.ttl, what),
      staleWhileRevalidate: checkWindow(
        options.staleWhileRevalidate ?? 0,
        "staleWhileRevalidate",
        what,
      ),
      staleIfError: checkWindow(options.staleIfError ?? 0, "staleIfError", what),
    };
    const random = options.random ?? Math.random;
    this.#caches = new Caches(maxBytes, entryOverhead(options.entryOverhead), {
      now: this.#now,
      random,
      policy: checkPolicy(options.policy ?? "tinylfu"),
    });
    this.#maxBytes = maxBytes;
    this.#loader = new Loader({
      name,
      getter: toGetterFunc(getter),
      peers: () => this.#peers,
      caches: this.#caches,
      stats: this.#stats,
      freshness: this.#freshness,
      notFoundTtl: checkWindow(options.notFoundTtl ?? 0, "notFoundTtl", what),
      random,
      now: this.#now,
      observe: () => this.#observe,
    });
    options.registry?.add(this);
  }

  /** The group's name. */
  get name(): string {
    return this.#name;
  }

  /** The byte budget of the main and hot caches together. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /**
   * Sets how this group finds the owners of keys. Called by a node when it
   * starts; until then the group owns every key.
   *
   * @example
   * ```ts
   * import { Group, noPeers } from "@mccache/core";
   *
   * const group = new Group({ name: "p", maxBytes: 0, getter: (key) => key });
   * group.registerPeers(noPeers);
   * ```
   */
  registerPeers(peers: PeerPicker): void {
    this.#peers = peers;
  }

  /**
   * Tells `observer` of every getter call and peer fetch from now on (a
   * node's latency histograms); `undefined` stops it. Loads happen on misses
   * only, so timing them costs the hits nothing.
   *
   * @example Time the getter
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const seen: string[] = [];
   * const group = new Group({ name: "t", maxBytes: 1 << 20, getter: (key) => key });
   * group.observeLoads((source, _ms, outcome) => seen.push(`${source} ${outcome}`));
   * await group.get("a");
   * assert.deepEqual(seen, ["getter value"]);
   * ```
   */
  observeLoads(observer: LoadObserver | undefined): void {
    this.#observe = observer;
  }

  /**
   * Reports whether this node owns `key`: its peers pick no other node.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "o", maxBytes: 0, getter: (key) => key });
   * assert(group.owns("any key")); // without peers, every key
   * ```
   */
  owns(key: string): boolean {
    return this.#peers.pickPeer(key) === undefined;
  }

  /**
   * Returns the value for `key`: from cache, else from its owner, else from
   * the getter. Rejects with `InvalidKeyError` for a bad key, `NotFoundError`
   * when the getter says so, or the getter's own error.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "g", maxBytes: 1 << 20, getter: (key) => key.toUpperCase() });
   * assert((await group.get("abc")).text() === "ABC");
   * ```
   */
  get(key: string, options?: GetOptions): Promise<ByteView> {
    this.#stats.gets++;
    // Every way into the caches validates its key, so a hit needs no check.
    const early = this.#caches.main.hit(key);
    if (early !== undefined) {
      this.#stats.cacheHits++;
      return early;
    }
    const slot = this.#caches.main.get(key) ?? this.#caches.hot.get(key);
    if (slot?.plain) {
      this.#stats.cacheHits++;
      return slot.promise;
    }
    const loading = slot
      ? this.#loader.answer(key, slot.cached, options)
      : this.#loader.miss(key, options);
    return loading.then((loaded) => loaded.view);
  }

  /**
   * Like {@linkcode Group.get}, but also returns how long the value stays
   * fresh, which a server passes on so that copies expire with the original.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "e", maxBytes: 1 << 20, getter: (key) => ({ value: key, ttl: 60_000 }) });
   * const { value, ttl } = await group.getEntry("k");
   * assert(value.text() === "k" && ttl !== undefined && ttl <= 60_000);
   * ```
   */
  getEntry(key: string, options?: GetOptions): Promise<CacheEntry> {
    this.#stats.gets++;
    const slot = this.#caches.lookup(key);
    if (slot?.plain) {
      this.#stats.cacheHits++;
      return Promise.resolve(this.#entry(slot.cached));
    }
    const loading = slot
      ? this.#loader.answer(key, slot.cached, options)
      : this.#loader.miss(key, options);
    return loading.then((loaded) => this.#entry(loaded));
  }

  /**
   * Returns the cached entry for `key` without loading it, or `undefined`
   * on a miss. A server answers hits this way within the turn their request
   * arrived in, then calls {@linkcode Group.getEntry} for the misses (a hit
   * counts as a get; a miss counts nothing until then).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "p", maxBytes: 1 << 20, getter: (key) => key });
   * assert(group.cachedEntry("k") === undefined);
   * await group.get("k");
   * assert(group.cachedEntry("k")?.value.text() === "k");
   * ```
   */
  cachedEntry(key: string): CacheEntry | undefined {
    const cached = this.#caches.lookup(key)?.cached;
    // Remembered misses and stale values take getEntry's way.
    if (cached === undefined || cached.missing || !this.#loader.isFresh(cached)) return undefined;
    this.#stats.gets++;
    this.#stats.cacheHits++;
    return this.#entry(cached);
  }

  /**
   * Stores `value` at the key's owner and drops copies on every other node.
   * Best effort: a node that cannot be reached keeps its copy until it is
   * evicted or expires, so give values a TTL when that matters.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "s", maxBytes: 1 << 20, getter: () => "loaded" });
   * await group.set("k", "stored", { ttl: 60_000 });
   * assert((await group.get("k")).text() === "stored");
   * ```
   */
  async set(key: string, value: Uint8Array | string, options?: SetOptions): Promise<void> {
    validateKey(key);
    const view = ByteView.from(value);
    const ttl = options?.ttl === undefined ? this.#freshness.ttl : checkTtl(options.ttl, "set");
    this.#loader.drop(key);
    const owner = options?.local ? undefined : this.#peers.pickPeer(key);
    if (owner === undefined) {
      const freshness = { ...this.#freshness, ttl };
      this.#caches.add(key, entryOf(view, freshness, this.#now()), "main");
    } else {
      if (owner.set === undefined) {
        throw new PeerError("Cannot set: the owner's transport has no set");
      }
      await owner.set({ group: this.#name, key, value: view.unsafeBytes(), ttl }, options ?? {});
      // A fetch from the owner that began while it was being told may have
      // brought the old value back: drop it again.
      this.#loader.drop(key);
    }
    if (!options?.local) await this.#broadcastRemove(key, owner, options?.signal);
  }

  /**
   * Removes `key` from the owner and then from every other node. Rejects
   * with `PeerError` if the owner could not be told; other nodes are best
   * effort (counted in `peerErrors`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * let version = 0;
   * const group = new Group({ name: "r", maxBytes: 1 << 20, getter: () => `v${++version}` });
   * await group.get("k");
   * await group.remove("k");
   * assert((await group.get("k")).text() === "v2");
   * ```
   */
  async remove(key: string, options?: GetOptions): Promise<void> {
    validateKey(key);
    this.#loader.drop(key);
    if (options?.local) return;
    const owner = this.#peers.pickPeer(key);
    let ownerError: unknown;
    if (owner?.remove) {
      await owner.remove({ group: this.#name, key, local: true }, options ?? {}).catch((error) => {
        ownerError = error;
      });
      this.#loader.drop(key); // as in set: a fetch in between may have brought it back
    }
    // An owner that cannot remove keys (the Go original's) refused it: nothing
    // changed anywhere, so nothing is dropped elsewhere either.
    if (ownerError instanceof UnsupportedError) throw ownerError;
    await this.#broadcastRemove(key, owner, options?.signal);
    if (ownerError !== undefined) {
      throw new PeerError(`Cannot remove ${JSON.stringify(key)} at its owner`, {
        cause: ownerError,
      });
    }
  }

  /**
   * Counts a request that reached this group through a server; servers call
   * it once per request, peers and gateways alike.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "c", maxBytes: 0, getter: (key) => key });
   * group.recordServerRequest();
   * assert(group.stats().serverRequests === 1);
   * ```
   */
  recordServerRequest(): void {
    this.#stats.serverRequests++;
  }

  /**
   * Returns a snapshot of the group's counters.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "st", maxBytes: 0, getter: (key) => key });
   * assert(group.stats().gets === 0);
   * ```
   */
  stats(): GroupStats {
    return { ...this.#stats };
  }

  /**
   * Returns a snapshot of the main or the hot cache's counters.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group } from "@mccache/core";
   *
   * const group = new Group({ name: "cs", maxBytes: 0, getter: (key) => key });
   * assert(group.cacheStats("hot").items === 0);
   * ```
   */
  cacheStats(which: CacheType): CacheStats {
    return this.#caches.stats(which);
  }

  #entry(loaded: Cached): CacheEntry {
    const { view, expiresAt } = loaded;
    return { value: view, ttl: expiresAt === 0 ? undefined : Math.max(1, expiresAt - this.#now()) };
  }

  async #broadcastRemove(
    key: string,
    skip: PeerGetter | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const calls = this.#peers.peers()
      .filter((peer) => peer !== skip && peer.remove !== undefined)
      .map((peer) => peer.remove!({ group: this.#name, key, local: true }, { signal }));
    for (const result of await Promise.allSettled(calls)) {
      if (result.status === "rejected") this.#stats.peerErrors++;
    }
  }
}

function entryOverhead(overhead = ENTRY_OVERHEAD): number {
  if (!Number.isSafeInteger(overhead) || overhead < 0) {
    throw new RangeError(
      `Cannot create Group: entryOverhead must be a non-negative integer: received ${overhead}`,
    );
  }
  return overhead;
}

function checkPolicy(policy: CachePolicy): CachePolicy {
  if (policy !== "tinylfu" && policy !== "lru") {
    throw new TypeError(
      `Cannot create Group: policy must be "tinylfu" or "lru": received ${JSON.stringify(policy)}`,
    );
  }
  return policy;
}
