// Cache nodes as real processes on a real etcd: registration, discovery,
// owner routing, failure of nodes and of etcd. grpc-js keeps timers after
// its channels close, so the sanitizers are off for these tests.
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { HashRing } from "../mod.ts";
import { startEtcd } from "../src/_testing/etcd.ts";
import { NodeClient, type NodeProcess, Origin, startNodeProcess, waitFor } from "./_cluster.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
const LEASE_TTL = 2;

async function cluster(count: number) {
  const etcd = await startEtcd();
  const origin = new Origin();
  const nodes: NodeProcess[] = [];
  const clients: NodeClient[] = [];
  const dispose = async () => {
    for (const client of clients) client[Symbol.dispose]();
    await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
    await origin[Symbol.asyncDispose]();
    await etcd.close();
  };
  try {
    const args = [
      "--etcd",
      etcd.endpoint,
      "--origin",
      `v=${origin.url}`,
      "--lease-ttl",
      `${LEASE_TTL}`,
    ];
    for (let i = 0; i < count; i++) nodes.push(await startNodeProcess(args));
    for (const node of nodes) clients.push(new NodeClient(node.addr));
    await waitForMembers(clients, nodes.map((n) => n.addr), 10_000);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { etcd, origin, nodes, clients, [Symbol.asyncDispose]: dispose };
}

async function waitForMembers(clients: NodeClient[], members: string[], timeout: number) {
  const want = [...members].sort().join();
  await waitFor(
    async () => {
      const seen = await Promise.all(clients.map((c) => c.stats()));
      return seen.every((s) => s.members.join() === want);
    },
    `every node sees ${want}`,
    timeout,
  );
}

function ownerOf(addrs: string[], key: string): string {
  const ring = new HashRing();
  ring.add(...addrs);
  return ring.get(key)!;
}

Deno.test({
  name: "3 nodes through etcd: a key is loaded once, by its owner, whichever node is asked",
  ...sanitizers,
  async fn() {
    await using c = await cluster(3);
    const addrs = c.nodes.map((n) => n.addr);
    for (let i = 0; i < 30; i++) c.origin.values.set(`key-${i}`, `value-${i}`);
    c.origin.values.set("hot", "hot value");
    c.origin.delayMs = 200; // let the 300 requests pile up on the owner

    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => c.clients[i % 3].get("v", "hot")),
    );
    assert.ok(answers.every((a) => a === "hot value"));
    assert.equal(c.origin.loadsOf("hot"), 1);
    assert.equal(c.origin.loads[0].node, ownerOf(addrs, "hot"));

    c.origin.delayMs = 0;
    for (let i = 0; i < 30; i++) {
      assert.equal(await c.clients[i % 3].get("v", `key-${i}`), `value-${i}`);
      assert.equal(await c.clients[(i + 1) % 3].get("v", `key-${i}`), `value-${i}`);
    }
    for (const load of c.origin.loads) assert.equal(load.node, ownerOf(addrs, load.key), load.key);
    assert.equal(c.origin.loads.length, 31);
  },
});

Deno.test({
  name: "A node stopped with SIGTERM leaves every ring within 1 s and gets keep succeeding",
  ...sanitizers,
  async fn() {
    await using c = await cluster(3);
    for (let i = 0; i < 50; i++) c.origin.values.set(`k${i}`, `v${i}`);
    const [leaving, ...staying] = c.nodes;
    const stayingClients = c.clients.slice(1);
    const sent = Date.now();
    const status = leaving.signal("SIGTERM");
    await waitForMembers(stayingClients, staying.map((n) => n.addr), 1000);
    const left = Date.now() - sent;
    assert.equal((await status).code, 0, leaving.tail());
    for (let i = 0; i < 50; i++) {
      assert.equal(await stayingClients[i % 2].get("v", `k${i}`), `v${i}`);
    }
    assert.ok(leaving.lines.some((l) => /node stopped/.test(l)), leaving.tail());
    console.log(`SIGTERM: left the rings after ${left} ms`);
  },
});

