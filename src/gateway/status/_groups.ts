// The groups of a status report: each node's Stats summed per group name.
import type { CacheStatsMessage, GroupStatsMessage, StatsResponse } from "../../grpc/messages.ts";

/** One cache of a group (main or hot), summed over the nodes. */
export interface CacheStatus {
  /** Bytes charged to the cache: keys, values and the per-entry overhead. */
  bytes: number;
  /** Entries held. */
  items: number;
  /** Lookups. */
  gets: number;
  /** Lookups that found a live entry. */
  hits: number;
  /** Entries evicted to make room. */
  evictions: number;
  /** `hits / gets`; `null` before the first lookup. */
  hitRatio: number | null;
}

/** One group, summed over the nodes that reported it. */
export interface GroupStatus {
  /** The group's name. */
  name: string;
  /** How many nodes reported the group. */
  nodes: number;
  /** Gets, including those answered from cache (`GroupStats.gets`). */
  gets: number;
  /** Gets answered from the main or hot cache. */
  cacheHits: number;
  /** `cacheHits / gets`, main and hot caches together; `null` before the first get. */
  hitRatio: number | null;
  /** Gets that missed the cache. */
  loads: number;
  /** Successful getter calls. */
  localLoads: number;
  /** Failed getter calls, not-found included (`GroupStats.localLoadErrs`). */
  localLoadErrors: number;
  /** Values fetched from the owning peer. */
  peerLoads: number;
  /** Failed peer calls (the key was then loaded locally). */
  peerErrors: number;
  /** Bytes held by the main and hot caches. */
  bytes: number;
  /** The groups' budgets, summed (0 from nodes that do not report it). */
  maxBytes: number;
  /** The main caches: the keys the nodes own. */
  main: CacheStatus;
  /** The hot caches: copies of keys other nodes own. */
  hot: CacheStatus;
}

function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

function emptyCache(): CacheStatus {
  return { bytes: 0, items: 0, gets: 0, hits: 0, evictions: 0, hitRatio: null };
}

function addCache(into: CacheStatus, from: CacheStatsMessage | undefined): void {
  if (from === undefined) return;
  into.bytes += Number(from.bytes);
  into.items += Number(from.items);
  into.gets += Number(from.gets);
  into.hits += Number(from.hits);
  into.evictions += Number(from.evictions);
}

function emptyGroup(name: string): GroupStatus {
  return {
    name,
    nodes: 0,
    gets: 0,
    cacheHits: 0,
    hitRatio: null,
    loads: 0,
    localLoads: 0,
    localLoadErrors: 0,
    peerLoads: 0,
    peerErrors: 0,
    bytes: 0,
    maxBytes: 0,
    main: emptyCache(),
    hot: emptyCache(),
  };
}

function addGroup(into: GroupStatus, from: GroupStatsMessage): void {
  into.nodes++;
  into.gets += Number(from.gets);
  into.cacheHits += Number(from.cache_hits);
  into.loads += Number(from.loads);
  into.localLoads += Number(from.local_loads);
  into.localLoadErrors += Number(from.local_load_errs);
  into.peerLoads += Number(from.peer_loads);
  into.peerErrors += Number(from.peer_errors);
  into.maxBytes += Number(from.max_bytes ?? 0);
  addCache(into.main, from.main);
  addCache(into.hot, from.hot);
}

/** Sums the nodes' group stats by group name, sorted by name. */
export function groupStatus(nodes: readonly StatsResponse[]): GroupStatus[] {
  const groups = new Map<string, GroupStatus>();
  for (const node of nodes) {
    for (const stats of node.groups ?? []) {
      let group = groups.get(stats.name);
      if (group === undefined) groups.set(stats.name, group = emptyGroup(stats.name));
      addGroup(group, stats);
    }
  }
  const sorted = [...groups.values()].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const group of sorted) {
    group.hitRatio = ratio(group.cacheHits, group.gets);
    group.bytes = group.main.bytes + group.hot.bytes;
    group.main.hitRatio = ratio(group.main.hits, group.main.gets);
    group.hot.hitRatio = ratio(group.hot.hits, group.hot.gets);
  }
  return sorted;
}
