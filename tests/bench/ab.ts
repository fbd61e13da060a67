// Scenario b of the cluster benchmark (1,000 keys uniform, via the gateway),
// side by side for two versions of mccache in one sitting: a checkout of
// `--base` (a git worktree made for the run) and this working tree each run
// 3 nodes and a gateway, on one etcd (under two prefixes) and one origin,
// and wrk alternates between the two gateways, round after round, so that
// the machine's drift falls on both alike. Prints each round, the medians,
// and after / before. Run: deno task bench:ab --base <rev> [options]
import { parseArgs } from "node:util";
import { parseDuration } from "../../src/parse.ts";
import { startEtcd } from "../../src/_testing/etcd.ts";
import { GATEWAY_V8_FLAGS, NODE_V8_FLAGS, Process } from "../_cluster.ts";
import { makeCerts } from "../../src/_testing/certs.ts";
import { freePort } from "../../src/_testing/ports.ts";
import {
  denoLoad,
  type LoadGenerator,
  type LoadSettings,
  startWrk,
  wrkInstalled,
} from "./_load.ts";
import { cpuPerRequest, cpuSnapshot } from "./_cpu.ts";
import { Cleanup, startAll, startServerScript, waitForMembers } from "./_stack.ts";
import { uniform, VALUE_BYTES, type Workload } from "./_workloads.ts";

const USAGE = `Usage: deno task bench:ab --base <git rev> [options]

Runs scenario b (1,000 keys uniform, through the gateway) for the checkout of
--base ("before") and this working tree ("after"), side by side, alternating
wrk runs between the two clusters; prints each round and the medians.

Options:
  --base rev             the version to compare with (required)
  --rounds n             runs of each side                             [8]
  --duration time        length of each run                            [4s]
  --connections n        concurrent connections                        [64]
  --threads n            wrk threads                                   [2]
  --load auto|wrk|deno   load generator; auto = wrk when installed     [auto]
  --after-no-direct      the "after" side's nodes serve GetStream through
                         grpc-js (GRPC_MCCACHE_DIRECT_STREAM=off): with
                         --base HEAD, what the direct path saves
  --after-tls            the "after" side runs with mutual TLS (certificates
                         made for the run): with --base HEAD, what TLS costs
  -h, --help             show this help`;

const BASE = "/mccache/bench/";
const NODES = 3;

interface Side {
  name: "before" | "after";
  gateway: Process & { addr: string };
  nodes: (Process & { httpAddr: string })[];
}

interface Round {
  side: Side["name"];
  rps: number;
  p99Ms: number;
  gatewayUs: number;
  nodesUs: number;
}

function options(args: string[]) {
  const flags = parseArgs({
    args,
    strict: true,
    options: {
      base: { type: "string" },
      rounds: { type: "string", default: "8" },
      duration: { type: "string", default: "4s" },
      connections: { type: "string", default: "64" },
      threads: { type: "string", default: "2" },
      load: { type: "string", default: "auto" },
      "after-tls": { type: "boolean", default: false },
      "after-no-direct": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  }).values;
  if (flags.help) return undefined;
  if (flags.base === undefined) throw new TypeError("--base is required");
  if (!["auto", "wrk", "deno"].includes(flags.load)) {
    throw new TypeError(`Invalid --load "${flags.load}": expected auto, wrk or deno`);
  }
  const count = (name: "rounds" | "connections" | "threads") => {
    const n = Number(flags[name]);
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`Invalid --${name} "${flags[name]}"`);
    return n;
  };
  const settings: LoadSettings = {
    connections: count("connections"),
    threads: count("threads"),
    durationMs: parseDuration(flags.duration, "--duration"),
  };
  const load = flags.load as "auto" | "wrk" | "deno";
  return {
    base: flags.base,
    rounds: count("rounds"),
    settings,
    afterTls: flags["after-tls"],
    afterNoDirect: flags["after-no-direct"],
    load,
  };
}

async function git(...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("git", { args }).output();
  const text = new TextDecoder().decode(success ? stdout : stderr).trim();
  if (!success) throw new Error(`git ${args.join(" ")}: ${text}`);
  return text;
}

