// The gateway as a real process in front of real nodes: routing by owner,
// fail-over when a node is killed, and the status of every bad request.
// grpc-js keeps timers after its channels close, so sanitizers are off.
import assert from "node:assert/strict";
import { HashRing, MAX_KEY_BYTES } from "../mod.ts";
import { startEtcd } from "../src/_testing/etcd.ts";
import {
  type NodeProcess,
  Origin,
  startGatewayProcess,
  startNodeProcess,
  waitFor,
} from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

function ownerOf(addrs: string[], key: string): string {
  const ring = new HashRing();
  ring.add(...addrs);
  return ring.get(key)!;
}

async function fetchText(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

Deno.test({
  name: "Through etcd, every key reaches its owner and the original query form works",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    await using origin = new Origin();
    for (let i = 0; i < 60; i++) origin.values.set(`key-${i}`, `value-${i}`);
    const args = ["--etcd", etcd.endpoint, "--origin", `v=${origin.url}`];
    await using n1 = await startNodeProcess(args);
    await using n2 = await startNodeProcess(args);
    await using n3 = await startNodeProcess(args);
    const addrs = [n1.addr, n2.addr, n3.addr];
    await using gateway = await startGatewayProcess(["--etcd", etcd.endpoint, "--debug-headers"]);
    const base = `http://${gateway.addr}/mccache`;
    await waitFor(
      async () => (await fetchText(`${base}/v/key-0`)).status === 200,
      "gateway serves",
    );
    // Wait until the gateway routes over all three nodes.
    await waitFor(async () => {
      const metrics = await (await fetch(`http://${gateway.addr}/metrics`)).text();
      return /mccache_gateway_ring_members 3\b/.test(metrics);
    }, "the gateway knows 3 nodes");
    // A node that just joined is used once its connection is READY.
    await waitFor(async () => {
      for (let i = 0; i < 60; i++) {
        const { headers } = await fetchText(`${base}/v/key-${i}`);
        if (headers.get("x-mccache-node") !== ownerOf(addrs, `key-${i}`)) return false;
      }
      return true;
    }, "every key is served by its owner");
    for (let i = 0; i < 60; i++) {
      const { status, headers, body } = await fetchText(`${base}/v/key-${i}`);
      assert.equal(status, 200);
      assert.equal(body, `value-${i}`);
      assert.equal(headers.get("x-mccache-node"), ownerOf(addrs, `key-${i}`), `key-${i}`);
      assert.equal(headers.get("content-type"), "application/octet-stream");
    }
    const seed = await fetchText(`${base}?group=v&key=key-7`);
    assert.equal(seed.body, "value-7");
    assert.equal(seed.headers.get("x-mccache-node"), ownerOf(addrs, "key-7"));
    // Loaded once each, by their owners.
    for (const load of origin.loads) assert.equal(load.node, ownerOf(addrs, load.key));
  },
});

Deno.test({
  name: "Killing a node under a steady stream of GETs causes no 5xx; its keys move and come back",
  ...sanitizers,
  async fn() {
    await using etcd = await startEtcd();
    await using origin = new Origin();
    for (let i = 0; i < 30; i++) origin.values.set(`k${i}`, `v${i}`);
    const args = ["--etcd", etcd.endpoint, "--origin", `v=${origin.url}`, "--lease-ttl", "3"];
    const nodes: NodeProcess[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await startNodeProcess(args));
    const addrs = nodes.map((n) => n.addr);
    await using gateway = await startGatewayProcess(["--etcd", etcd.endpoint, "--debug-headers"]);
    const base = `http://${gateway.addr}/mccache/v`;
    try {
      await waitFor(async () => {
        const metrics = await (await fetch(`http://${gateway.addr}/metrics`)).text();
        return /mccache_gateway_ring_members 3\b/.test(metrics);
      }, "the gateway knows 3 nodes");
      const victim = nodes[0];
      const victimKeys = [...origin.values.keys()].filter((k) => ownerOf(addrs, k) === victim.addr);
      assert.ok(victimKeys.length > 0);

      const statuses = new Map<number, number>();
      const servedBy = new Map<string, string>();
      let running = true;
      const load = Promise.all([0, 1, 2, 3].map(async (worker) => {
        for (let i = worker; running; i += 4) {
          const key = `k${i % 30}`;
          const response = await fetch(`${base}/${key}`);
          await response.body?.cancel();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (response.status === 200) servedBy.set(key, response.headers.get("x-mccache-node")!);
        }
      }));
      await waitFor(() => (statuses.get(200) ?? 0) > 100, "load is running");
      await victim.signal("SIGKILL");
      // Its keys are served by the next member, before and after its lease expires.
      await waitFor(
        () => victimKeys.every((k) => servedBy.get(k) !== victim.addr),
        "the victim's keys are served elsewhere",
      );
      await waitFor(async () => {
        const metrics = await (await fetch(`http://${gateway.addr}/metrics`)).text();
        return /mccache_gateway_ring_members 2\b/.test(metrics);
      }, "the lease of the killed node expired");
      // It comes back on the same address: its keys go back to it.
      nodes[0] = await startNodeProcess(args, victim.addr);
      await waitFor(
        () => victimKeys.every((k) => servedBy.get(k) === victim.addr),
        "the victim's keys are back on it",
      );
      running = false;
      await load;
      const errors = [...statuses].filter(([status]) => status >= 500);
      assert.deepEqual(errors, [], `statuses: ${JSON.stringify([...statuses])}`);
    } finally {
      await Promise.all(nodes.map((n) => n[Symbol.asyncDispose]()));
    }
  },
});

