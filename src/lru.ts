/**
 * {@linkcode LruCache}: a least-recently-used cache bounded by bytes.
 *
 * @module
 */

import { utf8Length } from "./_utf8.ts";
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

class Entry<V> {
  prev: Entry<V>;
  next: Entry<V>;
  constructor(
    public key: string,
    public value: V,
    public size: number,
    public expiresAt: number,
  ) {
    this.prev = this;
    this.next = this;
  }
}

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
  #map = new Map<string, Entry<V>>();
  // Sentinel of a circular list: head.next is the most recent, head.prev the oldest.
  #head = new Entry<V>("", undefined as unknown as V, 0, 0);
  #maxBytes: number;
  #sizeOf: (key: string, value: V) => number;
  #onEvicted: ((key: string, value: V) => void) | undefined;
  #now: () => number;
  #bytes = 0;
  #gets = 0;
  #hits = 0;
  #evictions = 0;

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
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.#now()) {
      this.#delete(entry);
      return undefined;
    }
    this.#hits++;
    this.#moveToFront(entry);
    return entry.value;
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
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.#now()) return undefined;
    return entry.value;
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
    return this.#map.get(key)?.expiresAt;
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
    let entry = this.#map.get(key);
    if (entry !== undefined) {
      this.#bytes += size - entry.size;
      entry.value = value;
      entry.size = size;
      entry.expiresAt = expiresAt;
      this.#moveToFront(entry);
    } else {
      entry = new Entry(key, value, size, expiresAt);
      this.#map.set(key, entry);
      this.#bytes += size;
      this.#link(entry);
    }
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
    const entry = this.#map.get(key);
    if (entry === undefined) return false;
    this.#delete(entry);
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
    const oldest = this.#head.prev;
    if (oldest === this.#head) return false;
    this.#delete(oldest);
    this.#evictions++;
    this.#onEvicted?.(oldest.key, oldest.value);
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
    this.#map.clear();
    this.#head.next = this.#head.prev = this.#head;
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
    };
  }

  #link(entry: Entry<V>): void {
    const head = this.#head;
    entry.prev = head;
    entry.next = head.next;
    head.next.prev = entry;
    head.next = entry;
  }

  #moveToFront(entry: Entry<V>): void {
    if (this.#head.next === entry) return;
    entry.prev.next = entry.next;
    entry.next.prev = entry.prev;
    this.#link(entry);
  }

  #delete(entry: Entry<V>): void {
    entry.prev.next = entry.next;
    entry.next.prev = entry.prev;
    this.#map.delete(entry.key);
    this.#bytes -= entry.size;
  }
}
