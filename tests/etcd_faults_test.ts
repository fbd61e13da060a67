// etcd faults under load, with real processes: etcd killed and back with an
// empty data dir, and the leader of a three-member etcd cluster killed. No
// request through the gateway may fail, and the members must be registered
// again soon after etcd is back. grpc-js keeps timers after its channels
// close, so the sanitizers are off.
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { Etcd3 } from "etcd3";
import { startEtcd, startEtcdCluster } from "./_etcd.ts";
import {
  type NodeProcess,
  Origin,
  type Process,
  startGatewayProcess,
  startNodeProcess,
  waitFor,
} from "./_cluster.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
// Under 2 TTLs, a 3 s outage leaves the nodes' leases alive on their side
// (etcd back empty refuses their keepalives); a 10 s outage outlasts them.
const LEASE_TTL = 3;
const KEYS = 30;
// The bound: every member registered again this soon after etcd is back.
const REREGISTER_MS = 2000;
// How long the gateway keeps members that etcd lost (its default grace period).
const GATEWAY_GRACE_MS = 5000;

// A span of time with nothing to wait for but the clock: an outage, or a
// grace period to see out.
function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function startCluster(etcd: string) {
  const origin = new Origin();
  for (let i = 0; i < KEYS; i++) origin.values.set(`k${i}`, `v${i}`);
  const nodes: NodeProcess[] = [];
  let gateway: (Process & { addr: string }) | undefined;
  const dispose = async () => {
    await gateway?.[Symbol.asyncDispose]();
    await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
    await origin[Symbol.asyncDispose]();
  };
  try {
    const args = ["--etcd", etcd, "--origin", `v=${origin.url}`, "--lease-ttl", `${LEASE_TTL}`];
    nodes.push(...await Promise.all([0, 1, 2].map(() => startNodeProcess(args))));
    gateway = await startGatewayProcess(["--etcd", etcd, "--log-level", "debug"]);
    const url = `http://${gateway.addr}/metrics`;
    await waitFor(async () => await metric(url, "mccache_gateway_ring_members") === 3, "3 members");
  } catch (error) {
    await dispose();
    throw error;
  }
  return { origin, nodes, gateway: gateway!, [Symbol.asyncDispose]: dispose };
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const families = parsePrometheusTextFormat(await (await fetch(url)).text()) as {
    name: string;
    metrics: { value: string }[];
  }[];
  const value = families.find((f) => f.name === name)?.metrics[0]?.value;
  return value === undefined ? undefined : Number(value);
}

