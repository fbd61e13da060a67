// The gateway's /status.json against a real 3-node cluster, and every
// metric's type and the process figures under the permissions `deno task
// node` and `deno task gateway` grant. Metrics are parsed, not matched as
// strings. grpc-js keeps timers after its channels close, so sanitizers are off.
import assert from "node:assert/strict";
import type { StatusReport } from "../src/gateway/mod.ts";
import {
  NodeClient,
  Origin,
  startGatewayProcess,
  startNodeProcess,
  startTask,
  waitFor,
} from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";
import { type Family, metricTotal, scrapeMetrics } from "./_metrics.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

const scrape = scrapeMetrics;
const total = metricTotal;

async function status(gateway: string, query = ""): Promise<StatusReport> {
  const response = await fetch(`http://${gateway}/status.json${query}`);
  assert.equal(response.status, 200);
  return await response.json();
}

Deno.test({
  name:
    "/status.json shows 3 members whose ring shares sum to 1, and hit ratios that match the counters",
  ...sanitizers,
  async fn() {
    await using origin = new Origin();
    for (let i = 0; i < 40; i++) origin.values.set(`k${i}`, `v${i}`);
    const addrs = [0, 1, 2].map(() => `127.0.0.1:${freePort()}`);
    const args = [
      "--peers",
      addrs.join(","),
      "--origin",
      `v=${origin.url}`,
      "--cache-bytes",
      "8MiB",
    ];
    await using a = await startNodeProcess(args, addrs[0]);
    await using b = await startNodeProcess(args, addrs[1]);
    await using c = await startNodeProcess(args, addrs[2]);
    await using gateway = await startGatewayProcess(["--peers", addrs.join(",")]);
    await waitFor(
      async () => (await status(gateway.addr)).members.every((m) => m.healthy),
      "3 healthy",
    );
    for (const round of [1, 2, 3]) {
      for (let i = 0; i < 40; i += round) {
        const response = await fetch(`http://${gateway.addr}/mccache/v/k${i}`);
        assert.equal(await response.text(), `v${i}`);
      }
    }
    assert.equal((await fetch(`http://${gateway.addr}/mccache/v/missing`)).status, 404);

    // The counters first: a lookup is a get of its own, counted by the nodes.
    const report = await status(gateway.addr);
    assert.deepEqual(report.members.map((m) => m.addr), [...addrs].sort());
    for (const member of report.members) {
      assert.equal(member.healthy, true);
      assert.equal(member.protocol, "mccache.v1");
      assert.equal(member.statsAnswered, true);
      assert.ok(member.ringShare > 0.2 && member.ringShare < 0.45, String(member.ringShare));
    }
    const shares = report.members.reduce((n, m) => n + m.ringShare, 0);
    assert.ok(Math.abs(shares - 1) < 1e-9, `shares sum to ${shares}`);

    const nodes = await Promise.all([a, b, c].map((node) => scrape(node.httpAddr)));
    const sum = (name: string, labels: Record<string, string> = {}) =>
      nodes.reduce((n, families) => n + total(families, name, { group: "v", ...labels }), 0);
    const [group] = report.groups;
    assert.equal(group.name, "v");
    assert.equal(group.nodes, 3);
    assert.equal(group.gets, sum("mccache_gets_total"));
    assert.equal(group.hitRatio, sum("mccache_cache_hits_total") / sum("mccache_gets_total"));
    const main = { cache: "main" };
    assert.equal(
      group.main.hitRatio,
      sum("mccache_cache_lookup_hits_total", main) / sum("mccache_cache_gets_total", main),
    );
    assert.ok(group.hitRatio! > 0.4, `hit ratio ${group.hitRatio}`);
    assert.equal(group.maxBytes, 3 * 8 * 2 ** 20);
    assert.equal(group.peerErrors, 0);

    const { lookup } = await status(gateway.addr, "?group=v&key=k7");
    const owner = lookup!.owner;
    assert.ok(addrs.includes(owner!));
    assert.deepEqual(
      { ...lookup, owner: undefined },
      {
        group: "v",
        key: "k7",
        owner: undefined,
        status: 200,
        node: owner,
        value: "v7",
        valueBytes: 2,
      },
    );
    const missing = (await status(gateway.addr, "?group=v&key=nobody")).lookup!;
    assert.equal(missing.status, 404);
    assert.match(missing.error!, /nobody|not found/i);

    assert.ok(report.requests.total >= 70, JSON.stringify(report.requests));
    // The minute's figures are sampled each second: they catch up.
    await waitFor(async () => (await status(gateway.addr)).requests.requests >= 70, "sampled");
    const { requests } = await status(gateway.addr);
    assert.equal(requests.series.length, requests.windowSeconds);
    assert.equal(requests.series.reduce((n, p) => n + p.requests, 0), requests.requests);
    assert.ok(requests.p50Ms! > 0 && requests.p99Ms! >= requests.p50Ms!, JSON.stringify(requests));
    assert.ok(requests.errors === 0 && requests.errorRate === 0);
  },
});

// Every metric the node and the gateway export, and the type it must have.
const HISTOGRAMS = new Set([
  "mccache_gateway_request_duration_seconds",
  "mccache_getter_duration_seconds",
  "mccache_peer_call_duration_seconds",
  "nodejs_gc_duration_seconds",
]);
const GAUGES_OF_COUNTS = new Set([
  "nodejs_active_resources_total",
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
]);

function expectedType(name: string): string {
  if (HISTOGRAMS.has(name)) return "HISTOGRAM";
  // prom-client's "_total" of active handles is a current count: a gauge.
  if (GAUGES_OF_COUNTS.has(name)) return "GAUGE";
  return name.endsWith("_total") ? "COUNTER" : "GAUGE";
}

