/**
 * {@linkcode GatewayMetrics}: the gateway's Prometheus metrics.
 *
 * @module
 */

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { LruCache } from "../lru.ts";

/**
 * Requests by method and status, latency, upstream errors, ring size and
 * hot-cache counters. Label children are kept, so a request costs two map
 * lookups, not a label resolution.
 *
 * @example
 * ```ts
 * import { GatewayMetrics } from "@mccache/core/gateway";
 * import assert from "node:assert/strict";
 *
 * const metrics = new GatewayMetrics({ members: () => ["127.0.0.1:8001"] });
 * metrics.observe("GET", 200, 1.5);
 * assert.match(await metrics.text(), /mccache_gateway_requests_total\{method="GET",status="200"\} 1/);
 * ```
 */
export class GatewayMetrics {
  #registry = new Registry();
  #requests: Counter<"method" | "status">;
  #latency: Histogram<"method">;
  #upstreamErrors: Counter<"kind">;
  #children = new Map<string, { count: Counter; latency: Histogram }>();
  #hot: LruCache<Uint8Array<ArrayBuffer>> | undefined;

  /** Creates the metrics; `members` reports the ring the gateway routes over. */
  constructor(source: { members: () => readonly string[] }) {
    const registers = [this.#registry];
    this.#requests = new Counter({
      name: "mccache_gateway_requests_total",
      help: "HTTP requests by method and status",
      labelNames: ["method", "status"],
      registers,
    });
    this.#latency = new Histogram({
      name: "mccache_gateway_request_duration_seconds",
      help: "HTTP request latency",
      labelNames: ["method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#upstreamErrors = new Counter({
      name: "mccache_gateway_upstream_errors_total",
      help: "Failed calls to cache nodes, by error",
      labelNames: ["kind"],
      registers,
    });
    new Gauge({
      name: "mccache_gateway_ring_members",
      help: "Cache nodes the gateway routes over",
      registers,
      collect() {
        this.set(source.members().length);
      },
    });
    this.#hotGauges(registers);
    collectDefaultMetrics({ register: this.#registry });
  }

  /** The Content-Type of {@linkcode GatewayMetrics.text}. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Counts one request and its latency in milliseconds. */
  observe(method: string, status: number, ms: number): void {
    const id = `${method} ${status}`;
    let child = this.#children.get(id);
    if (child === undefined) {
      child = {
        count: this.#requests.labels(method, String(status)) as unknown as Counter,
        latency: this.#latency.labels(method) as unknown as Histogram,
      };
      this.#children.set(id, child);
    }
    child.count.inc();
    child.latency.observe(ms / 1000);
  }

  /** Counts a failed upstream call, by error name. */
  upstreamError(error: unknown): void {
    const name = (error as { name?: unknown } | null)?.name;
    this.#upstreamErrors.inc({ kind: typeof name === "string" ? name : "Error" });
  }

  /** Reports the hot cache's counters (none when it is off). */
  watchHotCache(cache: LruCache<Uint8Array<ArrayBuffer>> | undefined): void {
    this.#hot = cache;
  }

  /** Returns the metrics in Prometheus text format. */
  text(): Promise<string> {
    return this.#registry.metrics();
  }

  #hotGauges(registers: Registry[]): void {
    const read = () => this.#hot?.stats();
    for (const field of ["bytes", "items", "gets", "hits", "evictions"] as const) {
      new Gauge({
        name: `mccache_gateway_hot_cache_${field}`,
        help: `Gateway hot cache: ${field}`,
        registers,
        collect() {
          this.set(read()?.[field] ?? 0);
        },
      });
    }
  }
}