// A worktree of `rev` with its dependencies installed, removed afterwards.
async function checkout(cleanup: Cleanup, rev: string): Promise<string> {
  const commit = await git("rev-parse", "--verify", `${rev}^{commit}`);
  const dir = await Deno.makeTempDir({ prefix: `mccache-ab-${commit.slice(0, 8)}-` });
  await git("worktree", "add", "--detach", dir, commit);
  cleanup.stack.defer(async () => {
    await git("worktree", "remove", "--force", dir);
  });
  const install = await new Deno.Command("deno", { args: ["install", "--frozen"], cwd: dir })
    .output();
  if (!install.success) throw new Error(`deno install in ${dir} failed`);
  return dir;
}

async function startProcess<T extends Record<string, string>>(
  script: string,
  args: string[],
  flags: string[],
  root: string,
  extra: T,
  env: Record<string, string> = {},
): Promise<Process & T> {
  const process = Object.assign(new Process(script, args, flags, { root, env }), extra);
  try {
    await process.waitForLine(/(node|gateway) started/);
  } catch (error) {
    await process.signal("SIGKILL");
    throw error;
  }
  return process;
}

async function startSide(
  cleanup: Cleanup,
  name: Side["name"],
  root: string,
  etcd: string,
  origin: string,
  tlsArgs: string[],
  env: Record<string, string> = {},
): Promise<Side> {
  const cluster = ["--etcd", etcd, "--etcd-prefix", `ab-${name}`, "--log-level", "info"];
  // The certificates are made under /tmp.
  const reads = tlsArgs.length > 0 ? ["--allow-read=/tmp"] : [];
  const nodeArgs = [...cluster, ...tlsArgs, "--origin", `bench=${origin}/${VALUE_BYTES}/{key}`];
  const nodes = await startAll(
    cleanup.stack,
    Array.from({ length: NODES }, () => {
      const addr = `127.0.0.1:${freePort()}`;
      const httpAddr = `127.0.0.1:${freePort()}`;
      const args = ["--addr", addr, "--http-addr", httpAddr, ...nodeArgs];
      return startProcess(
        "cli/node.ts",
        args,
        [...NODE_V8_FLAGS, ...reads],
        root,
        { httpAddr },
        env,
      );
    }),
  );
  const addr = `127.0.0.1:${freePort()}`;
  const gatewayFlags = ["--addr", addr, ...cluster, ...tlsArgs];
  const [gateway] = await startAll(cleanup.stack, [
    startProcess("cli/gateway.ts", gatewayFlags, [...GATEWAY_V8_FLAGS, ...reads], root, { addr }),
  ]);
  nodes.forEach((node, i) => cleanup.watch(`${name} node ${i + 1}`, node, cleanup.stack));
  cleanup.watch(`${name} gateway`, gateway, cleanup.stack);
  await waitForMembers(nodes.map((n) => n.httpAddr), "mccache_ring_members", NODES);
  await waitForMembers([gateway.addr], "mccache_gateway_ring_members", NODES);
  return { name, gateway, nodes };
}

async function tlsArgs(cleanup: Cleanup, tls: boolean): Promise<string[]> {
  if (!tls) return [];
  const certs = cleanup.stack.use(await makeCerts());
  return ["--tls-cert", certs.node.cert, "--tls-key", certs.node.key, "--tls-ca", certs.ca];
}

