/**
 * Prometheus metrics of a node: every group and cache counter, labelled by
 * group and cache, read from the stats at scrape time (nothing is counted
 * twice on the request path).
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Group, LoadObserver } from "../group.ts";
import type { GroupRegistry } from "../registry.ts";
import { addProcessMetrics } from "./process_metrics.ts";
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
  /** Whether the node serves. */
  healthy(): boolean;
  /** Whether the node's watch on etcd is up; not given for a static `--peers` cluster. */
  etcdConnected?(): boolean;
  /** Bytes that arriving messages hold, and messages refused for want of room. @default {undefined (not reported)} */
  buffered?(): { bytes: number; refused: number };
}

/**
 * A node's metrics, rendered at each scrape: what an HTTP handler serves at
 * `/metrics`. (A prom-client `Registry`, described by the part a handler
 * uses so that these docs stand without prom-client's types.)
 */
export interface NodeMetrics {
  /** The Prometheus text exposition of every metric, read now. */
  metrics(): Promise<string>;
  /** The `content-type` to serve {@linkcode NodeMetrics.metrics} with. */
  readonly contentType: string;
}

/**
 * Builds a Prometheus registry with the node's metrics and the default
 * process metrics, and times the loads of the groups in `groups` from now
 * on (see `Group.observeLoads`).
 *
 * @example Render a registry's metrics
 * ```ts
 * import { GroupRegistry } from "@mccache/core";
 * import { createNodeMetrics } from "@mccache/core/node";
 *
 * const metrics = createNodeMetrics(new GroupRegistry(), { members: () => [], healthy: () => true });
 * const text = await metrics.metrics();
 * console.assert(text.includes("mccache_ring_members 0"));
 * ```
 */
export function createNodeMetrics(groups: GroupRegistry, node: NodeMetricsSource): NodeMetrics {
  const registry = new Registry();
  addGroupCounters(registry, groups);
  addCacheMetrics(registry, groups);
  addNodeGauges(registry, node);
  if (node.etcdConnected) etcdConnectedGauge(registry, node.etcdConnected);
  if (node.buffered) addBufferMetrics(registry, node.buffered);
  timeLoads(registry, groups);
  addProcessMetrics(registry);
  return registry;
}

function addGroupCounters(registry: Registry, groups: GroupRegistry): void {
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
}

function addCacheMetrics(registry: Registry, groups: GroupRegistry): void {
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
}

function addNodeGauges(registry: Registry, node: NodeMetricsSource): void {
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
    help: "1 while the node serves (an etcd outage does not change it)",
    registers: [registry],
    collect() {
      this.set(node.healthy() ? 1 : 0);
    },
  });
}

// Latency buckets in seconds: a getter may call a database, a peer call
// crosses the network, so they reach further than the gateway's.
const LOAD_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

// Histograms of getter calls and peer fetches, by group and outcome. They
// are observed on misses only (a load), never on a hit.
function timeLoads(registry: Registry, groups: GroupRegistry): void {
  const labelNames = ["group", "outcome"] as const;
  const histogram = (name: string, help: string) =>
    new Histogram({ name, help, labelNames, buckets: LOAD_BUCKETS, registers: [registry] });
  const getter = histogram(
    "mccache_getter_duration_seconds",
    "Time of each getter call (a local load), by outcome: value, not_found or error",
  );
  const peer = histogram(
    "mccache_peer_call_duration_seconds",
    "Time of each fetch from a key's owner, by outcome: value, not_found or error",
  );
  for (const group of groups) group.observeLoads(loadObserver(group, getter, peer));
}

function loadObserver(group: Group, getter: Histogram, peer: Histogram): LoadObserver {
  // One labelled child per outcome, made once: labels() per call costs more.
  const children = (histogram: Histogram) => ({
    value: histogram.labels(group.name, "value"),
    not_found: histogram.labels(group.name, "not_found"),
    error: histogram.labels(group.name, "error"),
  });
  const bySource = { getter: children(getter), peer: children(peer) };
  return (source, ms, outcome) => bySource[source][outcome].observe(ms / 1000);
}

function addBufferMetrics(
  registry: Registry,
  buffered: () => { bytes: number; refused: number },
): void {
  new Gauge({
    name: "mccache_buffered_bytes",
    help: "Bytes that gRPC messages still arriving hold, against --max-buffered-bytes",
    registers: [registry],
    collect() {
      this.set(buffered().bytes);
    },
  });
  new Counter({
    name: "mccache_refused_messages_total",
    help: "gRPC messages refused with RESOURCE_EXHAUSTED: --max-buffered-bytes was reached",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(buffered().refused);
    },
  });
}

/**
 * Adds `mccache_etcd_connected` to `registry`: 1 while `connected()` says
 * the watch on etcd is up, 0 during an outage, read at scrape time. Nodes
 * and the gateway report it the same way.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { etcdConnectedGauge } from "./metrics.ts";
 *
 * const registry = new Registry();
 * etcdConnectedGauge(registry, () => false);
 * console.assert((await registry.metrics()).includes("mccache_etcd_connected 0"));
 * ```
 */
export function etcdConnectedGauge(registry: Registry, connected: () => boolean): Gauge {
  return new Gauge({
    name: "mccache_etcd_connected",
    help: "1 while the watch on etcd is up, 0 while etcd is out of reach (members may be stale)",
    registers: [registry],
    collect() {
      this.set(connected() ? 1 : 0);
    },
  });
}