Deno.test({
  name: "Every bad request gets its status and a one-line JSON error",
  ...sanitizers,
  async fn(t) {
    await using origin = new Origin();
    origin.values.set("Rex", "156");
    origin.values.set("日本", "nihon");
    origin.values.set("a/b c", "slashed");
    origin.values.set("..", "dots");
    origin.values.set("slow", "eventually");
    const addr = `127.0.0.1:${freePort()}`;
    const origins = ["--origin", `v=${origin.queryUrl}`, "--origin", `p=${origin.url}`];
    await using node = await startNodeProcess(["--peers", addr, ...origins], addr);
    await using gateway = await startGatewayProcess(["--peers", node.addr, "--timeout", "500ms"]);
    const dead = `127.0.0.1:${freePort()}`;
    await using orphan = await startGatewayProcess(["--peers", dead]);
    const base = `http://${gateway.addr}`;
    const long = "x".repeat(MAX_KEY_BYTES + 1);
    const cases: [string, string, RequestInit | undefined, number, string | RegExp][] = [
      ["a plain key", "/mccache/v/Rex", undefined, 200, "156"],
      ["a unicode key, percent-encoded", "/mccache/v/%E6%97%A5%E6%9C%AC", undefined, 200, "nihon"],
      ["a key with / and space", "/mccache/v/a%2Fb%20c", undefined, 200, "slashed"],
      ["the query form", "/mccache?group=v&key=Rex", undefined, 200, "156"],
      [".. through the query form", "/mccache?group=v&key=..", undefined, 200, "dots"],
      [".. cannot go in an origin's path", "/mccache?group=p&key=..", undefined, 502, /query/],
      [".. in the path is normalized away", "/mccache/v/..", undefined, 400, /group/],
      ["encoded .. in the path", "/mccache/v/%2e%2e", undefined, 400, /group/],
      ["a missing key", "/mccache/v/nobody", undefined, 404, /nobody/],
      ["an unknown group", "/mccache/nope/Rex", undefined, 404, /Unknown group/],
      ["an empty key", "/mccache/v/", undefined, 400, /empty/],
      ["an empty key, query form", "/mccache?group=v&key=", undefined, 400, /empty/],
      ["no group, query form", "/mccache?key=Rex", undefined, 400, /Missing group/],
      ["a key over the limit", `/mccache/v/${long}`, undefined, 400, /at most 4096 bytes/],
      ["broken percent-encoding", "/mccache/v/%E6%97", undefined, 400, /percent-encoding/],
      ["a lone surrogate, encoded", "/mccache/v/%ED%A0%80", undefined, 400, /./],
      ["no key at all", "/mccache/v", undefined, 400, /Expected/],
      ["another path", "/elsewhere", undefined, 404, /Not found/],
      ["POST", "/mccache/v/Rex", { method: "POST", body: "x" }, 405, /POST not allowed/],
      ["PATCH", "/mccache/v/Rex", { method: "PATCH", body: "x" }, 405, /not allowed/],
      [
        "a 10 MiB body",
        "/mccache/v/big",
        { method: "PUT", body: new Uint8Array(10 << 20) },
        413,
        /too large/,
      ],
      ["a bad ttl", "/mccache/v/k?ttl=soon", { method: "PUT", body: "x" }, 400, /Invalid ttl/],
      ["a negative ttl", "/mccache/v/k?ttl=-5", { method: "PUT", body: "x" }, 400, /Invalid ttl/],
      ["a PUT", "/mccache/v/new?ttl=60s", { method: "PUT", body: "fresh" }, 204, ""],
      ["the value it stored", "/mccache/v/new", undefined, 200, "fresh"],
      ["a DELETE", "/mccache/v/new", { method: "DELETE" }, 204, ""],
      ["after the DELETE", "/mccache/v/new", undefined, 404, /new/],
    ];
    for (const [name, path, init, status, body] of cases) {
      await t.step(name, async () => {
        const response = await fetchText(`${base}${path}`, init);
        assert.equal(response.status, status, `${path}: ${response.body}`);
        if (typeof body === "string") assert.equal(response.body, body);
        else {
          const { error } = JSON.parse(response.body);
          assert.match(error, body);
          assert.doesNotMatch(error, /\n/);
          assert.equal(response.headers.get("content-type"), "application/json");
        }
      });
    }
    await t.step("504 when the deadline passes", async () => {
      origin.delayMs = 1500;
      const response = await fetchText(`${base}/mccache/v/slow`);
      origin.delayMs = 0;
      assert.equal(response.status, 504, response.body);
      assert.match(JSON.parse(response.body).error, /Deadline of 500 ms passed/);
    });
    await t.step("503 when no node is reachable", async () => {
      const response = await fetchText(`http://${orphan.addr}/mccache/v/Rex`);
      assert.equal(response.status, 503, response.body);
      const health = await fetch(`http://${orphan.addr}/healthz`);
      await health.body?.cancel();
      // It knows a member, but none that can serve.
      assert.equal(health.status, 503);
    });
    await t.step("the gateway keeps serving", async () => {
      assert.equal((await fetchText(`${base}/mccache/v/Rex`)).body, "156");
    });
  },
});
