import assert from "node:assert/strict";
import { HashRing } from "../../hash_ring.ts";
import { NotFoundError } from "../../errors.ts";
import type { StatsResponse } from "../../grpc/messages.ts";
import { LATENCY_BUCKETS } from "../metrics.ts";
import { quantileMs, RequestSeries, type Totals } from "./_series.ts";
import { groupStatus } from "./_groups.ts";
import { StatusCollector, type StatusSource } from "./report.ts";
import { LiveLine } from "./live_line.ts";
import { createGatewayHandler } from "../handler.ts";
import type { Upstream } from "../upstream.ts";

function histogram(counts: Record<number, number>): number[] {
  const buckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  for (const [i, n] of Object.entries(counts)) buckets[Number(i)] = n;
  return buckets;
}

Deno.test("quantileMs interpolates within a bucket and stops at the top bound", async (t) => {
  const cases: [string, Record<number, number>, number, number | null][] = [
    ["none", {}, 0.5, null],
    ["all in the first bucket", { 0: 10 }, 0.5, 0.25],
    ["half way into the second", { 0: 5, 1: 10 }, 0.5, 0.625],
    ["p99 in the last bucket", { 0: 99, [LATENCY_BUCKETS.length]: 1 }, 0.995, 2500],
  ];
  for (const [name, counts, q, expected] of cases) {
    await t.step(name, () => {
      const buckets = histogram(counts);
      const count = buckets.reduce((a, b) => a + b, 0);
      const ms = quantileMs(buckets, count, q);
      if (expected === null) assert.equal(ms, null);
      else assert.ok(Math.abs(ms! - expected) < 1e-9, `${ms} != ${expected}`);
    });
  }
});

Deno.test("RequestSeries turns running totals into per-second points and a minute's summary", () => {
  let totals: Totals = { requests: 0, errors: 0, buckets: histogram({}) };
  const series = new RequestSeries(() => totals, 60_000);
  try {
    totals = { requests: 10, errors: 1, buckets: histogram({ 2: 10 }) };
    series.sample();
    totals = { requests: 30, errors: 1, buckets: histogram({ 2: 30 }) };
    series.sample();
    const summary = series.summary();
    assert.deepEqual(summary.series.map((p) => [p.requests, p.errors]), [[10, 1], [20, 0]]);
    assert.equal(summary.total, 30);
    assert.equal(summary.requests, 30);
    assert.equal(summary.perSecond, 15);
    assert.equal(summary.errorRate, 1 / 30);
    assert.ok(summary.p50Ms! > 1 && summary.p50Ms! <= 2.5);
  } finally {
    series.close();
  }
});

function nodeStats(node: string, gets: number, hits: number): StatsResponse {
  const cache = { bytes: 100, items: 1, gets, hits, evictions: 0 };
  const group = {
    name: "g",
    gets,
    cache_hits: hits,
    peer_loads: 0,
    peer_errors: 1,
    loads: gets - hits,
    loads_deduped: 0,
    local_loads: gets - hits,
    local_load_errs: 0,
    server_requests: gets,
    main: cache,
    hot: { ...cache, bytes: 0, items: 0, hits: 0 },
    max_bytes: 1000,
  };
  return { node, members: [], groups: [group] };
}

Deno.test("groupStatus sums the nodes' stats per group and derives the hit ratios", () => {
  const [group] = groupStatus([nodeStats("a", 10, 5), nodeStats("b", 30, 25)]);
  assert.equal(group.nodes, 2);
  assert.equal(group.gets, 40);
  assert.equal(group.hitRatio, 30 / 40);
  assert.equal(group.main.hitRatio, 30 / 40);
  assert.equal(group.hot.hitRatio, 0);
  assert.equal(group.peerErrors, 2);
  assert.equal(group.bytes, 200);
  assert.equal(group.maxBytes, 2000);
  assert.deepEqual(groupStatus([]), []);
});

