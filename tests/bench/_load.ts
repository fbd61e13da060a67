// The two load generators of the cluster benchmark, behind one interface:
// wrk (Debian's, driven by the Lua scripts in tests/bench/wrk/) and a
// fetch-based one built in, for machines without wrk.
import type { BenchRequest, Workload } from "./_workloads.ts";

/** How hard and how long to push. */
export interface LoadSettings {
  connections: number;
  /** wrk threads; the Deno generator runs its loops on one thread. */
  threads: number;
  durationMs: number;
}

/** What one run measured. Latencies are of completed requests only. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status of 400 or more (wrk's own rule). */
  statusErrors: number;
  /** Connect, read, write and timeout errors. */
  socketErrors: number;
}

/** A run in progress: `interrupt()` ends it early, and `result` still resolves. */
export interface LoadRun {
  result: Promise<LoadResult>;
  interrupt(): void;
}

/** Starts a run against `base` (e.g. `http://127.0.0.1:9999`); `signal` kills it. */
export type LoadGenerator = (
  base: string,
  workload: Workload,
  settings: LoadSettings,
  signal: AbortSignal,
) => LoadRun;

const WRK_DIR = new URL("./wrk/", import.meta.url).pathname;

/** Whether `wrk` is on PATH. */
export async function wrkInstalled(): Promise<boolean> {
  try {
    // Debian's wrk exits 1 after printing its version; finding it is enough.
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs wrk; its `done()` hook (common.lua) prints the figures as JSON. */
export function startWrk(
  base: string,
  workload: Workload,
  settings: LoadSettings,
  signal: AbortSignal,
): LoadRun {
  const seconds = Math.max(1, Math.round(settings.durationMs / 1000));
  const child = new Deno.Command("wrk", {
    args: [
      ["-t", String(Math.min(settings.threads, settings.connections))],
      ["-c", String(settings.connections)],
      ["-d", `${seconds}s`],
      ["-s", workload.script],
      [base + workload.path, "--", ...workload.args],
    ].flat(),
    cwd: WRK_DIR, // the scripts dofile("common.lua") by relative path
    stdout: "piped",
    stderr: "piped",
    signal, // SIGTERM on abort: Ctrl-C or an error elsewhere
  }).spawn();
  const result = child.output().then(({ stdout, stderr }) => {
    const out = new TextDecoder().decode(stdout);
    const line = out.split("\n").find((l) => l.startsWith("WRK-RESULT "));
    if (!line) {
      throw new Error(`wrk printed no result:\n${out}\n${new TextDecoder().decode(stderr)}`);
    }
    const r = JSON.parse(line.slice("WRK-RESULT ".length));
    const secondsRun = r.durationUs / 1e6;
    return {
      requests: r.requests,
      seconds: secondsRun,
      rps: r.requests / secondsRun,
      p50Ms: r.p50Us / 1000,
      p99Ms: r.p99Us / 1000,
      statusErrors: r.statusErrors,
      socketErrors: r.socketErrors,
    };
  });
  // SIGINT makes wrk stop early and still print its summary.
  return { result, interrupt: () => child.kill("SIGINT") };
}

/**
 * Runs `connections` loops that each await one fetch at a time, as wrk's
 * connections do. A workload whose generator has a natural end (distinct
 * keys) is bounded by `limit` requests in total.
 */
export function denoLoad(limit = Infinity): LoadGenerator {
  return (base, workload, settings, signal) => {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), settings.durationMs);
    const next = workload.requests();
    const recorder = new Recorder();
    let issued = 0;
    const loop = async () => {
      while (!stop.signal.aborted && !signal.aborted && issued < limit) {
        issued++;
        await recorder.time(base, next());
      }
    };
    const started = performance.now();
    const loops = Array.from({ length: settings.connections }, loop);
    const result = Promise.all(loops).then(() => {
      clearTimeout(timer);
      return recorder.result((performance.now() - started) / 1000);
    });
    return { result, interrupt: () => stop.abort() };
  };
}

class Recorder {
  #latencies: number[] = [];
  #statusErrors = 0;
  #socketErrors = 0;

  async time(base: string, request: BenchRequest): Promise<void> {
    const started = performance.now();
    try {
      const { method, body } = request;
      const response = await fetch(base + request.path, { method, body });
      await response.arrayBuffer();
      this.#latencies.push(performance.now() - started);
      if (response.status >= 400) this.#statusErrors++;
    } catch {
      this.#socketErrors++;
    }
  }

  result(seconds: number): LoadResult {
    const sorted = Float64Array.from(this.#latencies).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return {
      requests: sorted.length,
      seconds,
      rps: sorted.length / seconds,
      p50Ms: at(0.5) ?? NaN,
      p99Ms: at(0.99) ?? NaN,
      statusErrors: this.#statusErrors,
      socketErrors: this.#socketErrors,
    };
  }
}