// GETs of the origin's keys and PUTs of keys of its own, from a few workers
// at a steady pace, until stopped; every answer that is not right is kept.
function steadyLoad(gateway: string) {
  const failures: string[] = [];
  let requests = 0;
  let running = true;
  const base = `http://${gateway}/mccache/v`;
  const once = async (worker: number, i: number): Promise<void> => {
    const put = worker % 2 === 1;
    const key = put ? `w${worker}-${i % KEYS}` : `k${i % KEYS}`;
    const want = put ? 204 : 200;
    try {
      const response = await fetch(`${base}/${key}`, put ? { method: "PUT", body: `p${i}` } : {});
      const body = await response.text();
      if (response.status !== want || (!put && body !== `v${i % KEYS}`)) {
        failures.push(`${put ? "PUT" : "GET"} ${key}: ${response.status} ${body.slice(0, 80)}`);
      }
    } catch (error) {
      failures.push(`${put ? "PUT" : "GET"} ${key}: ${error}`);
    }
    requests++;
  };
  const done = Promise.all([0, 1, 2, 3].map(async (worker) => {
    for (let i = 0; running; i++) {
      await once(worker, i);
      // A steady pace, not a flood: the machine is shared.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }));
  return {
    failures,
    get requests() {
      return requests;
    },
    // Resolves once `count` more requests have been answered.
    async more(count: number, what: string): Promise<void> {
      const until = requests + count;
      await waitFor(() => requests >= until, `${count} more requests ${what}`, 30_000);
    },
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}

// The registration keys in etcd, sorted.
async function registered(endpoints: string): Promise<string[]> {
  const client = new Etcd3({ hosts: endpoints.split(",").map((e) => `http://${e}`) });
  try {
    return Object.keys(await client.getAll().prefix("mccache/").strings()).sort();
  } finally {
    client.close();
  }
}

Deno.test({
  name: "etcd killed and back with an empty data dir after 3 s and after 10 s: no request " +
    "fails, nodes stay healthy, and every node is registered again within 2 s",
  ...sanitizers,
  async fn(t) {
    await using etcd = await startEtcd();
    await using c = await startCluster(etcd.endpoint);
    const want = c.nodes.map((n) => `mccache/${n.addr}`).sort();
    const gatewayMetrics = `http://${c.gateway.addr}/metrics`;
    const nodeMetrics = c.nodes.map((n) => `http://${n.httpAddr}/metrics`);
    const load = steadyLoad(c.gateway.addr);
    try {
      await load.more(100, "before the outages");
      for (const outageMs of [3000, 10_000]) {
        await t.step(`down for ${outageMs / 1000} s`, async () => {
          const failedBefore = load.failures.length;
          await etcd.kill();
          await waitFor(
            async () => await metric(gatewayMetrics, "mccache_etcd_connected") === 0,
            "the gateway reports etcd lost",
          );
          for (const url of nodeMetrics) {
            await waitFor(async () => await metric(url, "mccache_etcd_connected") === 0, url);
          }
          const before = load.requests;
          await elapse(outageMs);
          assert.ok(load.requests > before, "requests are answered during the outage");
          for (const node of c.nodes) {
            const health = await fetch(`http://${node.httpAddr}/healthz`);
            assert.equal(health.status, 200, await health.text());
          }
          await etcd.restart({ empty: true });
          const backAt = performance.now();
          const keys = await waitFor(
            async () => {
              const keys = await registered(etcd.endpoint);
              return keys.join() === want.join() && keys;
            },
            `every node registered again within ${REREGISTER_MS} ms`,
            REREGISTER_MS,
          );
          console.log(
            `measured: down ${outageMs / 1000} s, every node registered again ` +
              `${(performance.now() - backAt).toFixed(0)} ms after etcd was back`,
          );
          assert.deepEqual(keys, want);
          await waitFor(
            async () => await metric(gatewayMetrics, "mccache_etcd_connected") === 1,
            "the gateway reports etcd back",
          );
          // Past the gateway's grace period, with nobody dropped.
          await elapse(GATEWAY_GRACE_MS + 1000);
          assert.equal(await metric(gatewayMetrics, "mccache_gateway_ring_members"), 3);
          assert.ok(!c.gateway.lines.some((l) => /Member left/.test(l)), c.gateway.tail());
          await load.more(50, "after the grace period");
          assert.deepEqual(load.failures.slice(failedBefore), []);
        });
      }
    } finally {
      await load.stop();
    }
    console.log(`measured: etcd back empty, ${load.failures.length} of ${load.requests} failed`);
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.requests} failed`);
    assert.ok(c.gateway.lines.some((l) => /Lost the connection to etcd/.test(l)), c.gateway.tail());
    assert.ok(c.gateway.lines.some((l) => /Connected to etcd again/.test(l)), c.gateway.tail());
  },
});

Deno.test({
  name: "The leader of a three-member etcd cluster killed under load: no request fails, " +
    "and every node stays registered",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcdCluster(3);
    await using c = await startCluster(etcd.endpoints);
    const want = c.nodes.map((n) => `mccache/${n.addr}`).sort();
    const load = steadyLoad(c.gateway.addr);
    try {
      await load.more(100, "before the kill");
      const leader = await etcd.leader();
      await leader.kill();
      const survivors = etcd.members.filter((m) => m !== leader).map((m) => m.endpoint).join();
      const newLeader = await waitFor(
        () => etcd.leader().catch(() => undefined),
        "a new leader",
        20_000,
      );
      assert.notEqual(newLeader, leader);
      // Whoever watched through the dead member has moved to another one.
      const urls = [c.gateway.addr, ...c.nodes.map((n) => n.httpAddr)].map((a) =>
        `http://${a}/metrics`
      );
      for (const url of urls) {
        await waitFor(async () => await metric(url, "mccache_etcd_connected") === 1, url);
      }
      // Past a lease TTL, so that a lease lost in the election would show.
      await elapse(LEASE_TTL * 1000 + 1000);
      await load.more(50, "after the election");
      assert.deepEqual(await registered(survivors), want);
      const gatewayMetrics = `http://${c.gateway.addr}/metrics`;
      assert.equal(await metric(gatewayMetrics, "mccache_gateway_ring_members"), 3);
    } finally {
      await load.stop();
    }
    console.log(`measured: leader killed, ${load.failures.length} of ${load.requests} failed`);
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.requests} failed`);
  },
});
