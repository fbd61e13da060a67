// `deno task bench:ab`, shortened: two clusters (a worktree of HEAD and this
// tree) side by side. With the built-in load generator, so that the test
// needs no wrk.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

function benchAb(args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command("deno", {
    args: ["task", "bench:ab", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
}

Deno.test("bench:ab runs scenario b on two versions side by side, alternating rounds", async () => {
  const args = ["--base", "HEAD", "--rounds", "2", "--duration", "1s", "--connections", "8"];
  const output = await benchAb([...args, "--load", "deno"]);
  const stdout = new TextDecoder().decode(output.stdout);
  assert(output.success, `${stdout}\n${new TextDecoder().decode(output.stderr)}`);
  const line = stdout.split("\n").find((l) => l.startsWith("JSON: "));
  assert(line, stdout);
  const { rounds } = JSON.parse(line.slice("JSON: ".length));
  assert.deepEqual(rounds.map((r: { side: string }) => r.side), [
    "before",
    "after",
    "after",
    "before",
  ]);
  for (const round of rounds) assert(round.rps > 0 && round.nodesUs > 0, JSON.stringify(round));
  assert.match(stdout, /^median rps: before \d+\.\d, after \d+\.\d, after\/before \d\.\d{3}$/m);
});

Deno.test("bench:ab refuses a missing --base in one line, before starting anything", async () => {
  const output = await benchAb([]);
  assert.equal(output.code, 2);
  const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
  assert.deepEqual(stderr.slice(-1), ["bench:ab: --base is required (see --help)"]);
});