function fakeSource(members: string[], down: string[] = []): StatusSource & { statsCalls: number } {
  const ring = new HashRing();
  ring.add(...members);
  const source = {
    statsCalls: 0,
    ring,
    protocolOf: (member: string) => member === "go" ? "geecachepb" : "mccache.v1",
    healthy: (member: string) => !down.includes(member),
    stats(member: string) {
      source.statsCalls++;
      if (down.includes(member)) return Promise.reject(new Error("unavailable"));
      return Promise.resolve(nodeStats(member, 4, 2));
    },
    get(_group: string, key: string) {
      if (key === "missing") return Promise.reject(new NotFoundError("missing not found"));
      return Promise.resolve({ value: new TextEncoder().encode(`v:${key}`), ttl: 5, node: "a" });
    },
    totals: () => ({ requests: 0, errors: 0, buckets: histogram({}) }),
  };
  return source;
}

Deno.test("StatusCollector reports members, groups from those that answer, and lookups", async () => {
  const source = fakeSource(["b", "a", "c", "go"], ["c"]);
  const collector = new StatusCollector(source, { addr: "127.0.0.1:9999" });
  try {
    const report = await collector.report({ group: "g", key: "k" });
    assert.deepEqual(report.members.map((m) => [m.addr, m.healthy, m.statsAnswered]), [
      ["a", true, true],
      ["b", true, true],
      ["c", false, false],
      ["go", true, false],
    ]);
    assert.equal(source.statsCalls, 3, "the Go original is not asked for Stats");
    assert.ok(Math.abs(report.members.reduce((n, m) => n + m.ringShare, 0) - 1) < 1e-9);
    assert.equal(report.groups[0].nodes, 2);
    assert.deepEqual(report.lookup, {
      group: "g",
      key: "k",
      owner: source.ring.get("k"),
      status: 200,
      node: "a",
      value: "v:k",
      valueBytes: 3,
      ttlMs: 5,
    });
    const missing = (await collector.report({ group: "g", key: "missing" })).lookup!;
    assert.equal(missing.status, 404);
    assert.equal(missing.error, "missing not found");
    assert.equal(JSON.parse(JSON.stringify(report)).requests.errorRate, null);
  } finally {
    collector.close();
  }
});

Deno.test("Reports made at the same time share the nodes' Stats calls", async () => {
  const source = fakeSource(["a", "b"]);
  const collector = new StatusCollector(source, { addr: "x" });
  try {
    await Promise.all([collector.report(), collector.report(), collector.report()]);
    assert.equal(source.statsCalls, 2);
    await collector.report();
    assert.equal(source.statsCalls, 4, "a later report asks again");
  } finally {
    collector.close();
  }
});

Deno.test("LiveLine shows the rate and hit ratio since the line before", async () => {
  const source = fakeSource(["a", "b"], ["b"]);
  const collector = new StatusCollector(source, { addr: "x" });
  try {
    const line = new LiveLine().next(await collector.report());
    assert.match(
      line,
      /^\d\d:\d\d:\d\d {2}0\.0 req\/s {2}hit ratio 50\.0 % {2}members 1\/2 healthy$/,
    );
  } finally {
    collector.close();
  }
});

Deno.test("The gateway serves the status routes only with a collector, to GET and HEAD, and lookups need a read token", async () => {
  const source = fakeSource(["a"]);
  const collector = new StatusCollector(source, { addr: "x" });
  try {
    const upstream = { members: ["a"], serving: true, close() {} } as unknown as Upstream;
    const plain = createGatewayHandler({ upstream });
    assert.equal((await plain(new Request("http://gw/"))).status, 404);
    const handler = createGatewayHandler({
      upstream,
      status: collector,
      token: "secret",
      tokenReads: true,
    });
    const call = (path: string, init?: RequestInit) =>
      handler(new Request(`http://gw${path}`, init));
    const page = await call("/");
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
    assert.match(await page.text(), /<script src="\/status.js"><\/script>/);
    assert.match(await (await call("/status.js")).text(), /fetch\("\/status.json"/);
    assert.equal((await call("/status.json", { method: "POST" })).status, 405);
    assert.equal((await call("/status.json?group=g")).status, 400);
    assert.equal((await call("/status.json?group=g&key=k")).status, 401);
    const authorized = { headers: { authorization: "Bearer secret" } };
    const report = await (await call("/status.json?group=g&key=k", authorized)).json();
    assert.equal(report.lookup.value, "v:k");
    assert.equal((await (await call("/status.json")).json()).members.length, 1);
  } finally {
    collector.close();
  }
});
