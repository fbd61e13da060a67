/**
 * {@linkcode GatewayMetrics}: the gateway's Prometheus metrics.
 *
 * @module
 */

import { Counter, Gauge, Registry } from "prom-client";
import type { CacheStats } from "../stats.ts";
import { etcdConnectedGauge } from "../node/metrics.ts";
import { addProcessMetrics } from "../node/process_metrics.ts";

/**
 * The upper bounds of the gateway's latency buckets, in seconds.
 *
 * @example The top bucket
 * ```ts
 * import assert from "node:assert/strict";
 * import { LATENCY_BUCKETS } from "./metrics.ts";
 *
 * assert.equal(LATENCY_BUCKETS.at(-1), 2.5);
 * ```
 */
export const LATENCY_BUCKETS: readonly number[] = [
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
];
const BUCKETS = LATENCY_BUCKETS;
const LATENCY = "mccache_gateway_request_duration_seconds";
const METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"]);

// Counts of one method: requests by status, and the latency histogram.
class MethodStats {
  statuses = new Map<number, number>();
  buckets = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  count = 0;
}

/**
 * Requests by method and status, latency, upstream errors, ring size and
 * hot-cache counters. The request path only bumps plain numbers (a labelled
 * prom-client histogram cost ~13% of the gateway's throughput); prom-client
 * reads them at scrape time.
 *
 * @example Count a request and render it
 * ```ts
 * import { GatewayMetrics } from "@mccache/core/gateway";
 * import assert from "node:assert/strict";
 *
 * const metrics = new GatewayMetrics({ members: () => ["127.0.0.1:8001"] });
 * metrics.observe("GET", 200, 1.5);
 * const text = await metrics.text();
 * assert.match(text, /mccache_gateway_requests_total\{method="GET",status="200"\} 1/);
 * assert.match(text, /mccache_gateway_request_duration_seconds_bucket\{method="GET",le="0.0025"\} 1/);
 * ```
 */
export class GatewayMetrics {
  #registry = new Registry();
  #methods = new Map<string, MethodStats>();
  #upstreamErrors: Counter<"kind">;
  #notFound: Counter;
  #dropErrors: Counter;
  #hot: { stats(): CacheStats } | undefined;

