// A group's two caches and the one budget they share: the main cache holds
// the keys this node owns, the hot cache copies of popular keys owned by
// peers. Private to group.ts.
import type { ByteView } from "./byte_view.ts";
import { LruCache } from "./lru.ts";
import type { CacheStats, CacheType } from "./stats.ts";
import { utf8Length } from "./_utf8.ts";

/**
 * Bytes a group charges to its budget for each entry besides its key and
 * value. Measured under Deno 2.9 (V8 14): an entry's objects (map slot, LRU
 * table slots, view, typed array and its backing store) and the garbage and heap
 * headroom that churn leaves take ~0.5-1.2 KB whatever the value's size.
 * Counting only keys and values let a 64 MiB group of 100-byte values grow a
 * process by ~800 MB; with this charge a node stays within about twice its
 * budget (1 GiB of 1 KiB values through 64 MiB: ~185 MB RSS, 85 MB idle).
 */
export const ENTRY_OVERHEAD = 1024;

/** A value and when it expires (ms on the group's clock; 0 = never). */
export interface Cached {
  view: ByteView;
  expiresAt: number;
}

/**
 * A cached value with the promise get() hands out for it, made on the first
 * hit and kept, so that hits allocate nothing and entries never read cost no
 * promise.
 */
export class Slot {
  readonly view: ByteView;
  #promise: Promise<ByteView> | undefined;
  constructor(view: ByteView) {
    this.view = view;
  }
  get promise(): Promise<ByteView> {
    return this.#promise ??= Promise.resolve(this.view);
  }
  get length(): number {
    return this.view.length;
  }
}

export class Caches {
  readonly main: LruCache<Slot>;
  readonly hot: LruCache<Slot>;
  #maxBytes: number;

  constructor(maxBytes: number, overhead: number, now: () => number) {
    this.#maxBytes = maxBytes;
    const sizeOf = (key: string, slot: Slot) => utf8Length(key) + slot.length + overhead;
    this.main = new LruCache({ now, sizeOf });
    this.hot = new LruCache({ now, sizeOf });
  }

  /** The live entry for `key` and when it expires (counts a lookup). */
  lookup(key: string): Cached | undefined {
    let cache = this.main;
    let slot = cache.get(key);
    if (slot === undefined) {
      cache = this.hot;
      slot = cache.get(key);
    }
    return slot && { view: slot.view, expiresAt: cache.expiresAt(key) ?? 0 };
  }

  /** Adds to one cache, then evicts until both fit the budget together. */
  add(key: string, cached: Cached, which: CacheType): void {
    if (this.#maxBytes === 0) return;
    const { main, hot } = this;
    (which === "hot" ? hot : main).add(key, new Slot(cached.view), { expiresAt: cached.expiresAt });
    while (main.bytes + hot.bytes > this.#maxBytes) {
      // Evict from the hot cache first once it holds more than 1/8 of the
      // main cache: hot copies are cheap to fetch again from their owners.
      const victim = hot.bytes > main.bytes / 8 ? hot : main;
      if (!victim.removeOldest()) break;
    }
  }

  remove(key: string): void {
    this.main.remove(key);
    this.hot.remove(key);
  }

  stats(which: CacheType): CacheStats {
    return (which === "hot" ? this.hot : this.main).stats();
  }
}
