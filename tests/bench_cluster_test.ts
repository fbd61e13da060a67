// `deno task bench:cluster`, shortened: it must keep working, since it is
// how the project tracks its speed. With the built-in load generator, so
// that the test needs no wrk.
import assert from "node:assert/strict";
import type { Report } from "./bench/_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;

function bench(args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command("deno", {
    args: ["task", "bench:cluster", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
}

Deno.test("bench:cluster measures every scenario against a real cluster, with ratios and CPU per request", async () => {
  const short = ["--duration", "1s", "--warmup", "0s", "--connections", "8"];
  const output = await bench(["--load", "deno", ...short, "--sweep", "--no-memory"]);
  const stdout = new TextDecoder().decode(output.stdout);
  assert(output.success, `${stdout}\n${new TextDecoder().decode(output.stderr)}`);
  const line = stdout.split("\n").find((l) => l.startsWith("JSON: "));
  assert(line, stdout);
  const report: Report = JSON.parse(line.slice("JSON: ".length));

  const letters = report.scenarios.map((s) => s.name.slice(0, 2));
  assert.deepEqual(letters, ["a.", "a.", "b.", "c.", "d."]);
  for (const run of [...report.scenarios, ...report.sweep]) {
    assert(run.requests > 0 && run.p50Ms > 0 && run.p99Ms >= run.p50Ms, run.name);
    assert.equal(run.statusErrors + run.socketErrors, 0, `${run.name}: errors`);
    assert(run.cpu.serverUs > 0 && run.cpu.idle >= 0 && run.cpu.idle <= 1, run.name);
  }
  // Each scenario against the bare server's runs just before and after it.
  assert.equal(report.baselines.length, report.scenarios.length + 1);
  const b = report.scenarios[2];
  assert.equal(b.baselineRps, (report.baselines[2].rps + report.baselines[3].rps) / 2);
  assert.equal(b.ratio, b.rps / b.baselineRps);
  assert.equal(b.nodeHitRatio, 1, "scenario b's keys were all warmed");
  assert(b.cpu.nodesUs > 0, "the nodes served scenario b");
  for (const bare of report.baselines) {
    assert(bare.requests > 0, "a bare run");
    assert.equal(bare.cpu.nodesUs, 0, "the bare server has no nodes");
  }
  assert.deepEqual(report.sweep.map((s) => `${s.name.slice(0, 2)}${s.connections}`), [
    ...[16, 64, 128, 256].flatMap((c) => [`ba${c}`, `b.${c}`, `ba${c}`]),
  ]);
  const [before, sweepB, after] = report.sweep.slice(3, 6);
  assert.equal(sweepB.ratio, sweepB.rps / ((before.rps + after.rps) / 2));
  assert.match(stdout, /^Peak: \d+ req\/s \(\d\.\d{3} × bare\) at \d+ connections, p99 /m);
  assert.match(stdout, /^b\. 1,000 keys uniform +8 /m);
});

Deno.test("bench:cluster refuses a bad flag in one line, before starting anything", async () => {
  const output = await bench(["--connections", "0"]);
  assert.equal(output.code, 2);
  const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
  assert.deepEqual(stderr.slice(-1), [
    'bench:cluster: Invalid --connections "0": expected an integer >= 1 (see --help)',
  ]);
});
