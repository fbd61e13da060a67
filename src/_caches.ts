// A group's two caches and the one budget they share: the main cache holds
// the keys this node owns, the hot cache copies of popular keys owned by
// peers. Private to group.ts.
import type { ByteView } from "./byte_view.ts";
import { LruCache } from "./lru.ts";
import { TinyLfuCache } from "./_tiny_lfu.ts";
import type { CacheStats, CacheType } from "./stats.ts";
import { utf8Length } from "./utf8.ts";

/**
 * Bytes a group charges to its budget for each entry besides its key and
 * value. Measured under Deno 2.9 (V8 14): an entry's objects (map slot, LRU
 * table slots, view, typed array and its backing store) and the garbage and heap
 * headroom that churn leaves take about that much whatever the value's size.
 * Counting only keys and values let a group of small values grow a process
 * to many times its budget; with this charge a node stays within about twice
 * its budget (figures in docs/PERFORMANCE.md).
 */
export const ENTRY_OVERHEAD = 1024;

/**
 * Which eviction policy a group's main cache follows: W-TinyLFU (the
 * default) or plain LRU.
 *
 * @example Keep the old LRU for one group
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CachePolicy, Group } from "@mccache/core";
 *
 * const policy: CachePolicy = "lru";
 * const group = new Group({ name: "recent", maxBytes: 1 << 20, policy, getter: (key) => key });
 * await group.get("a");
 * assert.equal(group.cacheStats("main").rejected, 0); // LRU admits everything
 * ```
 */
export type CachePolicy = "tinylfu" | "lru";

/** A value and when it expires (ms on the group's clock; 0 = never). */
export interface Cached {
  view: ByteView;
  expiresAt: number;
  /** Milliseconds past `expiresAt` it is served while one load refreshes it. */
  staleWhileRevalidate?: number;
  /** Milliseconds past `expiresAt` it is served when its load fails. */
  staleIfError?: number;
  /** A remembered NotFoundError; `view` holds its message. */
  missing?: boolean;
}

/**
 * A cached value with the promise get() hands out for it, made on the first
 * hit and kept, so that hits allocate nothing and entries never read cost no
 * promise.
 */
export class Slot {
  readonly cached: Cached;
  #promise: Promise<ByteView> | undefined;
  /**
   * Whether a hit may just return the value: false for remembered misses and
   * for values with stale windows, whose cache entry outlives their TTL.
   */
  readonly plain: boolean;
  constructor(cached: Cached) {
    this.cached = cached;
    this.plain = !cached.missing && staleFor(cached) === 0;
  }
  get view(): ByteView {
    return this.cached.view;
  }
  get promise(): Promise<ByteView> {
    return this.#promise ??= Promise.resolve(this.cached.view);
  }
  get length(): number {
    return this.cached.view.length;
  }
}

function handsOut(slot: Slot): boolean {
  return slot.plain;
}

function handOut(slot: Slot): Promise<ByteView> {
  return slot.promise;
}

function staleFor(cached: Cached): number {
  if (cached.expiresAt === 0) return 0;
  return Math.max(cached.staleWhileRevalidate ?? 0, cached.staleIfError ?? 0);
}

// The LRU main cache, with the two calls the W-TinyLFU one has for Caches.
class MainLru extends LruCache<Slot> {
  evictTo(limit: number): void {
    while (this.bytes > limit && this.removeOldest());
  }
  record(_key: string): void {}
  // LRU answers no hit early: Group.get takes its general way.
  hit(_key: string): undefined {
    return undefined;
  }
}

export class Caches {
  readonly main: MainLru | TinyLfuCache<Slot, Promise<ByteView>>;
  readonly hot: LruCache<Slot>;
  #maxBytes: number;

  constructor(
    maxBytes: number,
    overhead: number,
    options: { now: () => number; random: () => number; policy: CachePolicy },
  ) {
    this.#maxBytes = maxBytes;
    const { now, random } = options;
    const sizeOf = (key: string, slot: Slot) => utf8Length(key) + slot.length + overhead;
    this.main = options.policy === "lru"
      ? new MainLru({ now, sizeOf })
      : new TinyLfuCache({ maxBytes, now, sizeOf, random, handsOut, handOut });
    this.hot = new LruCache({ now, sizeOf });
  }

  /** The live entry for `key`, stale ones included (counts a lookup). */
  lookup(key: string): Slot | undefined {
    return this.main.get(key) ?? this.hot.get(key);
  }

  /** Adds to one cache, then evicts until both fit the budget together. */
  add(key: string, cached: Cached, which: CacheType): void {
    if (this.#maxBytes === 0) return;
    const { main, hot } = this;
    const slot = new Slot(cached);
    const expiresAt = cached.expiresAt === 0 ? 0 : cached.expiresAt + staleFor(cached);
    (which === "hot" ? hot : main).add(key, slot, { expiresAt });
    // Evict from the hot cache first once it holds more than 1/8 of the
    // main cache: hot copies are cheap to fetch again from their owners.
    const max = this.#maxBytes;
    while (main.bytes + hot.bytes > max && hot.bytes > main.bytes / 8 && hot.removeOldest());
    main.evictTo(max - hot.bytes);
    while (main.bytes + hot.bytes > max && hot.removeOldest());
  }

  remove(key: string): void {
    this.main.remove(key);
    this.hot.remove(key);
  }

  stats(which: CacheType): CacheStats {
    return (which === "hot" ? this.hot : this.main).stats();
  }
}
