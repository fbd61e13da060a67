/**
 * Prometheus metrics of a node: every group and cache counter, labelled by
 * group and cache, read from the stats at scrape time (nothing is counted
 * twice on the request path).
 *
 * @module
 */

import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { GroupRegistry } from "../registry.ts";
import type { CacheStats, CacheType, GroupStats } from "../stats.ts";

const GROUP_COUNTERS: [keyof GroupStats, string, string][] = [
  ["gets", "mccache_gets_total", "Gets, including those served from cache"],
  ["cacheHits", "mccache_cache_hits_total", "Gets answered from the main or hot cache"],
  ["peerLoads", "mccache_peer_loads_total", "Values fetched from the owning peer"],
  ["peerErrors", "mccache_peer_errors_total", "Failed peer calls"],
  ["loads", "mccache_loads_total", "Gets that missed the cache"],
  ["loadsDeduped", "mccache_loads_deduped_total", "Loads that went past singleflight"],
  ["localLoads", "mccache_local_loads_total", "Successful getter calls"],
  ["localLoadErrs", "mccache_local_load_errors_total", "Failed getter calls"],
  ["serverRequests", "mccache_server_requests_total", "Requests that came in over gRPC"],
  ["staleServed", "mccache_stale_served_total", "Gets answered with a value past its TTL"],
  ["refreshes", "mccache_refreshes_total", "Background loads of values served stale"],
];

const CACHE_COUNTERS: [keyof CacheStats, string, string][] = [
  ["gets", "mccache_cache_gets_total", "Cache lookups"],
  ["hits", "mccache_cache_lookup_hits_total", "Cache lookups that found a live entry"],
  ["evictions", "mccache_cache_evictions_total", "Entries evicted for space"],
  ["admitted", "mccache_cache_admitted_total", "New entries let into the cache"],
  ["rejected", "mccache_cache_rejected_total", "Candidates turned away by W-TinyLFU admission"],
];

const CACHE_GAUGES: [keyof CacheStats, string, string][] = [
  ["bytes", "mccache_cache_bytes", "Bytes held by keys and values"],
  ["items", "mccache_cache_items", "Entries held"],
];

const CACHES: CacheType[] = ["main", "hot"];

/** What the node reports about itself besides its groups. */
export interface NodeMetricsSource {
  /** Ring members as this node sees them. */
  members(): readonly string[];
  /** Whether the node is registered and serving. */
  healthy(): boolean;
}

/**
 * Builds a Prometheus registry with the node's metrics and the default
 * process metrics.
 *
 * @example
 * ```ts
 * import { GroupRegistry } from "@mccache/core";
 * import { createNodeMetrics } from "@mccache/core/node";
 *
 * const metrics = createNodeMetrics(new GroupRegistry(), { members: () => [], healthy: () => true });
 * const text = await metrics.metrics();
 * console.assert(text.includes("mccache_ring_members 0"));
 * ```
 */
export function createNodeMetrics(groups: GroupRegistry, node: NodeMetricsSource): Registry {
  const registry = new Registry();
  for (const [field, name, help] of GROUP_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ["group"],
      registers: [registry],
      collect() {
        this.reset();
        for (const group of groups) this.inc({ group: group.name }, group.stats()[field]);
      },
    });
  }
  const perCache = (field: keyof CacheStats, set: (labels: object, value: number) => void) => {
    for (const group of groups) {
      for (const cache of CACHES) set({ group: group.name, cache }, group.cacheStats(cache)[field]);
    }
  };
  for (const [field, name, help] of CACHE_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ["group", "cache"],
      registers: [registry],
      collect() {
        this.reset();
        perCache(field, (labels, value) => this.inc(labels, value));
      },
    });
  }
  for (const [field, name, help] of CACHE_GAUGES) {
    new Gauge({
      name,
      help,
      labelNames: ["group", "cache"],
      registers: [registry],
      collect() {
        this.reset();
        perCache(field, (labels, value) => this.set(labels, value));
      },
    });
  }
  new Gauge({
    name: "mccache_ring_members",
    help: "Members of the ring this node routes by",
    registers: [registry],
    collect() {
      this.set(node.members().length);
    },
  });
  new Gauge({
    name: "mccache_up",
    help: "1 when the node is registered and serving",
    registers: [registry],
    collect() {
      this.set(node.healthy() ? 1 : 0);
    },
  });
  collectDefaultMetrics({ register: registry });
  return registry;
}
