// mccache with the Go original, as real processes on a real etcd: our
// gateway in front of nodes of the Go original (the test double in
// tests/go_original_node.ts), and mixed clusters reached through our gateway
// and through our node's routing. grpc-js keeps timers after its channels
// close, so the sanitizers are off.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { HashRing } from "../mod.ts";
import { startEtcd } from "../src/_testing/etcd.ts";
import { listenOnLoopback } from "../src/grpc/_testing.ts";
import {
  NodeClient,
  Origin,
  startGatewayProcess,
  startGoOriginalNode,
  startNodeProcess,
  waitFor,
} from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
const RING_WARNING = /--ring seed on every mccache node and gateway/;

function seedOwnerOf(addrs: string[], key: string): string {
  const ring = new HashRing({ compat: "seed" });
  ring.add(...addrs);
  return ring.get(key)!;
}

async function fetchText(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

async function metric(gateway: { addr: string }, pattern: RegExp): Promise<boolean> {
  return pattern.test(await (await fetch(`http://${gateway.addr}/metrics`)).text());
}

function errorOf(body: string): string {
  const { error } = JSON.parse(body);
  assert.doesNotMatch(error, /\n/);
  return error;
}

Deno.test({
  name: "Our gateway serves a cluster of the Go original: every key right in both URL forms, " +
    "each loaded once by its owner, writes refused with 501",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    await using origin = new Origin();
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    for (const key of keys) origin.values.set(key, `value of ${key}`);
    const go = { etcd: etcd.endpoint };
    await using a = await startGoOriginalNode(origin.url, go);
    await using b = await startGoOriginalNode(origin.url, go);
    await using c = await startGoOriginalNode(origin.url, go);
    const addrs = [a.addr, b.addr, c.addr];
    const args = ["--etcd", etcd.endpoint, "--ring", "seed", "--debug-headers"];
    await using gateway = await startGatewayProcess(args);
    await waitFor(
      () => metric(gateway, /mccache_gateway_members\{protocol="geecachepb"\} 3\b/),
      "the gateway knows 3 members of the Go original",
    );
    assert.equal((await fetchText(`http://${gateway.addr}/healthz`)).status, 200);

    const base = `http://${gateway.addr}/mccache`;
    // Both forms of each key at once: the gateway and the node load it once.
    await Promise.all(keys.map(async (key) => {
      for (const url of [`${base}/scores/${key}`, `${base}?group=scores&key=${key}`]) {
        const { status, headers, body } = await fetchText(url);
        assert.equal(status, 200, `${url}: ${body}`);
        assert.equal(body, `value of ${key}`);
        assert.equal(headers.get("x-mccache-node"), seedOwnerOf(addrs, key), key);
      }
    }));
    for (const key of keys) assert.equal(origin.loadsOf(key), 1, key);
    for (const load of origin.loads) assert.equal(load.node, seedOwnerOf(addrs, load.key));

    // The Go original fails with plain errors: 502, naming the member that answered.
    const missing = await fetchText(`${base}/scores/nobody`);
    assert.equal(missing.status, 502);
    assert.match(errorOf(missing.body), new RegExp(`^${seedOwnerOf(addrs, "nobody")}: `));
    for (const method of ["PUT", "DELETE"]) {
      const write = await fetchText(`${base}/scores/key-1`, { method, body: "x" });
      assert.equal(write.status, 501, write.body);
      const owner = seedOwnerOf(addrs, "key-1");
      assert.match(errorOf(write.body), new RegExp(`^${owner} runs the Go original`));
    }
    assert.equal((await fetchText(`${base}/scores/key-1`)).body, "value of key-1");
    assert.ok(!gateway.lines.some((line) => RING_WARNING.test(line)), gateway.tail());
  },
});

