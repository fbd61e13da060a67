// What the cluster benchmark found, and how it prints it: aligned tables for
// people, one JSON document for scripts.
import type { CpuPerRequest } from "./_cpu.ts";
import type { LoadResult, LoadSettings } from "./_load.ts";
import type { MemoryResult } from "./_memory.ts";

/** What a load run measured, and the CPU it cost per request. */
export interface MeasuredLoad extends LoadResult {
  /** CPU per request: the gateway (or the bare server), the nodes, the rest. */
  cpu: CpuPerRequest;
}

/** One measured run of a scenario. */
export interface ScenarioResult extends MeasuredLoad {
  name: string;
  connections: number;
  /**
   * The bare Deno.serve's req/s this run is compared with: the mean of its
   * runs just before and just after this one, at the same connections.
   */
  baselineRps: number;
  /** req/s over `baselineRps`. */
  ratio: number;
  /** Node cache hits over node gets during the run, summed over nodes. */
  nodeHitRatio: number | null;
  /** Gateway hot-cache hits over its lookups; null when the gateway has none. */
  hotHitRatio: number | null;
  /** Loads from the origin per second during the run, summed over nodes (what the cache spares). */
  originLoadsPerSecond: number | null;
}

/** Memory of one process after the runs (VmRSS and VmHWM). */
export interface RssRow {
  process: string;
  pid: number;
  rssMiB: number;
  peakMiB: number;
}

/** The name of the baseline's rows. */
export const BARE_NAME = "bare Deno.serve, 100 B";

/** A run of the bare server as a row among the scenarios' (ratio 1). */
export function bareRow(baseline: MeasuredLoad, connections: number): ScenarioResult {
  const row = {
    name: BARE_NAME,
    connections,
    nodeHitRatio: null,
    hotHitRatio: null,
    originLoadsPerSecond: null,
  };
  return { ...row, ...baseline, baselineRps: baseline.rps, ratio: 1 };
}

/** Everything one benchmark run found; printed as JSON too. */
export interface Report {
  settings: LoadSettings & { load: "wrk" | "deno"; warmupMs: number; nodeCacheBytes: number };
  /** The bare server's runs, before the first scenario and after each one. */
  baselines: MeasuredLoad[];
  scenarios: ScenarioResult[];
  sweep: ScenarioResult[];
  rss: RssRow[];
  memory: MemoryResult;
}

/** Prints the tables, then the JSON (to `jsonPath`, or as one `JSON:` line). */
export async function printReport(report: Report, jsonPath: string | undefined): Promise<void> {
  const { load, connections, threads, durationMs } = report.settings;
  const wrkFlags = load === "wrk" ? ` -t${threads}` : "";
  console.log(`\nLoad: ${load}${wrkFlags} -c${connections} -d${durationMs / 1000}s per run`);
  console.log(`(cpu µs: CPU microseconds per request of the server, the nodes and the rest)`);
  console.log(`(× bare: against the mean of the bare server's runs just before and after)\n`);
  const bare = report.baselines.map((b) => bareRow(b, connections));
  const rows = bare.flatMap((b, i) => i < report.scenarios.length ? [b, report.scenarios[i]] : [b]);
  console.log(table(rows.map(scenarioRow)));
  if (report.sweep.length > 0) printSweep(report.sweep);
  console.log(`\n${table(report.rss.map(rssRow))}`);
  printMemory(report.memory);
  const json = JSON.stringify(report);
  if (jsonPath === undefined) console.log(`\nJSON: ${json}`);
  else {
    await Deno.writeTextFile(jsonPath, `${json}\n`);
    console.log(`\nJSON report written to ${jsonPath}`);
  }
}

function scenarioRow(r: ScenarioResult) {
  return {
    scenario: r.name,
    conns: String(r.connections),
    "req/s": r.rps.toFixed(0),
    "× bare": r.ratio.toFixed(3),
    "p50 ms": r.p50Ms.toFixed(2),
    "p99 ms": r.p99Ms.toFixed(2),
    errors: String(r.statusErrors + r.socketErrors),
    "node hits": percent(r.nodeHitRatio),
    "gw hot hits": percent(r.hotHitRatio),
    "origin loads/s": r.originLoadsPerSecond === null ? "" : r.originLoadsPerSecond.toFixed(0),
    // Microseconds of CPU per request: the answering process, the nodes
    // behind it, everything else busy (mostly the load generator).
    "cpu µs: server": micros(r.cpu.serverUs),
    nodes: micros(r.cpu.nodesUs),
    rest: micros(r.cpu.restUs),
    idle: percent(r.cpu.idle),
  };
}

function printSweep(sweep: ScenarioResult[]): void {
  console.log(
    `\nSweep of scenario b over connection counts, each against the bare server's runs ` +
      `around it at that count:\n` +
      table(sweep.map(scenarioRow)),
  );
  const peak = sweep.filter((r) => r.name !== BARE_NAME)
    .reduce((best, r) => r.rps > best.rps ? r : best);
  console.log(
    `Peak: ${peak.rps.toFixed(0)} req/s (${peak.ratio.toFixed(3)} × bare) at ` +
      `${peak.connections} connections, p99 ${peak.p99Ms.toFixed(2)} ms`,
  );
}

function rssRow(r: RssRow) {
  return {
    process: r.process,
    pid: String(r.pid),
    "RSS MiB": r.rssMiB.toFixed(1),
    "peak MiB": r.peakMiB.toFixed(1),
  };
}

function printMemory(m: MemoryResult): void {
  if (m.skipped !== undefined) {
    console.log(`\nMemory run skipped: ${m.skipped}`);
    return;
  }
  const mib = (n = NaN) => `${n.toFixed(1)} MiB`;
  console.log(
    [
      `\nMemory run: ${m.keys} distinct 1 KiB values (${mib(m.loadedMiB)}) through one node ` +
      `with --cache-bytes 64MiB, ${m.load!.rps.toFixed(0)} req/s, ` +
      `${m.load!.statusErrors + m.load!.socketErrors} errors`,
      `  bound 2 × 64 MiB + idle RSS ${mib(m.idleRssMiB)} = ${mib(m.boundMiB)}`,
      `  RSS after the run ${mib(m.rssMiB)}: ${verdict(m.passAfter)}`,
      `  peak RSS (VmHWM)  ${mib(m.peakRssMiB)}: ${verdict(m.passPeak)}`,
      `  node cache bytes: main ${mib(m.mainCacheMiB)}, hot ${mib(m.hotCacheMiB)}`,
      `  node V8 heap used ${mib(m.heapUsedMiB)} of ${mib(m.heapTotalMiB)}, ` +
      `external (ArrayBuffers) ${mib(m.externalMiB)}`,
    ].join("\n"),
  );
}

function verdict(pass: boolean | undefined): string {
  return pass ? "PASS" : "FAIL";
}

function micros(us: number): string {
  return Number.isFinite(us) ? us.toFixed(1) : "-";
}

function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? "-" : `${(ratio * 100).toFixed(1)}%`;
}

// Left-aligns the first column and right-aligns the others (numbers).
function table(rows: Record<string, string>[]): string {
  const columns = Object.keys(rows[0]);
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => i === 0 ? cell.padEnd(width[i]) : cell.padStart(width[i])).join("  ");
  const rule = width.map((w) => "-".repeat(w)).join("  ");
  return [line(columns), rule, ...rows.map((r) => line(columns.map((c) => r[c])))].join("\n");
}