Deno.test({
  name:
    "A node killed with SIGKILL leaves every ring within the lease TTL + 1 s; gets keep succeeding",
  ...sanitizers,
  async fn() {
    await using c = await cluster(3);
    for (let i = 0; i < 50; i++) c.origin.values.set(`k${i}`, `v${i}`);
    const [killed, ...staying] = c.nodes;
    const stayingClients = c.clients.slice(1);
    const sent = Date.now();
    await killed.signal("SIGKILL");
    // While the dead node is still in the rings, its keys load on the asking node.
    for (let i = 0; i < 50; i++) {
      assert.equal(await stayingClients[i % 2].get("v", `k${i}`), `v${i}`);
    }
    await waitForMembers(
      stayingClients,
      staying.map((n) => n.addr),
      LEASE_TTL * 1000 + 1000 - (Date.now() - sent),
    );
    console.log(`SIGKILL: left the rings after ${Date.now() - sent} ms (lease TTL ${LEASE_TTL} s)`);
    for (let i = 0; i < 50; i++) {
      assert.equal(await stayingClients[i % 2].get("v", `k${i}`), `v${i}`);
    }
  },
});

Deno.test({
  name:
    "With etcd down until every node lost its registration, gets keep succeeding, and every node re-registers within 5 s of its return",
  ...sanitizers,
  async fn() {
    await using c = await cluster(3);
    for (let i = 0; i < 20; i++) c.origin.values.set(`k${i}`, `v${i}`);
    let failures = 0;
    let gets = 0;
    let running = true;
    const load = (async () => {
      for (let i = 0; running; i++) {
        const value = await c.clients[i % 3].get("v", `k${i % 20}`).catch(() => undefined);
        gets++;
        if (value !== `v${i % 20}`) failures++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await c.etcd.kill();
    // The outage lasts until it matters: every node's lease was given up.
    await Promise.all(c.nodes.map((node) => node.waitForLine(/Lost the etcd registration/)));
    await c.etcd.restart();
    const back = Date.now();
    const client = new Etcd3({ hosts: `http://${c.etcd.endpoint}` });
    try {
      const want = c.nodes.map((n) => `mccache/${n.addr}`).sort().join();
      await waitFor(
        async () => {
          const keys = Object.keys(await client.getAll().prefix("mccache/").strings());
          return keys.sort().join() === want;
        },
        "every node registered again",
        5000,
      );
      console.log(`etcd outage: all nodes registered ${Date.now() - back} ms after etcd returned`);
      // Leases granted after the return must outlive the old ones' TTL.
      await new Promise((resolve) => setTimeout(resolve, LEASE_TTL * 1000 + 500));
      const keys = Object.keys(await client.getAll().prefix("mccache/").strings());
      assert.equal(keys.sort().join(), want);
    } finally {
      client.close();
      running = false;
      await load;
    }
    assert.equal(failures, 0, `${failures} of ${gets} gets failed`);
    assert.ok(gets > 100);
  },
});

Deno.test({
  name: "remove then get returns the origin's new value on every node",
  ...sanitizers,
  async fn() {
    await using c = await cluster(3);
    c.origin.values.set("k", "old");
    for (const client of c.clients) assert.equal(await client.get("v", "k"), "old");
    c.origin.values.set("k", "new");
    await c.clients[1].remove("v", "k");
    for (const client of c.clients) assert.equal(await client.get("v", "k"), "new");
  },
});

Deno.test({
  name: "Bad input over gRPC gets the right status, and the node keeps serving",
  ...sanitizers,
  async fn(t) {
    await using c = await cluster(1);
    c.origin.values.set("ok", "fine");
    const client = c.clients[0];
    const cases: [string, object, number][] = [
      ["empty key", { group: "v", key: "" }, 3],
      ["unknown group", { group: "nope", key: "k" }, 3],
      ["oversized key", { group: "v", key: "x".repeat(5000) }, 3],
      ["key the origin lacks", { group: "v", key: "absent" }, 5],
    ];
    for (const [name, request, code] of cases) {
      await t.step(name, async () => {
        await assert.rejects(client.call("Get", request), { code });
        assert.equal(await client.get("v", "ok"), "fine");
      });
    }
  },
});