function checkTypes(families: Family[], who: string): void {
  for (const family of families) {
    assert.equal(family.type, expectedType(family.name), `${who}: ${family.name}`);
  }
}

function checkProcess(families: Family[], who: string): void {
  const value = (name: string) => total(families, name);
  assert.ok(value("process_resident_memory_bytes") > 16 << 20, `${who}: resident memory`);
  assert.ok(value("process_cpu_seconds_total") > 0, `${who}: cpu`);
  const started = value("process_start_time_seconds");
  assert.ok(Math.abs(started - Date.now() / 1000) < 120, `${who}: start time ${started}`);
  // What Deno lets only --allow-all read (/proc) is left out, not shown as 0.
  for (const name of ["process_open_fds", "process_max_fds", "process_virtual_memory_bytes"]) {
    const family = families.find((f) => f.name === name);
    if (family) assert.ok(Number(family.metrics[0].value) > 0, `${who}: ${name} reads 0`);
  }
}

Deno.test({
  name:
    "Under deno task's permissions every metric has its type, process figures are real, and not-found is no error",
  ...sanitizers,
  async fn() {
    await using origin = new Origin();
    origin.values.set("present", "yes");
    for (let i = 0; i < 100; i++) origin.values.set(`p${i}`, "yes");
    const addrs = [`127.0.0.1:${freePort()}`, `127.0.0.1:${freePort()}`];
    const httpAddrs = [`127.0.0.1:${freePort()}`, `127.0.0.1:${freePort()}`];
    const nodeArgs = (i: number) => [
      "--addr",
      addrs[i],
      "--http-addr",
      httpAddrs[i],
      "--peers",
      addrs.join(","),
      "--origin",
      `v=${origin.url}`,
    ];
    await using _a = await startTask("node", nodeArgs(0));
    await using _b = await startTask("node", nodeArgs(1));
    const gatewayAddr = `127.0.0.1:${freePort()}`;
    await using _gateway = await startTask("gateway", [
      "--addr",
      gatewayAddr,
      "--peers",
      addrs.join(","),
      "--hot-ttl",
      "1s",
    ]);
    const base = `http://${gatewayAddr}/mccache/v`;
    await waitFor(async () => (await fetch(`${base}/present`)).status === 200, "gateway serves");
    assert.equal((await fetch(`${base}/absent`)).status, 404);
    // A get at the node that does not own a key is a peer call to its owner,
    // once the node's connection to it is up (before, it loads the key itself).
    let next = 0;
    await waitFor(async () => {
      const key = `p${next++}`;
      for (const addr of addrs) {
        using client = new NodeClient(addr);
        assert.equal(await client.get("v", key), "yes");
      }
      const peerCalls = await Promise.all(
        httpAddrs.map(async (addr) =>
          metricTotal(await scrape(addr), "mccache_peer_call_duration_seconds", {
            outcome: "value",
          })
        ),
      );
      return peerCalls.some((n) => n > 0);
    }, "a peer call");
    const nodes = await Promise.all(httpAddrs.map(scrape));
    const gatewayFamilies = await scrape(gatewayAddr);
    nodes.forEach((families, i) => {
      checkTypes(families, `node ${i}`);
      checkProcess(families, `node ${i}`);
    });
    checkTypes(gatewayFamilies, "gateway");
    checkProcess(gatewayFamilies, "gateway");

    const both = (name: string, labels: Record<string, string>) =>
      nodes.reduce((n, families) => n + total(families, name, labels), 0);
    assert.ok(both("mccache_getter_duration_seconds", { group: "v", outcome: "value" }) >= 1);
    assert.ok(both("mccache_getter_duration_seconds", { group: "v", outcome: "not_found" }) >= 1);
    assert.ok(both("mccache_peer_call_duration_seconds", { group: "v", outcome: "value" }) >= 1);
    assert.equal(total(gatewayFamilies, "mccache_gateway_upstream_not_found_total"), 1);
    const errors = gatewayFamilies.find((f) => f.name === "mccache_gateway_upstream_errors_total");
    assert.deepEqual(errors?.metrics ?? [], []);
    for (const field of ["gets", "hits", "evictions"]) {
      const name = `mccache_gateway_hot_cache_${field}_total`;
      assert.equal(gatewayFamilies.find((f) => f.name === name)?.type, "COUNTER", name);
    }
  },
});

Deno.test({
  name:
    "A node and a gateway print a start-up summary, and --log-format json logs one object per line",
  ...sanitizers,
  async fn() {
    const addr = `127.0.0.1:${freePort()}`;
    await using node = await startNodeProcess(["--peers", addr, "--log-format", "json"], addr);
    await using gateway = await startGatewayProcess(["--peers", addr]);
    const logged = node.lines.filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
    const started = logged.find((entry) => entry.msg === "node started");
    assert.equal(started?.addr, addr);
    assert.equal(started?.logger, `node ${addr}`);
    assert.equal(node.stdout, "", "json leaves the summary out");
    await waitFor(() => gateway.stdout.includes("TLS"), "the gateway's summary");
    const summary = gateway.stdout.trim().split("\n");
    assert.equal(summary[0], `mccache gateway ${gateway.addr}`);
    for (const label of ["status page", "members", "hot cache", "TLS"]) {
      assert.ok(summary.some((line) => line.trimStart().startsWith(label)), label);
    }
    assert.ok(summary.some((line) => line.includes(`1: ${addr}`)), gateway.stdout);
    assert.ok(summary.length <= 24, "one screen");
    assert.match(gateway.lines.find((l) => /gateway started/.test(l))!, /addr="127\.0\.0\.1:\d+"/);
  },
});