async function warm(side: Side, workload: Workload): Promise<void> {
  for (const path of workload.warm) {
    const response = await fetch(`http://${side.gateway.addr}${path}`);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${side.name}: GET ${path} answered ${response.status}`);
  }
}

async function generator(load: "auto" | "wrk" | "deno"): Promise<LoadGenerator> {
  if (load === "deno") return denoLoad();
  if (await wrkInstalled()) return startWrk;
  if (load === "wrk") throw new Error("--load wrk: no wrk on PATH (apt-get install -y wrk)");
  return denoLoad();
}

async function run(
  generate: LoadGenerator,
  side: Side,
  workload: Workload,
  settings: LoadSettings,
  signal: AbortSignal,
): Promise<Round> {
  const nodes = side.nodes.map((n) => n.pid);
  const before = cpuSnapshot([side.gateway.pid, ...nodes]);
  const base = `http://${side.gateway.addr}`;
  const result = await generate(base, workload, settings, signal).result;
  if (result.statusErrors > 0 || result.socketErrors > 0) {
    throw new Error(
      `${side.name}: ${result.statusErrors} HTTP and ${result.socketErrors} socket errors`,
    );
  }
  const cpu = cpuPerRequest(
    before,
    cpuSnapshot([side.gateway.pid, ...nodes]),
    result.requests,
    side.gateway.pid,
    nodes,
  );
  return {
    side: side.name,
    rps: result.rps,
    p99Ms: result.p99Ms,
    gatewayUs: cpu.serverUs,
    nodesUs: cpu.nodesUs,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function report(rounds: Round[]): void {
  const fixed = (n: number, digits = 1) => n.toFixed(digits).padStart(9);
  console.log("round  side      req/s   p99 ms  gw us/req  nodes us/req");
  rounds.forEach((r, i) => {
    const round = String((i >> 1) + 1).padStart(5);
    console.log(
      `${round}  ${r.side.padEnd(6)} ${fixed(r.rps, 0)} ${fixed(r.p99Ms, 2)} ${
        fixed(r.gatewayUs)
      } ${fixed(r.nodesUs)}`,
    );
  });
  const of = (side: Side["name"], field: keyof Omit<Round, "side">) =>
    median(rounds.filter((r) => r.side === side).map((r) => r[field]));
  for (const field of ["rps", "p99Ms", "gatewayUs", "nodesUs"] as const) {
    const before = of("before", field);
    const after = of("after", field);
    console.log(
      `median ${field}: before ${before.toFixed(1)}, after ${after.toFixed(1)}, after/before ${
        (after / before).toFixed(3)
      }`,
    );
  }
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = options(Deno.args);
  } catch (error) {
    console.error(`bench:ab: ${(error as Error).message} (see --help)`);
    Deno.exit(2);
  }
  if (parsed === undefined) return console.log(USAGE);
  const cleanup = new Cleanup();
  Deno.addSignalListener("SIGINT", () => cleanup.run().finally(() => Deno.exit(130)));
  try {
    const baseRoot = await checkout(cleanup, parsed.base);
    const etcd = cleanup.stack.use(await startEtcd());
    const origin = await startServerScript(cleanup.stack, "tests/bench/origin.ts");
    const here = new URL("../..", import.meta.url).pathname;
    const sides = [
      await startSide(cleanup, "before", baseRoot, etcd.endpoint, origin.url, []),
      await startSide(
        cleanup,
        "after",
        here,
        etcd.endpoint,
        origin.url,
        await tlsArgs(cleanup, parsed.afterTls),
        parsed.afterNoDirect ? { GRPC_MCCACHE_DIRECT_STREAM: "off" } : {},
      ),
    ];
    const workload = uniform(BASE, "u", 1000);
    const generate = await generator(parsed.load);
    const { settings } = parsed;
    for (const side of sides) await warm(side, workload);
    // One unmeasured run each lets V8 optimise the hot paths first.
    const warmup = { ...settings, durationMs: Math.min(2000, settings.durationMs) };
    for (const side of sides) await run(generate, side, workload, warmup, cleanup.signal);
    const rounds: Round[] = [];
    for (let i = 0; i < parsed.rounds; i++) {
      // ABBA order: neither side always runs first.
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        rounds.push(await run(generate, side, workload, settings, cleanup.signal));
      }
    }
    report(rounds);
    console.log(`JSON: ${JSON.stringify({ base: parsed.base, settings, rounds })}`);
  } catch (error) {
    const deaths = cleanup.deaths();
    if (deaths) console.error(`Processes that died during the run:\n${deaths}\n`);
    throw error;
  } finally {
    await cleanup.run();
  }
}

if (import.meta.main) await main();
