// The command-line tools as a user meets them: help, one-line errors with
// exit codes, --groups, --peers, /healthz and /metrics. grpc-js keeps timers
// after its channels close, so the sanitizers are off for these tests.
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { V8_FLAGS } from "../cli/start.ts";
import { freePort } from "../src/_testing/ports.ts";
import {
  GATEWAY_V8_FLAGS,
  NODE_V8_FLAGS,
  NodeClient,
  Process,
  startNodeProcess,
} from "./_cluster.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

async function runToEnd(script: string, args: string[]) {
  const process = new Process(script, args);
  const status = await process.status;
  return {
    code: status.code,
    stderr: process.lines.filter((l) => l !== ""),
    stdout: process.stdout,
  };
}

Deno.test("deno task node and deno task gateway use the V8 flags the cluster tests and benchmark run with", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const launcher =
    "deno run --allow-run=deno --allow-env=GRPC_DEFAULT_SSL_ROOTS_FILE_PATH cli/start.ts";
  assert.equal(config.tasks.node, `${launcher} node`);
  assert.equal(config.tasks.gateway, `${launcher} gateway`);
  assert.deepEqual([V8_FLAGS.node], NODE_V8_FLAGS);
  assert.deepEqual([V8_FLAGS.gateway], GATEWAY_V8_FLAGS);
});

Deno.test({
  name: "--help lists every flag of the node, the gateway and the demo",
  ...sanitizers,
  async fn(t) {
    const expected: Record<string, string[]> = {
      "cli/node.ts": [
        "--addr",
        "--listen",
        "--max-value-bytes",
        "--max-streams",
        "--max-buffered-bytes",
        "--negative-ttl",
        "--tls-cert",
        "--tls-key",
        "--tls-ca",
        "--tls-server-name",
        "--etcd",
        "--etcd-prefix",
        "--etcd-user",
        "--etcd-password-file",
        "--etcd-ca",
        "--etcd-cert",
        "--etcd-key",
        "--etcd-timeout",
        "--lease-ttl",
        "--peers",
        "--groups",
        "--origin",
        "--cache-bytes",
        "--ring",
        "--http-addr",
        "--log-level",
        "--help",
      ],
      "cli/gateway.ts": [
        "--addr",
        "--listen",
        "--token-file",
        "--token-reads",
        "--tls-cert",
        "--tls-key",
        "--tls-ca",
        "--etcd",
        "--etcd-prefix",
        "--etcd-user",
        "--etcd-password-file",
        "--etcd-ca",
        "--etcd-timeout",
        "--peers",
        "--prefix",
        "--timeout",
        "--hot-ttl",
        "--stale-while-revalidate",
        "--hot-bytes",
        "--max-value-bytes",
        "--body-timeout",
        "--debug-headers",
        "--ring",
        "--log-level",
        "--help",
      ],
      "cli/demo.ts": ["--nodes", "--addr", "--etcd", "--log-level", "--help"],
    };
    for (const [script, flags] of Object.entries(expected)) {
      await t.step(script, async () => {
        const { code, stdout } = await runToEnd(script, ["--help"]);
        assert.equal(code, 0);
        for (const flag of flags) assert.match(stdout, new RegExp(`${flag}\\b`), flag);
      });
    }
  },
});

