/**
 * The counters a group and its caches keep, as plain snapshot types.
 *
 * @module
 */

/**
 * A snapshot of a group's counters, named as in groupcache.
 *
 * @example Read how often the cache answered
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, type GroupStats } from "@mccache/core";
 *
 * const group = new Group({ name: "s", maxBytes: 1 << 20, getter: (key) => key });
 * await group.get("a");
 * await group.get("a");
 * const stats: GroupStats = group.stats();
 * assert(stats.gets === 2 && stats.cacheHits === 1 && stats.localLoads === 1);
 * ```
 */
export interface GroupStats {
  /** Every `get`, including the ones served from cache. */
  gets: number;
  /** Gets answered from the main or hot cache. */
  cacheHits: number;
  /** Values fetched from the owning peer. */
  peerLoads: number;
  /** Peer fetches that failed (the key was then loaded locally). */
  peerErrors: number;
  /** Gets that missed the cache: `gets - cacheHits`. */
  loads: number;
  /** Loads that went past singleflight, i.e. that were not shared with a concurrent load. */
  loadsDeduped: number;
  /** Successful calls of the getter. */
  localLoads: number;
  /** Calls of the getter that failed (not-found included). */
  localLoadErrs: number;
  /** Requests that arrived through a server (from a peer or a gateway). */
  serverRequests: number;
  /**
   * Gets answered with a value past its TTL: within `staleWhileRevalidate`
   * while it was refreshed, or within `staleIfError` when its load failed.
   */
  staleServed: number;
  /** Background loads started to refresh a value served stale. */
  refreshes: number;
}

/**
 * A snapshot of one cache's counters.
 *
 * @example Read the main cache's size
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, type CacheStats } from "@mccache/core";
 *
 * const group = new Group({ name: "c", maxBytes: 4096, getter: (key) => key, entryOverhead: 0 });
 * await group.get("ab");
 * const main: CacheStats = group.cacheStats("main");
 * assert(main.items === 1 && main.bytes === 4);
 * ```
 */
export interface CacheStats {
  /** Bytes charged: keys, values and, in a group, the per-entry overhead. */
  bytes: number;
  /** Number of entries. */
  items: number;
  /** Lookups. */
  gets: number;
  /** Lookups that found a live entry. */
  hits: number;
  /** Entries evicted to make room (rejected candidates included). */
  evictions: number;
  /**
   * New entries let in: under W-TinyLFU, those that passed from the window to
   * the main space; under LRU, every new entry.
   */
  admitted: number;
  /** W-TinyLFU candidates turned away as less frequent than their victims (LRU: always 0). */
  rejected: number;
}

/** Which of a group's two caches: the keys it owns, or hot copies of other nodes' keys. */
export type CacheType = "main" | "hot";
