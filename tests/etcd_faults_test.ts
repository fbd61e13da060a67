// etcd faults under load, with real processes: etcd killed and back with an
// empty data dir, etcd frozen, and the leader of a three-member etcd cluster
// killed. No request through the gateway may fail, and the members must be
// registered again soon after etcd is back. grpc-js keeps timers after its
// channels close, so the sanitizers are off.
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { Etcd3 } from "etcd3";
import { type EtcdProcess, startEtcd, startEtcdCluster } from "../src/_testing/etcd.ts";
import {
  type NodeProcess,
  Origin,
  type Process,
  startGatewayProcess,
  startNodeProcess,
  waitFor,
} from "./_cluster.ts";
import { failures, type LoadReport, OpenLoop, summary } from "./_load.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
// Under 2 TTLs, a 3 s outage leaves the nodes' leases alive on their side
// (etcd back empty refuses their keepalives); a 10 s outage outlasts them.
const LEASE_TTL = 3;
const READ_KEYS = Array.from({ length: 30 }, (_, i) => `k${i}`);
const WRITE_KEYS = Array.from({ length: 10 }, (_, i) => `w${i}`);
// Requests per second, GETs and PUTs: steady, and modest on a shared machine.
const RATE = 150;

function originValue(key: string): string {
  return `value of ${key}`;
}
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
  for (const key of [...READ_KEYS, ...WRITE_KEYS]) origin.values.set(key, originValue(key));
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
  const load = new OpenLoop({
    base: `http://${gateway!.addr}/mccache/v`,
    rate: RATE,
    readKeys: READ_KEYS,
    writeKeys: WRITE_KEYS,
    originValue,
  });
  return { origin, nodes, gateway: gateway!, load, [Symbol.asyncDispose]: dispose };
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const families = parsePrometheusTextFormat(await (await fetch(url)).text()) as {
    name: string;
    metrics: { value: string }[];
  }[];
  const value = families.find((f) => f.name === name)?.metrics[0]?.value;
  return value === undefined ? undefined : Number(value);
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

type Cluster = Awaited<ReturnType<typeof startCluster>>;

/** An etcd fault: killed and restarted empty, or frozen and let run again, after `ms`. */
interface EtcdFault {
  name: string;
  ms: number;
  freeze: boolean;
}

const FAULTS: EtcdFault[] = [
  { name: "killed, back empty after 3 s", ms: 3000, freeze: false },
  { name: "killed, back empty after 10 s", ms: 10_000, freeze: false },
  // When it runs again it expires every lease it could not renew at once.
  { name: "frozen (SIGSTOP) for 10 s", ms: 10_000, freeze: true },
];

// Runs `fault` on the cluster's etcd and checks what every process reports
// through it; returns how long after etcd was back every node was registered.
async function outage(c: Cluster, etcd: EtcdProcess, fault: EtcdFault): Promise<number> {
  const want = c.nodes.map((n) => `mccache/${n.addr}`).sort();
  const urls = [c.gateway.addr, ...c.nodes.map((n) => n.httpAddr)].map((a) =>
    `http://${a}/metrics`
  );
  const connected = async (value: number) => {
    for (const url of urls) {
      await waitFor(async () => await metric(url, "mccache_etcd_connected") === value, url);
    }
  };
  if (fault.freeze) etcd.pause();
  else await etcd.kill();
  await connected(0);
  await elapse(fault.ms);
  for (const node of c.nodes) {
    const health = await fetch(`http://${node.httpAddr}/healthz`);
    assert.equal(health.status, 200, await health.text());
  }
  if (fault.freeze) etcd.resume();
  else await etcd.restart({ empty: true });
  const backAt = performance.now();
  await waitFor(
    async () => (await registered(etcd.endpoint)).join() === want.join(),
    `every node registered again within ${REREGISTER_MS} ms`,
    REREGISTER_MS,
  );
  const ms = performance.now() - backAt;
  await connected(1);
  // Past the gateway's grace period: nobody dropped, everybody registered.
  await elapse(GATEWAY_GRACE_MS + 1000);
  assert.deepEqual(await registered(etcd.endpoint), want);
  assert.equal(await metric(urls[0], "mccache_gateway_ring_members"), 3);
  assert.ok(!c.gateway.lines.some((l) => /Member left/.test(l)), c.gateway.tail());
  return ms;
}

Deno.test({
  name: "etcd killed and back with an empty data dir after 3 s and after 10 s, or frozen for " +
    "10 s: no request fails, nodes stay healthy, and every node is registered again within 2 s",
  ...sanitizers,
  async fn(t) {
    await using etcd = await startEtcd();
    await using c = await startCluster(etcd.endpoint);
    c.load.start();
    try {
      for (const fault of FAULTS) {
        await t.step(fault.name, async () => {
          const ms = await outage(c, etcd, fault);
          const report = await c.load.phase();
          console.log(
            `measured: etcd ${fault.name}: every node registered ${ms.toFixed(0)} ms after ` +
              `etcd was back; ${summary(report)}`,
          );
          assert.equal(failures(report), 0, summary(report));
          assert.deepEqual(report.wrong, []);
          assert.ok(report.ok > 0, summary(report));
        });
      }
    } finally {
      await c.load.stop();
    }
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
    let report: LoadReport | undefined;
    c.load.start();
    try {
      await elapse(1000);
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
      assert.deepEqual(await registered(survivors), want);
      const gatewayMetrics = `http://${c.gateway.addr}/metrics`;
      assert.equal(await metric(gatewayMetrics, "mccache_gateway_ring_members"), 3);
    } finally {
      await c.load.phase().then((r) => report = r);
      await c.load.stop();
    }
    console.log(`measured: leader killed; ${summary(report!)}`);
    assert.equal(failures(report!), 0, summary(report!));
    assert.deepEqual(report!.wrong, []);
  },
});
