// The processes of the cluster benchmark and what it reads from them:
// starting and always stopping them, /metrics counters, and memory from /proc.
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { Process, waitFor } from "../_cluster.ts";

/**
 * Everything the benchmark started, stopped once in reverse order whatever
 * ends the run (the last result, an error, Ctrl-C). `signal` aborts the load
 * generators first, so that no wrk outlives the run.
 */
export class Cleanup {
  readonly stack: AsyncDisposableStack = new AsyncDisposableStack();
  #abort = new AbortController();
  #done?: Promise<void>;
  #died: string[] = [];

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Notes `process` exiting before `owner` (the stack that stops it) is
   * disposed: when a run then fails (a refused connection), `deaths()` says
   * which process died and its last words.
   */
  watch(name: string, process: Process, owner: AsyncDisposableStack): void {
    process.status.then((status) => {
      if (owner.disposed) return;
      this.#died.push(`${name} exited with code ${status.code}:\n${process.tail(30)}`);
    });
  }

  /** What {@linkcode Cleanup.watch} saw die, one paragraph each. */
  deaths(): string {
    return this.#died.join("\n\n");
  }

  run(): Promise<void> {
    this.#abort.abort();
    return this.#done ??= this.stack.disposeAsync();
  }
}

/**
 * Awaits every start in parallel and registers each process that started on
 * `stack` (stopped in parallel), then throws the first failure, if any.
 */
export async function startAll<T extends AsyncDisposable>(
  stack: AsyncDisposableStack,
  starts: Promise<T>[],
): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const started = settled.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  stack.defer(async () => {
    await Promise.all(started.map((p) => p[Symbol.asyncDispose]()));
  });
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return started;
}

/**
 * Calls `start` again, up to 3 times in all, while it fails because a port
 * picked by `freePort()` was taken before the process bound it (other test
 * runs share the machine).
 */
export async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt === 3 || !/address already in use/.test(String(error))) throw error;
    }
  }
}

/** Starts a tests/bench server script on a free port; resolves with its base URL. */
export async function startServerScript(
  stack: AsyncDisposableStack,
  script: string,
): Promise<Process & { url: string }> {
  const process = stack.use(new Process(script, ["0"]));
  await process.waitForLine(/listening on/);
  const addr = /listening on (\S+)/.exec(process.stdout)![1];
  return Object.assign(process, { url: `http://${addr}` });
}

type Families = { name: string; metrics: { value: string; labels?: Record<string, string> }[] }[];

/** A node's or a gateway's /metrics, parsed. */
export async function scrape(addr: string): Promise<Families> {
  const response = await fetch(`http://${addr}/metrics`);
  if (!response.ok) throw new Error(`GET http://${addr}/metrics answered ${response.status}`);
  return parsePrometheusTextFormat(await response.text()) as Families;
}

/** The sum of metric `name` over every series whose labels include `labels`. */
export function sum(families: Families, name: string, labels: Record<string, string> = {}): number {
  const metrics = families.find((f) => f.name === name)?.metrics ?? [];
  return metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((total, m) => total + Number(m.value), 0);
}

/** Waits until every address reports `members` in `name` (a ring-size gauge). */
export async function waitForMembers(
  addrs: string[],
  name: string,
  members: number,
): Promise<void> {
  for (const addr of addrs) {
    await waitFor(
      async () => sum(await scrape(addr), name) === members,
      `${addr} to see ${members} ring members`,
    );
  }
}

/** Cache counters summed over nodes, and one gateway's hot cache. */
export interface Counters {
  gets: number;
  hits: number;
  /** Getter calls, i.e. loads from the origin, summed over the nodes. */
  loads: number;
  hotGets: number;
  hotHits: number;
}

/** Reads {@linkcode Counters} from the nodes' and the gateway's /metrics. */
export async function readCounters(nodeHttpAddrs: string[], gateway: string): Promise<Counters> {
  const nodes = await Promise.all(nodeHttpAddrs.map(scrape));
  const hot = await scrape(gateway);
  return {
    gets: nodes.reduce((n, f) => n + sum(f, "mccache_gets_total"), 0),
    hits: nodes.reduce((n, f) => n + sum(f, "mccache_cache_hits_total"), 0),
    loads: nodes.reduce(
      (n, f) => n + sum(f, "mccache_local_loads_total") + sum(f, "mccache_local_load_errors_total"),
      0,
    ),
    // Counters since issue 20; a --base checkout before it has the gauges.
    hotGets: sum(hot, "mccache_gateway_hot_cache_gets_total") ||
      sum(hot, "mccache_gateway_hot_cache_gets"),
    hotHits: sum(hot, "mccache_gateway_hot_cache_hits_total") ||
      sum(hot, "mccache_gateway_hot_cache_hits"),
  };
}

/** A process's resident memory now and at its peak, in MiB (VmRSS, VmHWM). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** Pids of this process's children running `command` (etcd hides its pid behind startEtcd). */
export function childPids(command: string): number[] {
  const pids: number[] = [];
  for (const task of Deno.readDirSync("/proc/self/task")) {
    const children = Deno.readTextFileSync(`/proc/self/task/${task.name}/children`);
    for (const pid of children.split(" ").filter(Boolean).map(Number)) {
      try {
        if (Deno.readTextFileSync(`/proc/${pid}/comm`).trim() === command) pids.push(pid);
      } catch {
        // It exited since the listing.
      }
    }
  }
  return pids;
}
