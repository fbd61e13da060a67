/**
 * {@linkcode addProcessMetrics}: prom-client's default process metrics,
 * made true under the permissions `deno task node` and `deno task gateway`
 * grant.
 *
 * @module
 */

import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

// The default metrics prom-client reads from /proc/self. Deno lets a process
// read /proc only with --allow-all (an --allow-read of /proc/self is refused
// too), and prom-client then reports 0 for them: a figure that looks real
// and is not.
const FROM_PROC = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
];

/**
 * Adds prom-client's default metrics to `registry`. Without read access to
 * `/proc/self` (anything short of `--allow-all`), the ones read from there
 * are left out, except `process_resident_memory_bytes`, which then comes
 * from `Deno.memoryUsage()` (the same figure, without /proc).
 *
 * @example Resident memory without /proc
 * ```ts
 * import assert from "node:assert/strict";
 * import { Registry } from "prom-client";
 * import { addProcessMetrics } from "./process_metrics.ts";
 *
 * const registry = new Registry();
 * addProcessMetrics(registry);
 * const rss = await registry.getSingleMetric("process_resident_memory_bytes")!.get();
 * assert(rss.values[0].value > 0);
 * ```
 */
export function addProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  if (procReadable()) return;
  for (const name of FROM_PROC) registry.removeSingleMetric(name);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
}

function procReadable(): boolean {
  // Asking first: a read without permission would prompt on a terminal.
  const path = "/proc/self/status";
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return false;
  try {
    Deno.readTextFileSync(path);
    return true;
  } catch {
    return false;
  }
}
