// Where the CPU of a benchmark run goes: each process's user + system time
// (/proc/<pid>/stat) and the machine's idle share (/proc/stat), read before
// and after a run, so that the report can say how many microseconds of the
// gateway, of the nodes and of everything else (the load generator mostly)
// one request costs. On a 2-core machine that shares everything between wrk,
// the gateway and 3 nodes, that split is what decides a ratio to bare.

/** /proc counts CPU time in USER_HZ ticks: 100 a second on x86 and arm (Deno cannot ask sysconf). */
const TICKS_PER_SECOND = 100;

/** CPU time of some processes and of the whole machine, at one moment. */
export interface CpuSnapshot {
  /** User + system milliseconds of each process, by pid (absent once it exited). */
  processMs: Map<number, number>;
  /** Milliseconds all cores spent busy and idle since boot. */
  busyMs: number;
  idleMs: number;
}

/** CPU microseconds per request of one run, split by who spent them. */
export interface CpuPerRequest {
  /** The server under test: the gateway, or the bare Deno.serve. */
  serverUs: number;
  /** The cache nodes, summed (0 for the bare server). */
  nodesUs: number;
  /** Every other busy cycle of the machine: the load generator, etcd, this process. */
  restUs: number;
  /** Share of the machine's cores left idle during the run. */
  idle: number;
}

/** Parses user + system ticks (fields 14 and 15) out of a `/proc/<pid>/stat` line. */
export function parseProcessTicks(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: count from its end.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [utime, stime] = [fields[11], fields[12]].map(Number);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new SyntaxError(`Cannot parse /proc/<pid>/stat: "${stat.slice(0, 80)}"`);
  }
  return utime + stime;
}

/** Parses busy and idle ticks of all cores out of `/proc/stat`. */
export function parseMachineTicks(stat: string): { busy: number; idle: number } {
  const line = stat.split("\n").find((l) => l.startsWith("cpu "));
  const ticks = line?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  if (ticks.length < 8 || ticks.some((n) => !Number.isInteger(n))) {
    throw new SyntaxError("Cannot parse the cpu line of /proc/stat");
  }
  // user nice system idle iowait irq softirq steal
  const idle = ticks[3] + ticks[4];
  return { busy: ticks.reduce((a, b) => a + b, 0) - idle, idle };
}

/** Reads the CPU time of `pids` and of the machine now. */
export function cpuSnapshot(pids: number[]): CpuSnapshot {
  const ms = (ticks: number) => ticks * 1000 / TICKS_PER_SECOND;
  const processMs = new Map<number, number>();
  for (const pid of pids) {
    try {
      processMs.set(pid, ms(parseProcessTicks(Deno.readTextFileSync(`/proc/${pid}/stat`))));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  const machine = parseMachineTicks(Deno.readTextFileSync("/proc/stat"));
  return { processMs, busyMs: ms(machine.busy), idleMs: ms(machine.idle) };
}

/**
 * Splits the CPU spent between two snapshots over `requests`: `server` is
 * the process under test, `nodes` the cache nodes behind it.
 */
export function cpuPerRequest(
  before: CpuSnapshot,
  after: CpuSnapshot,
  requests: number,
  server: number,
  nodes: number[] = [],
): CpuPerRequest {
  const spent = (pid: number) =>
    (after.processMs.get(pid) ?? NaN) - (before.processMs.get(pid) ?? NaN);
  const serverMs = spent(server);
  const nodesMs = nodes.reduce((sum, pid) => sum + spent(pid), 0);
  const busyMs = after.busyMs - before.busyMs;
  const idleMs = after.idleMs - before.idleMs;
  const us = (ms: number) => requests > 0 ? ms * 1000 / requests : NaN;
  return {
    serverUs: us(serverMs),
    nodesUs: us(nodesMs),
    restUs: us(Math.max(0, busyMs - serverMs - nodesMs)),
    idle: idleMs / (busyMs + idleMs),
  };
}
