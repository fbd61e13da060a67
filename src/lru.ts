/**
 * {@linkcode LruCache}: a least-recently-used cache bounded by bytes.
 *
 * @module
 */

import { utf8Length } from "./utf8.ts";
import type { CacheStats } from "./stats.ts";

/** Options for {@linkcode LruCache}. */
export interface LruCacheOptions<V> {
  /**
   * The most bytes the entries may take (see `sizeOf`); adding past it evicts
   * the least recently used entries. `Infinity` leaves eviction to the owner,
   * as a group does to share one budget between two caches.
   * @default {Infinity}
   */
  maxBytes?: number;
  /**
   * The bytes one entry takes.
   * @default {(key, value) => UTF-8 bytes of key + value.length}
   */
  sizeOf?: (key: string, value: V) => number;
  /** Called with each entry evicted for space or by `removeOldest`, not by `remove`. @default {undefined} */
  onEvicted?: (key: string, value: V) => void;
  /** The clock that expiry is measured against, in milliseconds. @default {Date.now} */
  now?: () => number;
}

/** Options for {@linkcode LruCache.add}. */
export interface LruAddOptions {
  /** When the entry expires, on the cache's clock; 0 means never. @default {0} */
  expiresAt?: number;
}

// Slots of the first table; the tables double when full and never shrink
// (clear() drops them), so a cache keeps room for its most entries so far.
const INITIAL_SLOTS = 16;

/**
 * A least-recently-used cache whose budget is in bytes (key + value), with
 * O(1) `get`, `add`, `remove` and eviction, and optional per-entry expiry
 * checked lazily on read.
 *
 * @example Evict the oldest entry once the budget is exceeded
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteView, LruCache } from "@mccache/core";
 *
 * const cache = new LruCache<ByteView>({ maxBytes: 8 });
 * cache.add("a", ByteView.from("111")); // 4 bytes
 * cache.add("b", ByteView.from("222")); // 8 bytes
 * cache.add("c", ByteView.from("333")); // evicts "a"
 * assert(cache.get("a") === undefined);
 * assert(cache.get("c")?.text() === "333");
 * ```
 */
export class LruCache<V extends { readonly length: number }> {
  // The entries live in parallel tables indexed by slot, not in an object
  // each: moving an entry to the front on every hit then writes numbers into
  // typed arrays instead of pointers into objects (each with a GC write
  // barrier), which brings a hit to about npm:lru-cache's cost.
  // Slot 0 is the sentinel of a circular list: next[0] is the most recently
  // used slot, prev[0] the oldest.
  // Set by #emptyTables(), from the constructor and clear().
  #map!: Map<string, number>;
  #keys!: string[];
  #values!: (V | undefined)[];
  #sizes!: Float64Array;
  #expires!: Float64Array;
  #next!: Uint32Array;
  #prev!: Uint32Array;
  #free!: number[];
  #maxBytes: number;
  #sizeOf: (key: string, value: V) => number;
  #onEvicted: ((key: string, value: V) => void) | undefined;
  #now: () => number;
  #bytes = 0;
  #gets = 0;
  #hits = 0;
  #evictions = 0;
  #admitted = 0;

  /** Creates an empty cache. */
  constructor(options: LruCacheOptions<V> = {}) {
    const maxBytes = options.maxBytes ?? Infinity;
    if (!(maxBytes >= 0)) {
      throw new RangeError(
        `Cannot create LruCache: maxBytes must be a non-negative number: received ${maxBytes}`,
      );
    }
    this.#maxBytes = maxBytes;
    this.#sizeOf = options.sizeOf ?? ((key, value) => utf8Length(key) + value.length);
    this.#onEvicted = options.onEvicted;
    this.#now = options.now ?? Date.now;
    this.#emptyTables();
  }

  /** The bytes the entries take now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The number of entries. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Returns the value for `key` and marks it most recently used, or
   * `undefined` when it is absent or expired (an expired entry is dropped).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.add("k", ByteView.from("v"));
   * assert(cache.get("k")?.text() === "v");
   * ```
   */
  get(key: string): V | undefined {
    this.#gets++;
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    const expiresAt = this.#expires[slot];
    if (expiresAt !== 0 && expiresAt <= this.#now()) {
      this.#delete(slot);
      return undefined;
    }
    this.#hits++;
    if (this.#next[0] !== slot) {
      this.#unlink(slot);
      this.#link(slot);
    }
    return this.#values[slot];
  }

  /**
   * Returns the value for `key` without counting a get or changing its
   * recency (expired entries read as absent).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * assert(cache.peek("k") === undefined);
   * ```
   */
  peek(key: string): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    const expiresAt = this.#expires[slot];
    if (expiresAt !== 0 && expiresAt <= this.#now()) return undefined;
    return this.#values[slot];
  }

