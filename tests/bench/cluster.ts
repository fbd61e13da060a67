// The cluster benchmark: etcd, 3 cache nodes and 2 gateways (hot cache off
// and on) as separate processes on loopback, driven over HTTP by wrk (or a
// built-in fetch load generator), each scenario printed as a ratio to a bare
// Deno.serve measured in the same run; then the RSS of every process and a
// 1 GiB memory run against one node. Run: deno task bench:cluster --help
import { ENTRY_OVERHEAD } from "../../mod.ts";
import { parseArgs } from "node:util";
import { parseDuration } from "../../src/parse.ts";
import { startEtcd } from "../../src/_testing/etcd.ts";
import {
  type NodeProcess,
  type Process,
  startGatewayProcess,
  startNodeProcess,
} from "../_cluster.ts";
import {
  denoLoad,
  type LoadGenerator,
  type LoadSettings,
  startWrk,
  wrkInstalled,
} from "./_load.ts";
import { cpuPerRequest, cpuSnapshot } from "./_cpu.ts";
import { memoryRun } from "./_memory.ts";
import {
  bareRow,
  type MeasuredLoad,
  printReport,
  type Report,
  type RssRow,
  type ScenarioResult,
} from "./_report.ts";
import {
  childPids,
  Cleanup,
  type Counters,
  memoryOf,
  readCounters,
  retryOnPortClash as retry,
  startAll,
  startServerScript,
  waitForMembers,
} from "./_stack.ts";
import {
  meanEntryBytes,
  mixed,
  oneKey,
  uniform,
  VALUE_BYTES,
  type Workload,
  zipf,
} from "./_workloads.ts";

const USAGE = `Usage: deno task bench:cluster [options]

Starts etcd, 3 nodes and 2 gateways on 127.0.0.1 and measures req/s, p50, p99,
errors and cache hit ratio per scenario, as a ratio to a bare Deno.serve
measured in the same run; then RSS per process and the 1 GiB memory run.

Options:
  --load auto|wrk|deno   load generator; auto = wrk when installed   [auto]
  --duration time        length of each measured run                 [10s]
  --connections n        concurrent connections                      [64]
  --threads n            wrk threads (the Deno generator uses one)   [2]
  --warmup time          unmeasured load before each run             [2s]
  --sweep                also run scenario b at 16, 64, 128 and 256
                         connections and report the peak and its p99
  --memory               always do the memory run (default: only when
                         its first seconds predict it ends within ~90 s)
  --no-memory            skip the memory run
  --json path            write the JSON report there instead of
                         printing it as one "JSON: ..." line
  -h, --help             show this help`;

