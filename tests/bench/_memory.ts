// The memory run of the cluster benchmark: 1 GiB of distinct 1 KiB values
// through one standalone node with a 64 MiB budget, then its RSS against
// 2 × budget + its RSS when idle.
//
// The values go in as GETs through a gateway that miss and load from the
// origin, driven by wrk: the read-through path is what fills a cache, and with
// the gateway's batching stream it is the fastest way in. Unary gRPC calls
// from this process would cost the client as much CPU as the node
// (figures in docs/PERFORMANCE.md).
import { freePort } from "../../src/_testing/ports.ts";
import { type NodeProcess, startGatewayProcess, startNodeProcess } from "../_cluster.ts";
import type { LoadGenerator, LoadResult, LoadRun, LoadSettings } from "./_load.ts";
import { distinct } from "./_workloads.ts";
import { type Cleanup, memoryOf, retryOnPortClash, scrape, startAll, sum } from "./_stack.ts";

const KEYS = 1 << 20;
const VALUE_BYTES = 1024;
const BUDGET_MIB = 64;
/** Without --memory the run goes ahead only if it looks like finishing within this. */
const AUTO_LIMIT_S = 90;
/** The run's rate between these two points decides whether it fits AUTO_LIMIT_S. */
const WARM_S = 2;
const CALIBRATE_S = 6;
/** Seconds without a new load after which the run has failed. */
const STALL_S = 15;
/**
 * More connections than the scenarios use: the gateway batches the keys that
 * arrive together, so bigger batches push more loads per second.
 */
const CONNECTIONS = 256;
/** A cap for wrk's duration; the run ends when the node has loaded every key. */
const MAX_DURATION_MS = 30 * 60_000;

/** What the memory run found; `skipped` says why there are no figures. */
export interface MemoryResult {
  skipped?: string;
  keys?: number;
  loadedMiB?: number;
  load?: LoadResult;
  idleRssMiB?: number;
  rssMiB?: number;
  peakRssMiB?: number;
  boundMiB?: number;
  mainCacheMiB?: number;
  hotCacheMiB?: number;
  /** Where the RSS went, from the node's default process metrics after the run. */
  heapUsedMiB?: number;
  heapTotalMiB?: number;
  externalMiB?: number;
  /** Whether the RSS after the run, and the peak RSS during it, were within the bound. */
  passAfter?: boolean;
  passPeak?: boolean;
}

/** Options of {@linkcode memoryRun}. */
export interface MemoryOptions {
  cleanup: Cleanup;
  /** Makes the load generator; `limit` bounds the requests of the Deno one. */
  generator: (limit: number) => LoadGenerator;
  settings: LoadSettings;
  /** Base URL of the benchmark origin (tests/bench/origin.ts). */
  origin: string;
  /** `auto`: skip when the first seconds predict more than AUTO_LIMIT_S. */
  mode: "auto" | "always";
}

/** Runs the memory run; stops its node and gateway before returning. */
export async function memoryRun(options: MemoryOptions): Promise<MemoryResult> {
  const scope = options.cleanup.stack.use(new AsyncDisposableStack());
  try {
    const [node] = await startAll(scope, [retryOnPortClash(() => startStandaloneNode(options))]);
    options.cleanup.watch("memory-run node", node, scope);
    // The empty-process baseline: an idle node right after it started.
    const idleRssMiB = memoryOf(node.pid).rssMiB;
    const gatewayArgs = ["--peers", node.addr, "--log-level", "info"];
    const [gateway] = await startAll(scope, [
      retryOnPortClash(() => startGatewayProcess(gatewayArgs)),
    ]);
    options.cleanup.watch("memory-run gateway", gateway, scope);
    const workload = distinct("/mccache/mem/", "m", KEYS, options.settings.threads);
    const settings = { ...options.settings, connections: CONNECTIONS, durationMs: MAX_DURATION_MS };
    const generate = options.generator(KEYS);
    const run = generate(`http://${gateway.addr}`, workload, settings, options.cleanup.signal);
    const skipped = await follow(run, node.httpAddr, options.mode);
    const load = await run.result;
    if (skipped) return { skipped };
    return { ...await measure(node.httpAddr, node.pid, idleRssMiB), load };
  } finally {
    await scope.disposeAsync();
  }
}

