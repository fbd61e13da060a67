// The gateway's upstream (batched GetStreams over the mccache_ring channel)
// against in-process nodes on real sockets. grpc-js leaves timers and
// sockets behind after close, so the sanitizers are off.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { cluster, fakeMemberSource, listenOnLoopback } from "./_testing.ts";
import type { ItemBatch, ResultBatch } from "./messages.ts";
import { CacheClient } from "./_proto.ts";
import { HashRing } from "../hash_ring.ts";
import { CurrentRing } from "./ring_snapshot.ts";
import { freePort } from "../_testing/ports.ts";
import { waitFor } from "../_testing/wait.ts";
import { NotFoundError } from "../errors.ts";
import { GrpcUpstream } from "./grpc_upstream.ts";
import type { UpstreamValue } from "../gateway/upstream.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "A streamed get that times out at the gateway aborts the node's load, and the key recovers",
  ...sanitizers,
  async fn() {
    let calls = 0;
    const aborted: string[] = [];
    await using nodes = await cluster(1, 0, (key, { signal }) => {
      // The first load hangs until it is aborted; later ones answer.
      if (calls++ > 0) return "fine";
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => {
          aborted.push(key);
          reject(signal.reason);
        })
      );
    });
    const upstream = new GrpcUpstream({ members: [nodes[0].addr] });
    try {
      const gets = Array.from(
        { length: 5 },
        () => upstream.get("g", "k", { deadline: Date.now() + 300 }),
      );
      for (const get of gets) await assert.rejects(get, { name: "TimeoutError" });
      const deadline = Date.now() + 2000;
      while (aborted.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(aborted, ["k"]);
      const { value } = await upstream.get("g", "k", { deadline: Date.now() + 2000 });
      assert.equal(new TextDecoder().decode(value), "fine");
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name:
    "Many large values asked for together all arrive (replies are split under the message limit)",
  ...sanitizers,
  async fn() {
    const big = new Uint8Array(1 << 20).fill(7);
    await using nodes = await cluster(1, 0, () => ({ value: big, ttl: 50 }));
    // 1 MiB values: 70 of them in one reply would pass grpc-js's 64 MiB limit.
    const upstream = new GrpcUpstream({ members: [nodes[0].addr] });
    try {
      const deadline = Date.now() + 20_000;
      const values = await Promise.all(
        Array.from({ length: 70 }, (_, i) => upstream.get("g", `k${i}`, { deadline })),
      );
      assert.ok(values.every((v) => v.value.length === 1 << 20 && v.value[5] === 7));
      // The values' TTL travels with them.
      assert.ok(values.every((v) => v.ttl !== undefined && v.ttl <= 50));
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name:
    "A batch of hits, misses, a not-found key and an unknown group answers each by its id, hits at once",
  ...sanitizers,
  async fn() {
    // The loads wait until the hit has arrived: a hit that waited for the
    // loads of its batch would time out.
    const hitArrived = Promise.withResolvers<void>();
    const loads: string[] = [];
    await using nodes = await cluster(1, 0, async (key) => {
      loads.push(key);
      await hitArrived.promise;
      if (key.startsWith("missing")) throw new NotFoundError(key);
      return `value of ${key}`;
    });
    const group = nodes[0].registry.get("g")!;
    await group.set("hit", "cached", { ttl: 60_000 });
    const upstream = new GrpcUpstream({ members: [nodes[0].addr] });
    try {
      const options = { deadline: Date.now() + 3000 };
      const outcome = (get: Promise<UpstreamValue>) =>
        get.then(
          ({ value, ttl }) => ({ value: new TextDecoder().decode(value), ttl, error: "" }),
          (error: Error) => ({ value: "", ttl: undefined, error: error.name }),
        );
      // One turn: one message to the node.
      const hit = outcome(upstream.get("g", "hit", options));
      const gets = [
        outcome(upstream.get("g", "miss", options)),
        outcome(upstream.get("g", "missing-1", options)),
        outcome(upstream.get("nope", "k", options)),
      ];
      const { value, ttl, error } = await hit;
      hitArrived.resolve();
      assert.equal(error, "");
      assert.equal(value, "cached");
      assert.ok(ttl !== undefined && ttl > 59_000 && ttl <= 60_000);
      const [miss, missing, unknown] = await Promise.all(gets);
      assert.deepEqual(miss, { value: "value of miss", ttl: undefined, error: "" });
      assert.equal(missing.error, "NotFoundError");
      assert.equal(unknown.error, "UnknownGroupError");
      assert.deepEqual(loads.sort(), ["miss", "missing-1"]);
      const stats = group.stats();
      assert.equal(stats.serverRequests, 3);
      assert.equal(stats.gets, 3);
      assert.equal(stats.cacheHits, 1);
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name:
    "A set through the gateway stores at the owner and drops every other copy; so does a remove",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(3);
    const groups = nodes.map((node) => node.registry.get("g")!);
    const upstream = new GrpcUpstream({ members: nodes.map((node) => node.addr) });
    const deadline = Date.now() + 5000;
    const text = (view: { text(): string }) => view.text();
    try {
      const ring = new HashRing();
      ring.add(...nodes.map((node) => node.addr));
      // Twice: on a new stream (which may sit on another node until the
      // owner's connection is up) the node that gets the write does it all;
      // once gets come from the owner, the gateway tells the others itself.
      for (const value of ["new", "newer"]) {
        if (value === "newer") {
          await waitFor(
            async () => (await upstream.get("g", "k", { deadline })).node === ring.get("k"),
            "the stream is on the owner",
          );
        }
        // A copy of an old value on every node (as after fetches from the owner).
        for (const group of groups) await group.set("k", "old", { local: true });
        await upstream.set("g", "k", new TextEncoder().encode(value), 60_000, { deadline });
        for (const group of groups) assert.equal(text(await group.get("k")), value);
      }

      for (const group of groups) await group.set("k", "old", { local: true });
      await upstream.remove("g", "k", { deadline });
      // Gone everywhere: the next get loads it again, at the owner.
      for (const group of groups) assert.equal(text(await group.get("k")), "value of k");
      assert.equal(nodes.reduce((n, node) => n + node.loads.length, 0), 1);
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name: "A write succeeds when a member that should drop its copy is down, and fails fast there",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(2);
    // A member nothing listens on (a port that was free a moment ago).
    const dead = `127.0.0.1:${freePort()}`;
    const members = [...nodes.map((node) => node.addr), dead];
    const failed: string[] = [];
    const upstream = new GrpcUpstream({ members, onDropFailed: (member) => failed.push(member) });
    const ring = new HashRing();
    ring.add(...members);
    const nodesRing = new HashRing();
    nodesRing.add(...nodes.map((node) => node.addr));
    // Owned by the same live node in both rings: its owner does the write
    // alone and the gateway tells the others, the dead one included.
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`)
      .find((k) => ring.get(k) !== dead && ring.get(k) === nodesRing.get(k))!;
    try {
      await waitFor(
        async () =>
          (await upstream.get("g", key, { deadline: Date.now() + 5000 })).node === ring.get(key),
        "the stream is on the owner",
      );
      const started = Date.now();
      const deadline = started + 5000;
      await upstream.set("g", key, new TextEncoder().encode("v"), undefined, { deadline });
      await upstream.remove("g", key, { deadline });
      assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
      assert.ok(
        failed.length > 0 && failed.every((member) => member === dead),
        `failed: ${failed}`,
      );
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name: "A write reaches the key's owner by the nodes' ring when the gateway's lags behind",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(3);
    // The gateway does not know the third node yet; the nodes route by all three.
    const upstream = new GrpcUpstream({ members: [nodes[0].addr, nodes[1].addr] });
    const ring = new HashRing();
    ring.add(...nodes.map((node) => node.addr));
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`)
      .find((k) => ring.get(k) === nodes[2].addr)!;
    const deadline = Date.now() + 5000;
    try {
      await upstream.set("g", key, new TextEncoder().encode("new"), undefined, { deadline });
      assert.equal((await nodes[2].registry.get("g")!.get(key)).text(), "new");
      await upstream.remove("g", key, { deadline });
      assert.equal((await nodes[2].registry.get("g")!.get(key)).text(), `value of ${key}`);
      // A write the streams could not carry fails alone, before it is sent.
      await assert.rejects(upstream.set("g", key, new Uint8Array(1), -1, { deadline }), RangeError);
      await assert.rejects(
        upstream.set("g", key, new Uint8Array(1), 2 ** 70, { deadline }),
        RangeError,
      );
      assert.equal((await upstream.get("g", key, { deadline })).value.length > 0, true);
    } finally {
      upstream.close();
    }
  },
});

// A node that answers every get with its key and records how many gets
// each message carried.
async function recordingNode(): Promise<{ addr: string; messages: number[] } & Disposable> {
  const messages: number[] = [];
  const server = new grpc.Server();
  server.addService(CacheClient.service, {
    // As nodes do, so that the gateway's probe finds mccache's protocol.
    Stats: (_: unknown, callback: grpc.sendUnaryData<object>) => callback(null, {}),
    GetStream: (call: grpc.ServerDuplexStream<ItemBatch, ResultBatch>) => {
      call.on("data", ({ items }: ItemBatch) => {
        messages.push(items.length);
        const results = items.map(({ id, key }) => ({
          id,
          value: new TextEncoder().encode(key),
          ttl_ms: 0,
          code: 0,
          error: "",
          error_name: "",
        }));
        call.write({ results });
      });
      call.on("end", () => call.end());
    },
  });
  const addr = await listenOnLoopback(server);
  return { addr, messages, [Symbol.dispose]: () => server.forceShutdown() };
}

/** Runs `fn` in the event loop's next check phase, as the next turn's requests would come. */
function nextTurn(fn: () => void): Promise<void> {
  return new Promise((resolve) => setImmediate(() => resolve(fn())));
}

Deno.test({
  name:
    "Gets that keep arriving while a flush waits go one turn later in one message; a lone get goes at once",
  ...sanitizers,
  async fn() {
    using node = await recordingNode();
    const upstream = new GrpcUpstream({ members: [node.addr] });
    const deadline = Date.now() + 5000;
    const get = (key: string) => upstream.get("g", key, { deadline });
    try {
      await get("warm"); // opens the stream
      node.messages.length = 0;
      // A busy turn (two gets) and the next one (two more): one message.
      const busy = [get("a"), get("b")];
      await nextTurn(() => busy.push(get("c"), get("d")));
      const values = await Promise.all(busy);
      assert.deepEqual(values.map(({ value }) => new TextDecoder().decode(value)), [
        "a",
        "b",
        "c",
        "d",
      ]);
      assert.deepEqual(node.messages, [4]);

      node.messages.length = 0;
      // A lone get does not wait for the next turn's.
      const lone = [get("e")];
      await nextTurn(() => lone.push(get("f")));
      await Promise.all(lone);
      assert.deepEqual(node.messages, [1, 1]);
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name: "The upstream and its balancer route by one ring: a get right after its owner left " +
    "goes to the new owner, before the resolver has told the balancer",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(3);
    const addrs = nodes.map((node) => node.addr);
    const source = fakeMemberSource(addrs);
    const current = new CurrentRing(source);
    const upstream = new GrpcUpstream({ members: current });
    try {
      assert.equal(upstream.currentRing, current);
      assert.equal(upstream.ring, current.snapshot.ring);
      await waitFor(
        () => addrs.every((addr) => upstream.protocols.connected(addr)),
        "connected to every node",
      );
      const key = Array.from({ length: 100 }, (_, i) => `k${i}`)
        .find((k) => current.snapshot.owner(k) === addrs[2])!;
      const before = current.snapshot;
      source.set(addrs.slice(0, 2));
      assert.notEqual(current.snapshot, before);
      assert.equal(upstream.ring, current.snapshot.ring, "swapped for the upstream too");
      const owner = current.snapshot.owner(key)!;
      // In the same turn: the balancer still holds a connection to the member that left.
      const { node } = await upstream.get("g", key, { deadline: Date.now() + 5000 });
      assert.equal(node, owner);
    } finally {
      upstream.close();
      current.close();
    }
  },
});

Deno.test({
  name: "A get right after the members changed to ones not connected yet waits for them",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(2);
    const source = fakeMemberSource([nodes[0].addr]);
    const upstream = new GrpcUpstream({ members: source });
    try {
      await waitFor(() => upstream.protocols.connected(nodes[0].addr), "connected");
      source.set([nodes[1].addr]);
      const { node } = await upstream.get("g", "k", { deadline: Date.now() + 5000 });
      assert.equal(node, nodes[1].addr);
    } finally {
      upstream.close();
    }
  },
});
