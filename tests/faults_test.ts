// Faults under open-loop load through a real gateway and real nodes: a node
// frozen with SIGSTOP (hedged gets, suspect members), and a node killed with
// SIGKILL under reads and writes (writes fail over to the next member, with
// hints replayed when it is back). grpc-js keeps timers after its channels
// close, so the sanitizers are off.
import assert from "node:assert/strict";
import { startEtcd } from "../src/_testing/etcd.ts";
import {
  type NodeProcess,
  Origin,
  startGatewayProcess,
  startNodeProcess,
  waitFor,
} from "./_cluster.ts";
import { failures, OpenLoop, quantile, summary } from "./_load.ts";
import { metricTotal, scrapeMetrics } from "./_metrics.ts";
import { freePort } from "../src/_testing/ports.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
const TIMEOUT_MS = 2000;
const FREEZE_MS = 10_000;
const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);

function originValue(key: string): string {
  return `value of ${key}`;
}

interface Cluster extends AsyncDisposable {
  /** The arguments every node was started with. */
  args: string[];
  origin: Origin;
  nodes: NodeProcess[];
  gateway: { addr: string };
  base: string;
}

// Three nodes and a gateway, through etcd or with static `--peers`.
async function cluster(membership: "etcd" | "peers"): Promise<Cluster> {
  const etcd = membership === "etcd" ? await startEtcd() : undefined;
  const origin = new Origin();
  for (const key of KEYS) origin.values.set(key, originValue(key));
  const addrs = [0, 1, 2].map(() => `127.0.0.1:${freePort()}`);
  const members = etcd ? ["--etcd", etcd.endpoint] : ["--peers", addrs.join(",")];
  const nodes: NodeProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  const dispose = async () => {
    for (const close of closers.reverse()) await close();
  };
  closers.push(async () => {
    await origin[Symbol.asyncDispose]();
    await etcd?.close();
  });
  try {
    const args = [...members, "--origin", `v=${origin.url}`];
    for (const addr of addrs) {
      const node = await startNodeProcess(args, addr);
      nodes.push(node);
      closers.push(() => node[Symbol.asyncDispose]());
    }
    const gateway = await startGatewayProcess([
      ...members,
      "--timeout",
      `${TIMEOUT_MS}ms`,
      "--debug-headers",
    ]);
    closers.push(() => gateway[Symbol.asyncDispose]());
    const base = `http://${gateway.addr}/mccache/v`;
    // Every node answers its own keys before the fault.
    await waitFor(
      async () => {
        const seen = new Set(await Promise.all(KEYS.map((key) => nodeOf(base, key))));
        return addrs.every((addr) => seen.has(addr)) && seen.size === 3;
      },
      "all three nodes answer through the gateway",
    );
    return { args, origin, nodes, gateway, base, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function nodeOf(base: string, key: string): Promise<string> {
  const response = await fetch(`${base}/${key}`);
  await response.body?.cancel();
  return response.headers.get("x-mccache-node") ?? "";
}

async function keysOf(c: Cluster, node: string): Promise<string[]> {
  const owners = await Promise.all(KEYS.map((key) => nodeOf(c.base, key)));
  return KEYS.filter((_, i) => owners[i] === node);
}

// Sends 150 req/s to the frozen node's keys while it is stopped for 10 s.
async function freeze(c: Cluster): Promise<void> {
  const victim = c.nodes[1];
  const keys = await keysOf(c, victim.addr);
  assert.ok(keys.length > 0, "the victim owns some keys");
  const load = new OpenLoop({ base: c.base, rate: 150, readKeys: keys, originValue });
  load.start();
  victim.send("SIGSTOP");
  await new Promise((resolve) => setTimeout(resolve, FREEZE_MS)); // the fault lasts this long
  victim.send("SIGCONT");
  const report = await load.stop();
  console.log(`frozen ${victim.addr}: ${summary(report)}`);
  assert.ok(report.sent >= 1000, summary(report));
  assert.deepEqual(report.wrong, []);
  assert.ok(failures(report) <= report.sent / 100, `at most 1% failed: ${summary(report)}`);
  assert.ok(quantile(report, 0.99) < TIMEOUT_MS, `p99 under --timeout: ${summary(report)}`);
  // Once it runs again, its keys go back to it.
  await waitFor(
    async () => (await nodeOf(c.base, keys[0])) === victim.addr,
    "the thawed node serves its keys again",
  );
}

Deno.test({
  name:
    "A node frozen for 10 s under load costs latency, not errors: gets are hedged to the next member",
  ...sanitizers,
  async fn(t) {
    await t.step("through etcd", async () => {
      await using c = await cluster("etcd");
      await freeze(c);
    });
    await t.step("with static --peers", async () => {
      await using c = await cluster("peers");
      await freeze(c);
    });
  },
});

Deno.test({
  name:
    "A node killed under reads and writes: nothing fails 1 s after the kill, no value goes back",
  ...sanitizers,
  async fn() {
    await using c = await cluster("etcd");
    const victim = c.nodes[2];
    const writeKeys = KEYS.slice(0, 60);
    const load = new OpenLoop({
      base: c.base,
      rate: 200,
      readKeys: KEYS.slice(60),
      writeKeys,
      originValue,
    });
    load.start();
    await load.answered(200); // load before the fault
    const before = await load.phase();
    await victim.signal("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the grace the issue allows
    const killed = await load.phase();
    // Past the lease (5 s): the ring changes under the load too.
    await waitFor(
      async () =>
        metricTotal(await scrapeMetrics(c.gateway.addr), "mccache_gateway_ring_members") === 2,
      "the gateway's ring without the killed node",
    );
    await load.answered(600);
    const after = await load.phase();
    // Back on the same address with an empty cache: the writes it missed are
    // replayed before its keys are read from it again.
    const back = await startNodeProcess(c.args, victim.addr);
    await waitFor(
      async () => (await keysOf(c, back.addr)).length > 0,
      "the restarted node serves its keys again",
    );
    await load.answered(400); // load on the restarted node
    const restarted = await load.stop();
    await back[Symbol.asyncDispose]();
    for (const [phase, report] of Object.entries({ before, killed, after, restarted })) {
      console.log(`${phase}: ${summary(report)}`);
    }
    assert.equal(failures(before), 0, summary(before));
    assert.deepEqual([...killed.wrong, ...after.wrong, ...restarted.wrong], []);
    assert.equal(failures(after), 0, `nothing failed from 1 s after the kill: ${summary(after)}`);
    assert.equal(failures(restarted), 0, `nothing failed once it was back: ${summary(restarted)}`);
    assert.ok(after.sent >= 1000, summary(after));
  },
});

Deno.test({
  name: "deno task soak kills and restarts nodes under load and reports no wrong value",
  ...sanitizers,
  async fn() {
    const { code, stdout, stderr } = await new Deno.Command("deno", {
      args: ["task", "-q", "soak", "--minutes", "0.25", "--every", "5s", "--rate", "200"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, `${out}\n${new TextDecoder().decode(stderr)}`);
    assert.match(out, /^start: gateway \d+ MiB \d+ fds/m);
    assert.match(out, /^\d+ s, killed 127\.0\.0\.1:\d+: /m);
    assert.match(out, /^end: gateway \d+ MiB \d+ fds/m);
    assert.match(out, /^wrong values: 0, errors: \d+, /m);
  },
});