// A node that is its own only peer, reading 1 KiB values from the origin.
function startStandaloneNode(options: MemoryOptions): Promise<NodeProcess> {
  const addr = `127.0.0.1:${freePort()}`;
  return startNodeProcess(
    [
      ["--peers", addr, "--cache-bytes", `${BUDGET_MIB}MiB`, "--log-level", "info"],
      ["--origin", `mem=${options.origin}/${VALUE_BYTES}/{key}`],
    ].flat(),
    addr,
  );
}

// Watches the node's loads until every key has been loaded, then ends the
// run (wrk keeps going until told). In auto mode, ends it early when its rate
// predicts a run longer than AUTO_LIMIT_S, and says so. Throws when loads stop.
async function follow(
  run: LoadRun,
  nodeHttp: string,
  mode: MemoryOptions["mode"],
): Promise<string | undefined> {
  let finished = false;
  run.result.finally(() => finished = true).catch(() => {});
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  let calibration: { at: number; loaded: number } | undefined;
  let decided = mode !== "auto";
  let progress = { at: 0, loaded: 0 };
  while (!finished) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const loaded = await loadsOf(nodeHttp);
    if (loaded >= KEYS) break;
    if (loaded > progress.loaded) progress = { at: seconds(), loaded };
    else if (seconds() - progress.at > STALL_S) {
      run.interrupt();
      throw new Error(
        `Memory run stalled: ${loaded} of ${KEYS} keys loaded, none for ${STALL_S} s`,
      );
    }
    // The rate after JIT warm-up, not from the start, predicts the rest.
    if (!decided && seconds() >= WARM_S) calibration ??= { at: seconds(), loaded };
    if (!decided && calibration && seconds() >= CALIBRATE_S) {
      decided = true;
      const rate = (loaded - calibration.loaded) / (seconds() - calibration.at);
      const estimate = seconds() + (KEYS - loaded) / rate;
      if (estimate > AUTO_LIMIT_S) {
        run.interrupt();
        return `${KEYS} keys would take ~${Math.round(estimate)} s at ${Math.round(rate)} ` +
          `loads/s (over ${AUTO_LIMIT_S} s); run with --memory to force it`;
      }
    }
  }
  run.interrupt();
  return undefined;
}

// Loads that finished either way: every distinct key costs exactly one.
async function loadsOf(nodeHttp: string): Promise<number> {
  const metrics = await scrape(nodeHttp);
  return sum(metrics, "mccache_local_loads_total") +
    sum(metrics, "mccache_local_load_errors_total");
}

async function measure(nodeHttp: string, pid: number, idleRssMiB: number): Promise<MemoryResult> {
  const { rssMiB, peakMiB } = memoryOf(pid);
  const metrics = await scrape(nodeHttp);
  const loads = sum(metrics, "mccache_local_loads_total");
  const mib = (name: string, labels = {}) => sum(metrics, name, labels) / 2 ** 20;
  const boundMiB = 2 * BUDGET_MIB + idleRssMiB;
  return {
    keys: loads,
    loadedMiB: loads * VALUE_BYTES / 2 ** 20,
    idleRssMiB,
    rssMiB,
    peakRssMiB: peakMiB,
    boundMiB,
    mainCacheMiB: mib("mccache_cache_bytes", { group: "mem", cache: "main" }),
    hotCacheMiB: mib("mccache_cache_bytes", { group: "mem", cache: "hot" }),
    heapUsedMiB: mib("nodejs_heap_size_used_bytes"),
    heapTotalMiB: mib("nodejs_heap_size_total_bytes"),
    externalMiB: mib("nodejs_external_memory_bytes"),
    // Both: a bound that holds only once a late garbage collection has run
    // still lets the process take more than the bound meanwhile.
    passAfter: rssMiB <= boundMiB,
    passPeak: peakMiB <= boundMiB,
  };
}
