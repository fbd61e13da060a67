// `deno task demo`, run the way the README says, with the curl lines it
// prints run by a shell: each must print what its comment promises.
import assert from "node:assert/strict";
import { freePort } from "../src/_testing/ports.ts";

Deno.test({
  name:
    "deno task demo starts a cluster whose printed curl lines and status page work, prints a live line, and stops on Ctrl-C",
  // grpc-js keeps timers after its channels close.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nodes = [freePort(), freePort(), freePort()].map((p) => `127.0.0.1:${p}`);
    const gateway = `127.0.0.1:${freePort()}`;
    const demo = new Deno.Command("deno", {
      args: ["task", "demo", "--nodes", nodes.join(","), "--addr", gateway],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let output = "";
    const stderr = new Response(demo.stderr).text();
    const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes("Press Ctrl-C")) {
        const { value, done } = await reader.read();
        if (done || Date.now() > deadline) {
          assert.fail(`demo ended early:\n${output}\n${await stderr}`);
        }
        output += value;
      }
      const lines = output.split("\n").filter((l) => l.trim().startsWith("curl "));
      assert.ok(lines.length >= 5, output);
      for (const line of lines) {
        const [command, expected] = line.trim().split(/\s+#\s+/);
        assert.ok(command.includes(gateway), line);
        const result = await new Deno.Command("sh", { args: ["-c", command] }).output();
        assert.equal(new TextDecoder().decode(result.stdout).trim(), expected, command);
      }
      // The status page works with the demo's static membership.
      assert.ok(output.includes(`status page: http://${gateway}/`), output);
      const page = await fetch(`http://${gateway}/`);
      assert.match(await page.text(), /<title>mccache status<\/title>/);
      const report = await (await fetch(`http://${gateway}/status.json`)).json();
      assert.deepEqual(report.members.map((m: { addr: string }) => m.addr), [...nodes].sort());
      // The live line, every 5 s: req/s, hit ratio, members.
      const live = /\d+\.\d req\/s {2}hit ratio \S+( %)? {2}members 3\/3 healthy/;
      while (!live.test(output)) {
        const { value, done } = await reader.read();
        if (done || Date.now() > deadline + 10_000) assert.fail(`no live line:\n${output}`);
        output += value;
      }
    } finally {
      demo.kill("SIGINT");
      const status = await demo.status;
      reader.releaseLock();
      await demo.stdout.cancel().catch(() => {});
      assert.equal(status.code, 0, await stderr);
    }
  },
});