Deno.test({
  name: "A mixed cluster (2 of the Go original, 1 mccache node, --ring seed) serves every key " +
    "once, through our gateway and through our node; writes work for our node's keys only",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    await using origin = new Origin();
    const gatewayKeys = Array.from({ length: 40 }, (_, i) => `gw-${i}`);
    const nodeKeys = Array.from({ length: 40 }, (_, i) => `node-${i}`);
    for (const key of [...gatewayKeys, ...nodeKeys]) origin.values.set(key, `value of ${key}`);
    const go = { etcd: etcd.endpoint };
    await using a = await startGoOriginalNode(origin.url, go);
    await using b = await startGoOriginalNode(origin.url, go);
    const seed = ["--etcd", etcd.endpoint, "--ring", "seed"];
    await using ours = await startNodeProcess([...seed, "--origin", `scores=${origin.url}`]);
    const addrs = [a.addr, b.addr, ours.addr];
    using client = new NodeClient(ours.addr);
    await waitFor(
      async () => (await client.stats()).members.length === 3,
      "our node knows all 3 members",
    );
    await using gateway = await startGatewayProcess([...seed, "--debug-headers"]);
    await waitFor(
      () => metric(gateway, /mccache_gateway_members\{protocol="geecachepb"\} 2\b/),
      "the gateway knows the 2 members of the Go original",
    );
    await waitFor(
      () => metric(gateway, /mccache_gateway_members\{protocol="mccache.v1"\} 1\b/),
      "the gateway knows our node",
    );
    const ownedBy = (member: string) => (key: string) => seedOwnerOf(addrs, key) === member;
    assert.ok(gatewayKeys.some(ownedBy(ours.addr)) && nodeKeys.some(ownedBy(a.addr)));

    const base = `http://${gateway.addr}/mccache/scores`;
    await Promise.all(gatewayKeys.map(async (key) => {
      const { status, headers, body } = await fetchText(`${base}/${key}`);
      assert.equal(status, 200, `${key}: ${body}`);
      assert.equal(body, `value of ${key}`);
      assert.equal(headers.get("x-mccache-node"), seedOwnerOf(addrs, key), key);
    }));
    // Our node forwards the keys it does not own to their owners, in the
    // Go original's Get when they run it.
    for (const key of nodeKeys) assert.equal(await client.get("scores", key), `value of ${key}`);
    for (const key of [...gatewayKeys, ...nodeKeys]) assert.equal(origin.loadsOf(key), 1, key);
    for (const load of origin.loads) assert.equal(load.node, seedOwnerOf(addrs, load.key));
    const [stats] = (await client.stats()).groups;
    assert.equal(stats.peer_errors, 0, "no call to a member of the Go original failed");
    assert.ok(stats.peer_loads > 0);

    // Writes: stored at our node for its keys, refused for the others'.
    const mine = gatewayKeys.find(ownedBy(ours.addr))!;
    const theirs = gatewayKeys.find(ownedBy(b.addr))!;
    assert.equal((await fetchText(`${base}/${mine}`, { method: "PUT", body: "new" })).status, 204);
    assert.equal((await fetchText(`${base}/${mine}`)).body, "new");
    assert.equal((await fetchText(`${base}/${mine}`, { method: "DELETE" })).status, 204);
    assert.equal((await fetchText(`${base}/${mine}`)).body, `value of ${mine}`);
    const refused = await fetchText(`${base}/${theirs}`, { method: "PUT", body: "new" });
    assert.equal(refused.status, 501);
    assert.match(errorOf(refused.body), new RegExp(`^${b.addr} runs the Go original`));
    // Through our node too, the way a write reaches it when the gateway's
    // ring lags: it refuses, naming the member.
    await assert.rejects(
      client.call("Set", { group: "scores", key: theirs, value: new Uint8Array(1) }),
      (error: Error & { code: number }) =>
        error.code === grpc.status.UNIMPLEMENTED && error.message.startsWith(b.addr),
    );
    assert.equal((await fetchText(`${base}/${theirs}`)).body, `value of ${theirs}`);
  },
});

Deno.test({
  name: "Without --ring seed, a gateway and a node warn once that members of the Go original " +
    "need it",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    await using origin = new Origin();
    await using _go = await startGoOriginalNode(origin.url, { etcd: etcd.endpoint });
    await using gateway = await startGatewayProcess(["--etcd", etcd.endpoint]);
    await gateway.waitForLine(RING_WARNING);
    const args = ["--etcd", etcd.endpoint, "--origin", `scores=${origin.url}`];
    await using node = await startNodeProcess(args);
    await node.waitForLine(RING_WARNING);
  },
});

Deno.test({
  name: "The gateway's /healthz is 503 while every member refuses to serve, 200 once one serves",
  ...sanitizers,
  async fn() {
    // A gRPC server with no services refuses every call; a port nothing
    // listens on refuses connections.
    const refusing = new grpc.Server();
    const refusingAddr = await listenOnLoopback(refusing);
    const dead = `127.0.0.1:${freePort()}`;
    await using origin = new Origin();
    origin.values.set("Rex", "156");
    try {
      await using gateway = await startGatewayProcess(["--peers", `${refusingAddr},${dead}`]);
      await waitFor(
        () => metric(gateway, /mccache_gateway_members\{protocol="none"\} 1\b/),
        "the gateway found that the refusing member serves nothing",
      );
      const health = await fetchText(`http://${gateway.addr}/healthz`);
      assert.equal(health.status, 503);
      assert.match(errorOf(health.body), /No cache node can serve/);
      const get = await fetchText(`http://${gateway.addr}/mccache/scores/Rex`);
      assert.equal(get.status, 503, get.body);

      await using go = await startGoOriginalNode(origin.url);
      await using healthy = await startGatewayProcess(["--peers", `${refusingAddr},${go.addr}`]);
      await waitFor(
        async () => (await fetchText(`http://${healthy.addr}/healthz`)).status === 200,
        "a gateway with one member of the Go original is healthy",
      );
      assert.equal((await fetchText(`http://${healthy.addr}/mccache/scores/Rex`)).body, "156");
    } finally {
      refusing.forceShutdown();
    }
  },
});