  /**
   * Returns when the entry for `key` expires on the cache's clock: 0 for never,
   * `undefined` when absent.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.add("k", ByteView.from("v"), { expiresAt: 0 });
   * assert(cache.expiresAt("k") === 0);
   * ```
   */
  expiresAt(key: string): number | undefined {
    const slot = this.#map.get(key);
    return slot === undefined ? undefined : this.#expires[slot];
  }

  /**
   * Adds or replaces `key`, makes it most recently used, then evicts the
   * oldest entries until the budget holds. An entry larger than the whole
   * budget is not kept.
   *
   * @example Replace a value
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.add("k", ByteView.from("old"));
   * cache.add("k", ByteView.from("new!"));
   * assert(cache.bytes === 5);
   * ```
   */
  add(key: string, value: V, options?: LruAddOptions): void {
    const size = this.#sizeOf(key, value);
    const expiresAt = options?.expiresAt ?? 0;
    let slot = this.#map.get(key);
    if (slot !== undefined) {
      this.#bytes -= this.#sizes[slot];
      this.#unlink(slot);
    } else {
      slot = this.#free.pop() ?? this.#newSlot();
      this.#map.set(key, slot);
      this.#keys[slot] = key;
      this.#admitted++;
    }
    this.#values[slot] = value;
    this.#sizes[slot] = size;
    this.#expires[slot] = expiresAt;
    this.#bytes += size;
    this.#link(slot);
    while (this.#bytes > this.#maxBytes && this.removeOldest());
  }

  /**
   * Removes `key`; returns whether it was present. `onEvicted` is not called.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.add("k", ByteView.from("v"));
   * assert(cache.remove("k") && cache.size === 0);
   * ```
   */
  remove(key: string): boolean {
    const slot = this.#map.get(key);
    if (slot === undefined) return false;
    this.#delete(slot);
    return true;
  }

  /**
   * Evicts the least recently used entry; returns whether there was one.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.add("a", ByteView.from("1"));
   * cache.add("b", ByteView.from("2"));
   * cache.removeOldest();
   * assert(cache.peek("a") === undefined && cache.size === 1);
   * ```
   */
  removeOldest(): boolean {
    const oldest = this.#prev[0];
    if (oldest === 0) return false;
    const key = this.#keys[oldest];
    const value = this.#values[oldest] as V;
    this.#delete(oldest);
    this.#evictions++;
    this.#onEvicted?.(key, value);
    return true;
  }

  /**
   * Removes every entry (without calling `onEvicted`); counters are kept.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.add("a", ByteView.from("1"));
   * cache.clear();
   * assert(cache.bytes === 0);
   * ```
   */
  clear(): void {
    this.#emptyTables();
    this.#bytes = 0;
  }

  /**
   * Returns a snapshot of the counters.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView, LruCache } from "@mccache/core";
   *
   * const cache = new LruCache<ByteView>();
   * cache.get("missing");
   * assert(cache.stats().gets === 1 && cache.stats().hits === 0);
   * ```
   */
  stats(): CacheStats {
    return {
      bytes: this.#bytes,
      items: this.#map.size,
      gets: this.#gets,
      hits: this.#hits,
      evictions: this.#evictions,
      admitted: this.#admitted,
      rejected: 0,
    };
  }

  #emptyTables(): void {
    this.#map = new Map();
    this.#keys = [""];
    this.#values = [undefined];
    this.#sizes = new Float64Array(INITIAL_SLOTS);
    this.#expires = new Float64Array(INITIAL_SLOTS);
    this.#next = new Uint32Array(INITIAL_SLOTS);
    this.#prev = new Uint32Array(INITIAL_SLOTS);
    this.#free = [];
  }

  /** Makes `slot` the most recently used. */
  #link(slot: number): void {
    const next = this.#next;
    const prev = this.#prev;
    const first = next[0];
    prev[slot] = 0;
    next[slot] = first;
    prev[first] = slot;
    next[0] = slot;
  }

  #unlink(slot: number): void {
    const next = this.#next;
    const prev = this.#prev;
    const before = prev[slot];
    const after = next[slot];
    next[before] = after;
    prev[after] = before;
  }

  #delete(slot: number): void {
    this.#unlink(slot);
    this.#map.delete(this.#keys[slot]);
    this.#bytes -= this.#sizes[slot];
    // Let go of the key and value now, not when the slot is reused.
    this.#keys[slot] = "";
    this.#values[slot] = undefined;
    this.#free.push(slot);
  }

  /** A slot never used, after doubling the tables when they are full. */
  #newSlot(): number {
    const slot = this.#keys.length;
    if (slot === this.#next.length) {
      const grown = slot * 2;
      this.#sizes = copyInto(this.#sizes, new Float64Array(grown));
      this.#expires = copyInto(this.#expires, new Float64Array(grown));
      this.#next = copyInto(this.#next, new Uint32Array(grown));
      this.#prev = copyInto(this.#prev, new Uint32Array(grown));
    }
    this.#keys.push("");
    this.#values.push(undefined);
    return slot;
  }
}

function copyInto<T extends Float64Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