Deno.test({
  name: "Mistakes a user can make fail fast with one line and a non-zero exit",
  ...sanitizers,
  async fn(t) {
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busyAddr = `127.0.0.1:${(busy.addr as Deno.NetAddr).port}`;
    const deadEtcd = `127.0.0.1:${freePort()}`;
    const cases: [string, string, string[], number, RegExp][] = [
      ["unknown flag", "cli/node.ts", ["--bogus"], 2, /Unknown option '--bogus'/],
      ["bad address", "cli/node.ts", ["--addr", "8001"], 2, /Invalid --addr "8001"/],
      ["bad size", "cli/node.ts", ["--cache-bytes", "lots"], 2, /Invalid --cache-bytes/],
      ["bad log level", "cli/node.ts", ["--log-level", "loud"], 2, /Invalid --log-level/],
      ["bad stream cap", "cli/node.ts", ["--max-streams", "0"], 2, /Invalid --max-streams "0"/],
      [
        "no buffer at all",
        "cli/node.ts",
        ["--max-buffered-bytes", "0"],
        2,
        /Invalid --max-buffered-bytes "0"/,
      ],
      [
        "both --peers and --etcd",
        "cli/node.ts",
        ["--peers", busyAddr, "--etcd", deadEtcd],
        2,
        /exclude/,
      ],
      ["bad origin", "cli/node.ts", ["--origin", "v=ftp://x/{key}"], 2, /Invalid origin URL/],
      [
        "address in use",
        "cli/node.ts",
        ["--addr", busyAddr, "--peers", busyAddr],
        1,
        /address already in use/,
      ],
      [
        "etcd unreachable",
        "cli/node.ts",
        ["--addr", `127.0.0.1:${freePort()}`, "--etcd", deadEtcd, "--etcd-timeout", "1s"],
        1,
        /etcd/i,
      ],
      [
        "groups module that does not load",
        "cli/node.ts",
        [
          "--addr",
          `127.0.0.1:${freePort()}`,
          "--peers",
          "127.0.0.1:1",
          "--groups",
          "./no/such/module.ts",
        ],
        1,
        /No permission to load --groups from \.\/no\/such: add it to --allow-read/,
      ],
      [
        "a password on the command line",
        "cli/node.ts",
        ["--etcd-user", "root", "--etcd-password", "s3cret"],
        2,
        /--etcd-password is refused: .*MCCACHE_ETCD_PASSWORD or --etcd-password-file/,
      ],
      ["a user without a password", "cli/node.ts", ["--etcd-user", "root"], 2, /needs a password/],
      ["half of the TLS flags", "cli/node.ts", ["--tls-cert", "x.pem"], 2, /all of --tls-cert/],
      [
        "a certificate that is not there",
        "cli/node.ts",
        // Under a directory it may read, so that the file's absence shows.
        ["--tls-cert", "./node_modules/no.pem", "--tls-key", "x.key", "--tls-ca", "x.pem"],
        1,
        /Cannot read --tls-cert \.\/node_modules\/no\.pem: no such file/,
      ],
      [
        "an address it may not listen on",
        "cli/node.ts",
        ["--addr", `127.0.0.2:${freePort()}`, "--peers", "127.0.0.2:1"],
        1,
        /No permission to listen on 127\.0\.0\.2:\d+: add it to --allow-net/,
      ],
      [
        "an origin it may not reach",
        "cli/node.ts",
        [
          "--addr",
          `127.0.0.1:${freePort()}`,
          "--peers",
          "127.0.0.1:1",
          "--origin",
          "v=http://127.0.0.5/{key}",
        ],
        1,
        /No permission to reach the origin 127\.0\.0\.5:80/,
      ],
      [
        "groups module that is not there",
        "cli/node.ts",
        [
          "--addr",
          `127.0.0.1:${freePort()}`,
          "--peers",
          "127.0.0.1:1",
          "--groups",
          "./node_modules/no/such.ts",
        ],
        1,
        /Cannot load groups from/,
      ],
      ["gateway: unknown flag", "cli/gateway.ts", ["--nope"], 2, /Unknown option '--nope'/],
      ["gateway: reads without a token", "cli/gateway.ts", ["--token-reads"], 2, /needs a token/],
      ["gateway: bad timeout", "cli/gateway.ts", ["--timeout", "soon"], 2, /Invalid --timeout/],
      [
        "gateway: no body timeout",
        "cli/gateway.ts",
        ["--body-timeout", "0s"],
        2,
        /Invalid --body-timeout "0s": it must be positive/,
      ],
      [
        "gateway: address in use",
        "cli/gateway.ts",
        ["--addr", busyAddr, "--peers", busyAddr],
        1,
        /address already in use/,
      ],
    ];
    try {
      for (const [name, script, args, code, message] of cases) {
        await t.step(name, async () => {
          const started = Date.now();
          const result = await runToEnd(script, args);
          assert.equal(result.code, code, result.stderr.join("\n"));
          assert.equal(result.stderr.length, 1, `one line, got:\n${result.stderr.join("\n")}`);
          assert.match(result.stderr[0], message);
          assert.doesNotMatch(result.stderr[0], /\bat .*:\d+:\d+/); // no stack trace
          assert.ok(Date.now() - started < 10_000, "fails fast");
        });
      }
    } finally {
      busy.close();
    }
  },
});

Deno.test({
  name: "Static --peers nodes route keys between them and serve /healthz and /metrics",
  ...sanitizers,
  async fn() {
    const addrs = [`127.0.0.1:${freePort()}`, `127.0.0.1:${freePort()}`];
    const peers = ["--peers", addrs.join(","), "--groups", "examples/groups.ts"];
    // A --groups module and what it imports must be readable.
    const read = ["--allow-read=./node_modules,./examples,./mod.ts,./src"];
    await using a = await startNodeProcess(peers, addrs[0], read);
    await using b = await startNodeProcess(peers, addrs[1], read);
    using client = new NodeClient(a.addr);
    for (let i = 0; i < 20; i++) {
      assert.equal(await client.get("squares", String(i)), String(i * i));
    }
    assert.equal(await client.get("capitals", "Peru"), "Lima");
    await assert.rejects(client.get("capitals", "Atlantis"), { code: 5 });

    const health = await fetch(`http://${b.httpAddr}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const text = await (await fetch(`http://${a.httpAddr}/metrics`)).text();
    const families = parsePrometheusTextFormat(text) as {
      name: string;
      metrics: { value: string; labels?: Record<string, string> }[];
    }[];
    const metric = (name: string, labels: Record<string, string>) =>
      Number(
        families.find((f) => f.name === name)?.metrics.find((m) =>
          Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
        )?.value,
      );
    assert.equal(metric("mccache_gets_total", { group: "squares" }), 20);
    assert.ok(metric("mccache_peer_loads_total", { group: "squares" }) > 0, "some keys live on b");
    assert.ok(metric("mccache_cache_items", { group: "squares", cache: "main" }) > 0);
    assert.equal(metric("mccache_ring_members", {}), 2);
    assert.equal(metric("mccache_up", {}), 1);
  },
});
