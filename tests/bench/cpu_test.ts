import assert from "node:assert/strict";
import { cpuPerRequest, type CpuSnapshot, parseMachineTicks, parseProcessTicks } from "./_cpu.ts";

Deno.test("parseProcessTicks adds utime and stime, whatever the command name holds", () => {
  const stat = "4242 (deno (x) y) S 1 4242 4242 0 -1 4194560 9 0 0 0 1234 567 0 0 20 0 12 0";
  assert.equal(parseProcessTicks(stat), 1234 + 567);
  assert.throws(() => parseProcessTicks("4242 (deno) S 1"), SyntaxError);
});

Deno.test("parseMachineTicks counts idle and iowait as idle, the rest as busy", () => {
  const stat = "cpu  100 5 30 800 20 1 2 3 0 0\ncpu0 50 2 15 400 10 0 1 1 0 0\n";
  assert.deepEqual(parseMachineTicks(stat), { busy: 100 + 5 + 30 + 1 + 2 + 3, idle: 820 });
  assert.throws(() => parseMachineTicks("intr 1 2 3\n"), SyntaxError);
});

// Reading another process's /proc entries takes --allow-all, which the test
// task does not grant: a `deno eval` child (all permissions) reads them.
Deno.test("cpuSnapshot reads a process's CPU time, growing while it computes", async () => {
  const code = `
    import { cpuSnapshot } from ${JSON.stringify(new URL("./_cpu.ts", import.meta.url).href)};
    const before = cpuSnapshot([Deno.pid, ${2 ** 22 + 1}]); // the second: above Linux's largest pid
    const until = performance.now() + 300;
    while (performance.now() < until);
    const after = cpuSnapshot([Deno.pid]);
    console.log(JSON.stringify({
      spent: after.processMs.get(Deno.pid) - before.processMs.get(Deno.pid),
      busy: after.busyMs - before.busyMs,
      pids: before.processMs.size,
    }));`;
  const output = await new Deno.Command("deno", { args: ["eval", code], stderr: "inherit" })
    .output();
  assert(output.success);
  const { spent, busy, pids } = JSON.parse(new TextDecoder().decode(output.stdout));
  assert(spent >= 100, `spent ${spent} ms of CPU in a 300 ms busy loop`);
  // /proc/stat samples each core every 10 ms; a process's own time is
  // counted exactly: the two agree to a few ticks, not to the millisecond.
  assert(busy >= spent * 0.8, `the machine was busy ${busy} ms, the process alone ${spent} ms`);
  assert.equal(pids, 1, "a pid that does not exist is left out");
});

Deno.test("cpuPerRequest splits the run's CPU between server, nodes and the rest", () => {
  const snapshot = (ms: [number, number][], busyMs: number, idleMs: number): CpuSnapshot => ({
    processMs: new Map(ms),
    busyMs,
    idleMs,
  });
  const before = snapshot([[1, 1000], [2, 500], [3, 500]], 10_000, 5_000);
  const after = snapshot([[1, 1900], [2, 800], [3, 700]], 11_600, 5_400);
  const cpu = cpuPerRequest(before, after, 1000, 1, [2, 3]);
  assert.deepEqual(cpu, { serverUs: 900, nodesUs: 500, restUs: 200, idle: 0.2 });
});