const FLAGS = {
  load: { type: "string", default: "auto" },
  duration: { type: "string", default: "10s" },
  connections: { type: "string", default: "64" },
  threads: { type: "string", default: "2" },
  warmup: { type: "string", default: "2s" },
  sweep: { type: "boolean", default: false },
  memory: { type: "boolean" },
  json: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const BASE = "/mccache/bench/";
const NODES = 3;
const ZIPF_KEYS = 100_000;
const ZIPF_CACHED_SHARE = 0.2;
const SWEEP_CONNECTIONS = [16, 64, 128, 256];
const WARM_CONCURRENCY = 32;

interface Options {
  load: "auto" | "wrk" | "deno";
  settings: LoadSettings;
  warmupMs: number;
  sweep: boolean;
  memory: "auto" | "always" | "never";
  json: string | undefined;
}

interface Scenario {
  name: string;
  workload: Workload;
  hotGateway?: boolean;
  /** The scenario --sweep runs again at each of SWEEP_CONNECTIONS. */
  sweep?: boolean;
}

type Gateway = Process & { addr: string };
type Server = Process & { url: string };

interface Cluster {
  stack: AsyncDisposableStack;
  nodes: NodeProcess[];
  gateway: Gateway;
  hotGateway: Gateway;
}

/** What every run needs: the generator and its settings. */
interface Bench {
  generate: LoadGenerator;
  settings: LoadSettings;
  warmupMs: number;
  signal: AbortSignal;
}

function parseOptions(args: string[]): Options | undefined {
  const flags = parseArgs({ args, options: FLAGS, strict: true, allowNegative: true }).values;
  if (flags.help) return undefined;
  if (!["auto", "wrk", "deno"].includes(flags.load)) {
    throw new TypeError(`Invalid --load "${flags.load}": expected auto, wrk or deno`);
  }
  const count = (name: "connections" | "threads") => {
    const n = Number(flags[name]);
    if (!Number.isInteger(n) || n < 1) {
      throw new TypeError(`Invalid --${name} "${flags[name]}": expected an integer >= 1`);
    }
    return n;
  };
  const durationMs = parseDuration(flags.duration, "--duration");
  if (durationMs < 1000) throw new TypeError(`Invalid --duration "${flags.duration}": under 1s`);
  return {
    load: flags.load as Options["load"],
    settings: { connections: count("connections"), threads: count("threads"), durationMs },
    warmupMs: parseDuration(flags.warmup, "--warmup"),
    sweep: flags.sweep,
    memory: flags.memory === undefined ? "auto" : flags.memory ? "always" : "never",
    json: flags.json,
  };
}

function scenarios(): Scenario[] {
  const hot = oneKey(`${BASE}hot`);
  return [
    { name: "a. 1 hot key", workload: hot },
    { name: "a. 1 hot key, gateway --hot-ttl 1s", workload: hot, hotGateway: true },
    { name: "b. 1,000 keys uniform", workload: uniform(BASE, "u", 1000), sweep: true },
    {
      name: "c. 100,000 keys Zipf(1.0), ~20% fit",
      workload: zipf(BASE, "z", ZIPF_KEYS, 1.0, ZIPF_CACHED_SHARE),
    },
    { name: "d. 1,000 keys, 10% PUT/DELETE", workload: mixed(BASE, "d", 1000, 0.1) },
  ];
}

// Each node's --cache-bytes, sized so that the cluster holds ~20% of
// scenario c's keys: an entry costs its key's bytes + the value's + the
// group's per-entry overhead, main and hot caches share the budget, and the
// keys are spread over the nodes.
function nodeCacheBytes(): number {
  const entry = meanEntryBytes("z", ZIPF_KEYS, VALUE_BYTES) + ENTRY_OVERHEAD;
  return Math.ceil(ZIPF_CACHED_SHARE * ZIPF_KEYS * entry / NODES);
}

async function chooseGenerator(load: Options["load"]): Promise<"wrk" | "deno"> {
  if (load === "deno") return "deno";
  const installed = await wrkInstalled();
  if (load === "wrk" && !installed) {
    throw new Error("--load wrk: no wrk on PATH (apt-get install -y wrk)");
  }
  return installed ? "wrk" : "deno";
}

async function startCluster(cleanup: Cleanup, origin: string): Promise<Cluster> {
  const stack = cleanup.stack.use(new AsyncDisposableStack());
  const etcd = stack.use(await startEtcd());
  const nodeArgs = [
    ["--etcd", etcd.endpoint, "--log-level", "info"],
    ["--origin", `bench=${origin}/${VALUE_BYTES}/{key}`, "--cache-bytes", `${nodeCacheBytes()}`],
  ].flat();
  const starts = Array.from({ length: NODES }, () => retry(() => startNodeProcess(nodeArgs)));
  const nodes = await startAll(stack, starts);
  const gatewayArgs = ["--etcd", etcd.endpoint, "--log-level", "info"];
  const [gateway, hotGateway] = await startAll(stack, [
    retry(() => startGatewayProcess(gatewayArgs)),
    retry(() => startGatewayProcess([...gatewayArgs, "--hot-ttl", "1s"])),
  ]);
  nodes.forEach((node, i) => cleanup.watch(`node ${i + 1} (${node.addr})`, node, stack));
  cleanup.watch("gateway", gateway, stack);
  cleanup.watch("gateway --hot-ttl 1s", hotGateway, stack);
  await waitForMembers(nodes.map((n) => n.httpAddr), "mccache_ring_members", NODES);
  await waitForMembers([gateway.addr, hotGateway.addr], "mccache_gateway_ring_members", NODES);
  return { stack, nodes, gateway, hotGateway };
}

// GETs each of `paths` once, so that measured runs start from a warm cache.
async function warmKeys(base: string, paths: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      const response = await fetch(base + path);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`Warming GET ${path} answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: WARM_CONCURRENCY }, worker));
}

// Warm keys, then unmeasured load: lets V8 optimise the hot paths and the
// caches settle before the counters are read.
async function warmUp(bench: Bench, base: string, workload: Workload) {
  await warmKeys(base, workload.warm);
  if (bench.warmupMs <= 0) return;
  const settings = { ...bench.settings, durationMs: Math.max(1000, bench.warmupMs) };
  await bench.generate(base, workload, settings, bench.signal).result;
}

// Runs `workload` against `base` and says where the machine's CPU went:
// `server` is the process that answers, `nodes` the ones behind it.
async function measure(
  bench: Bench,
  base: string,
  workload: Workload,
  server: number,
  nodes: number[] = [],
): Promise<MeasuredLoad> {
  const pids = [server, ...nodes];
  const before = cpuSnapshot(pids);
  const result = await bench.generate(base, workload, bench.settings, bench.signal).result;
  const cpu = cpuPerRequest(before, cpuSnapshot(pids), result.requests, server, nodes);
  return { ...result, cpu };
}

async function measureBaseline(bench: Bench, bare: Server): Promise<MeasuredLoad> {
  const workload = oneKey("/");
  await warmUp(bench, bare.url, workload);
  const result = await measure(bench, bare.url, workload, bare.pid);
  console.error(`bare Deno.serve: ${Math.round(result.rps)} req/s`);
  return result;
}

// Runs a scenario between two runs of the bare server and divides by their
// mean: on a shared VM the machine's speed drifts over a whole benchmark,
// and a baseline measured minutes earlier would count the drift as ours.
async function runBetweenBaselines(
  bench: Bench,
  cluster: Cluster,
  bare: Server,
  scenario: Scenario,
  before: MeasuredLoad,
  connections = bench.settings.connections,
): Promise<{ result: ScenarioResult; after: MeasuredLoad }> {
  const measured = await runScenario(bench, cluster, scenario, connections);
  const settings = { ...bench.settings, connections };
  const after = await measureBaseline({ ...bench, settings }, bare);
  const baselineRps = (before.rps + after.rps) / 2;
  return { result: { ...measured, baselineRps, ratio: measured.rps / baselineRps }, after };
}

async function runScenario(
  bench: Bench,
  cluster: Cluster,
  scenario: Scenario,
  connections: number,
): Promise<Omit<ScenarioResult, "ratio" | "baselineRps">> {
  const gateway = scenario.hotGateway ? cluster.hotGateway : cluster.gateway;
  const base = `http://${gateway.addr}`;
  const settings = { ...bench.settings, connections };
  await warmUp({ ...bench, settings }, base, scenario.workload);
  const counters = () => readCounters(cluster.nodes.map((n) => n.httpAddr), gateway.addr);
  const before = await counters();
  const nodes = cluster.nodes.map((n) => n.pid);
  const result = await measure({ ...bench, settings }, base, scenario.workload, gateway.pid, nodes);
  const after = await counters();
  console.error(`${scenario.name} (-c${connections}): ${Math.round(result.rps)} req/s`);
  return {
    name: scenario.name,
    connections,
    ...result,
    ...hitRatios(before, after, scenario.hotGateway ?? false),
    originLoadsPerSecond: (after.loads - before.loads) / result.seconds,
  };
}

function hitRatios(before: Counters, after: Counters, hotGateway: boolean) {
  const ratio = (hits: number, gets: number) => gets > 0 ? hits / gets : null;
  return {
    nodeHitRatio: ratio(after.hits - before.hits, after.gets - before.gets),
    hotHitRatio: hotGateway
      ? ratio(after.hotHits - before.hotHits, after.hotGets - before.hotGets)
      : null,
  };
}

function rssRows(cluster: Cluster, servers: Record<string, Process>): RssRow[] {
  const processes: [string, number][] = [
    ...childPids("etcd").map((pid): [string, number] => ["etcd", pid]),
    ...cluster.nodes.map((n, i): [string, number] => [`node ${i + 1} (${n.addr})`, n.pid]),
    ["gateway", cluster.gateway.pid],
    ["gateway --hot-ttl 1s", cluster.hotGateway.pid],
    ...Object.entries(servers).map(([name, p]): [string, number] => [name, p.pid]),
    ["bench (this process)", Deno.pid],
  ];
  return processes.map(([process, pid]) => ({ process, pid, ...memoryOf(pid) }));
}

async function bench(options: Options, cleanup: Cleanup): Promise<Report> {
  const load = await chooseGenerator(options.load);
  const generator = load === "wrk" ? () => startWrk : denoLoad;
  const origin = await startServerScript(cleanup.stack, "tests/bench/origin.ts");
  const bare = await startServerScript(cleanup.stack, "tests/bench/bare_server.ts");
  cleanup.watch("origin", origin, cleanup.stack);
  const bench = { ...options, generate: generator(Infinity), signal: cleanup.signal };
  const cluster = await startCluster(cleanup, origin.url);
  const { baselines, results, sweep } = await runScenarios(bench, cluster, bare, options.sweep);
  const rss = rssRows(cluster, { origin, "bare Deno.serve": bare });
  // The memory run gets the machine to itself.
  await cluster.stack.disposeAsync();
  const memory = options.memory === "never" ? { skipped: "--no-memory" } : await memoryRun({
    cleanup,
    generator,
    settings: options.settings,
    origin: origin.url,
    mode: options.memory,
  });
  const { warmupMs } = options;
  const settings = { ...options.settings, load, warmupMs, nodeCacheBytes: nodeCacheBytes() };
  return { settings, baselines, scenarios: results, sweep, rss, memory };
}

async function runScenarios(bench: Bench, cluster: Cluster, bare: Server, withSweep: boolean) {
  const all = scenarios();
  const baselines = [await measureBaseline(bench, bare)];
  const results: ScenarioResult[] = [];
  for (const scenario of all) {
    const before = baselines[baselines.length - 1];
    const { result, after } = await runBetweenBaselines(bench, cluster, bare, scenario, before);
    results.push(result);
    baselines.push(after);
  }
  const sweep: ScenarioResult[] = [];
  for (const c of withSweep ? SWEEP_CONNECTIONS : []) {
    // Each connection count against the bare server at that same count.
    const settings = { ...bench.settings, connections: c };
    let before = await measureBaseline({ ...bench, settings }, bare);
    sweep.push(bareRow(before, c));
    for (const scenario of all.filter((s) => s.sweep)) {
      const run = await runBetweenBaselines(bench, cluster, bare, scenario, before, c);
      sweep.push(run.result, bareRow(run.after, c));
      before = run.after;
    }
  }
  return { baselines, results, sweep };
}

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

// Stops every process however the run ends: done, failed, or interrupted
// (then exit 130, after the children are gone).
async function main(): Promise<void> {
  let options: Options | undefined;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`bench:cluster: ${(error as Error).message} (see --help)`);
    Deno.exit(2);
  }
  if (options === undefined) {
    console.log(USAGE);
    return;
  }
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    console.error("Interrupted: stopping every process");
    cleanup.run().finally(() => Deno.exit(130));
  };
  for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);
  try {
    await printReport(await bench(options, cleanup), options.json);
  } catch (error) {
    if (interrupted) return;
    const deaths = cleanup.deaths();
    if (deaths) console.error(`Processes that died during the run:\n${deaths}\n`);
    throw error;
  } finally {
    await cleanup.run();
    for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
}

if (import.meta.main) await main();