  /**
   * Creates the metrics; `members` reports the ring the gateway routes over,
   * `protocolOf` what each member was found to speak, and `etcdConnected`
   * (with etcd only) whether the watch on etcd is up.
   */
  constructor(source: {
    members: () => readonly string[];
    protocolOf?: (member: string) => string | undefined;
    etcdConnected?: () => boolean;
  }) {
    const registers = [this.#registry];
    requestsCounter(registers, this.#methods);
    this.#upstreamErrors = new Counter({
      name: "mccache_gateway_upstream_errors_total",
      help: "Failed calls to cache nodes, by error",
      labelNames: ["kind"],
      registers,
    });
    this.#notFound = new Counter({
      name: "mccache_gateway_upstream_not_found_total",
      help: "Upstream calls answered not found: an outcome, not an error",
      registers,
    });
    this.#dropErrors = new Counter({
      name: "mccache_gateway_drop_errors_total",
      help: "Nodes that could not be told to drop their copy of a key after a write",
      registers,
    });
    memberGauges(registers, source);
    if (source.etcdConnected) etcdConnectedGauge(this.#registry, source.etcdConnected);
    this.#hotGauges(registers);
    addProcessMetrics(this.#registry);
  }

  /** The Content-Type of {@linkcode GatewayMetrics.text}. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Counts one request and its latency in milliseconds. */
  observe(method: string, status: number, ms: number): void {
    // Any client can send any method name: keep the label set bounded.
    if (!METHODS.has(method)) method = "OTHER";
    let stats = this.#methods.get(method);
    if (stats === undefined) this.#methods.set(method, stats = new MethodStats());
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
    const seconds = ms / 1000;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]) i++;
    stats.buckets[i]++;
    stats.sum += seconds;
    stats.count++;
  }

  /**
   * Counts a node that could not be told to drop its copy of a key after a
   * write (it may serve the old value if it becomes the key's owner).
   */
  dropFailed(): void {
    this.#dropErrors.inc();
  }

  /** Counts a failed upstream call, by error name; a not-found is counted apart. */
  upstreamError(error: unknown): void {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === "NotFoundError") this.#notFound.inc();
    else this.#upstreamErrors.inc({ kind: typeof name === "string" ? name : "Error" });
  }

  /**
   * The requests counted so far, over all methods: how many, how many were
   * answered 5xx, and the latency histogram's counts per bucket of
   * {@linkcode LATENCY_BUCKETS} (not cumulative; the last is over the top
   * bound). Read it twice to get the figures of the time between.
   *
   * @example Count a request
   * ```ts
   * import assert from "node:assert/strict";
   * import { GatewayMetrics } from "@mccache/core/gateway";
   *
   * const metrics = new GatewayMetrics({ members: () => [] });
   * metrics.observe("GET", 503, 3);
   * assert.deepEqual({ ...metrics.totals(), buckets: undefined }, { requests: 1, errors: 1, buckets: undefined });
   * ```
   */
  totals(): { requests: number; errors: number; buckets: number[] } {
    let requests = 0;
    let errors = 0;
    const buckets = new Array<number>(BUCKETS.length + 1).fill(0);
    for (const stats of this.#methods.values()) {
      requests += stats.count;
      for (const [status, n] of stats.statuses) if (status >= 500) errors += n;
      stats.buckets.forEach((n, i) => buckets[i] += n);
    }
    return { requests, errors, buckets };
  }

  /** Reports the hot cache's counters (none when it is off). */
  watchHotCache(cache: { stats(): CacheStats } | undefined): void {
    this.#hot = cache;
  }

  /** Returns the metrics in Prometheus text format. */
  async text(): Promise<string> {
    return (await this.#registry.metrics()) + this.#latencyText();
  }

  // The latency histogram in exposition format (cumulative buckets).
  #latencyText(): string {
    const lines = [`# HELP ${LATENCY} HTTP request latency`, `# TYPE ${LATENCY} histogram`];
    for (const [method, stats] of this.#methods) {
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += stats.buckets[i];
        lines.push(`${LATENCY}_bucket{method="${method}",le="${le}"} ${cumulative}`);
      });
      lines.push(`${LATENCY}_bucket{method="${method}",le="+Inf"} ${stats.count}`);
      lines.push(`${LATENCY}_sum{method="${method}"} ${stats.sum}`);
      lines.push(`${LATENCY}_count{method="${method}"} ${stats.count}`);
    }
    return lines.join("\n") + "\n";
  }

  // Bytes and items go up and down: gauges. Gets, hits and evictions only
  // grow: counters, so that rate() works on them.
  #hotGauges(registers: Registry[]): void {
    const read = () => this.#hot?.stats();
    for (const field of ["bytes", "items"] as const) {
      new Gauge({
        name: `mccache_gateway_hot_cache_${field}`,
        help: `Gateway hot cache: ${field} held`,
        registers,
        collect() {
          this.set(read()?.[field] ?? 0);
        },
      });
    }
    for (const field of ["gets", "hits", "evictions"] as const) {
      new Counter({
        name: `mccache_gateway_hot_cache_${field}_total`,
        help: `Gateway hot cache: ${field}`,
        registers,
        collect() {
          this.reset();
          this.inc(read()?.[field] ?? 0);
        },
      });
    }
  }
}

// The request path only bumps MethodStats' plain numbers; they become
// labelled counts here, at scrape time.
function requestsCounter(registers: Registry[], methods: Map<string, MethodStats>): void {
  new Counter({
    name: "mccache_gateway_requests_total",
    help: "HTTP requests by method and status",
    labelNames: ["method", "status"],
    registers,
    collect() {
      this.reset();
      for (const [method, stats] of methods) {
        for (const [status, n] of stats.statuses) this.inc({ method, status }, n);
      }
    },
  });
}

function memberGauges(
  registers: Registry[],
  source: {
    members: () => readonly string[];
    protocolOf?: (member: string) => string | undefined;
  },
): void {
  new Gauge({
    name: "mccache_gateway_ring_members",
    help: "Cache nodes the gateway routes over",
    registers,
    collect() {
      this.set(source.members().length);
    },
  });
  new Gauge({
    name: "mccache_gateway_members",
    help: "Cache nodes by the protocol they answer: mccache.v1, geecachepb (the Go " +
      "original), none (refused both), or unknown (not heard from yet)",
    labelNames: ["protocol"],
    registers,
    collect() {
      this.reset();
      // Every protocol has a series, at 0 when no member speaks it: a query
      // on one then reads 0 rather than nothing.
      for (const protocol of ["mccache.v1", "geecachepb", "none", "unknown"]) {
        this.set({ protocol }, 0);
      }
      for (const member of source.members()) {
        this.inc({ protocol: source.protocolOf?.(member) ?? "unknown" });
      }
    },
  });
}
