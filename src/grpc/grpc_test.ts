// The gRPC transport between in-process nodes over real loopback sockets.
// grpc-js leaves timers and sockets behind after close, so these tests turn
// the op and resource sanitizers off (the core's tests keep them on).
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { InvalidKeyError, NotFoundError, UnknownGroupError, UnsupportedError } from "../errors.ts";
import { MAX_KEY_BYTES } from "../key.ts";
import { deadlineSignal } from "./deadline.ts";
import { GrpcPeer } from "./peer.ts";
import { GeeCacheClient } from "./_proto.ts";
import { GrpcPeerPicker } from "./peer_picker.ts";
import { cluster, startInProcessGoOriginal, type TestNode } from "./_testing.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

function ownerOf(nodes: TestNode[], key: string): TestNode {
  const picker = nodes[0].picker;
  const peer = picker.pickPeer(key) as GrpcPeer | undefined;
  return peer === undefined ? nodes[0] : nodes.find((n) => n.addr === peer.addr)!;
}

Deno.test({
  name: "A get on any node is loaded once, by the key's owner",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(3);
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    for (const key of keys) {
      const views = await Promise.all(nodes.map((n) => n.registry.get("g")!.get(key)));
      assert.ok(views.every((v) => v.text() === `value of ${key}`));
      assert.deepEqual(ownerOf(nodes, key).loads.filter((k) => k === key), [key]);
    }
    assert.equal(nodes.reduce((n, node) => n + node.loads.length, 0), keys.length);
    const stats = nodes.map((n) => n.registry.get("g")!.stats());
    assert.equal(stats.reduce((n, s) => n + s.peerErrors, 0), 0);
    assert.ok(stats.reduce((n, s) => n + s.peerLoads, 0) >= keys.length); // 2 of 3 asks go to a peer
  },
});

Deno.test({
  name: "Errors cross gRPC as status codes and come back as the same classes",
  ...sanitizers,
  async fn(t) {
    await using nodes = await cluster(1);
    const peer = new GrpcPeer(nodes[0].addr);
    try {
      // deno-lint-ignore no-explicit-any
      const cases: [string, { group: string; key: string }, new (...args: any[]) => Error][] = [
        ["empty key", { group: "g", key: "" }, InvalidKeyError],
        ["oversized key", { group: "g", key: "k".repeat(MAX_KEY_BYTES + 1) }, InvalidKeyError],
        ["unknown group", { group: "nope", key: "k" }, UnknownGroupError],
        ["empty group", { group: "", key: "k" }, UnknownGroupError],
        ["getter not found", { group: "g", key: "missing-1" }, NotFoundError],
      ];
      for (const [name, request, errorClass] of cases) {
        await t.step(name, async () => {
          await assert.rejects(peer.get(request, {}), errorClass);
        });
      }
      assert.equal((await peer.get({ group: "g", key: "ok" }, {})).ttl! > 59_000, true);
    } finally {
      peer.close();
    }
  },
});

Deno.test({
  name: "A caller's deadline reaches the owner and cancels its load",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(1, 10_000);
    const peer = new GrpcPeer(nodes[0].addr);
    try {
      const started = Date.now();
      await assert.rejects(
        peer.get({ group: "g", key: "slow" }, { signal: deadlineSignal(200) }),
        { name: "TimeoutError" },
      );
      assert.ok(Date.now() - started < 2000);
      // The owner saw the deadline pass and aborted its getter.
      const deadline = Date.now() + 2000;
      while (nodes[0].aborted.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(nodes[0].aborted, ["slow"]);
    } finally {
      peer.close();
    }
  },
});

Deno.test({
  name: "set and remove reach the owner and drop copies on other nodes",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(3);
    const key = "shared";
    const owner = ownerOf(nodes, key);
    const other = nodes.find((n) => n !== owner)!;
    await other.registry.get("g")!.set(key, "written", { ttl: 60_000 });
    for (const node of nodes) {
      assert.equal((await node.registry.get("g")!.get(key)).text(), "written");
    }
    assert.deepEqual(owner.loads, []);
    await nodes[2].registry.get("g")!.remove(key);
    for (const node of nodes) {
      assert.equal((await node.registry.get("g")!.get(key)).text(), `value of ${key}`);
    }
    assert.deepEqual(owner.loads, [key]);
  },
});

Deno.test({
  name: "A node whose owner is down counts a peer error and loads the key itself",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(2);
    const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) =>
      ownerOf(nodes, k) === nodes[1]
    )!;
    nodes[1].server.forceShutdown();
    const view = await nodes[0].registry.get("g")!.get(key, { signal: deadlineSignal(5000) });
    assert.equal(view.text(), `value of ${key}`);
    assert.equal(nodes[0].registry.get("g")!.stats().peerErrors, 1);
    assert.deepEqual(nodes[0].loads, [key]);
  },
});

Deno.test({
  name: "The Go original's geecachepb.McCache/Get is served",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(1);
    const client = new GeeCacheClient(nodes[0].addr, grpc.credentials.createInsecure());
    const call = (request: object) =>
      new Promise<{ value: Uint8Array }>((resolve, reject) =>
        (client as unknown as Record<
          string,
          (r: object, cb: (e: unknown, v: unknown) => void) => void
        >)
          .Get(request, (e, v) => e ? reject(e) : resolve(v as { value: Uint8Array }))
      );
    try {
      const { value } = await call({ group: "g", key: "Tom" });
      assert.equal(new TextDecoder().decode(value), "value of Tom");
      await assert.rejects(call({ group: "g", key: "" }), { code: grpc.status.INVALID_ARGUMENT });
      await assert.rejects(call({ group: "x", key: "k" }), { code: grpc.status.INVALID_ARGUMENT });
      await assert.rejects(call({ group: "g", key: "missing" }), { code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "A peer of the Go original gets its gets as its own Get once it refused ours, " +
    "writes to it fail naming it, and it is not told to drop keys",
  ...sanitizers,
  async fn() {
    await using go = await startInProcessGoOriginal();
    await using nodes = await cluster(1);
    const picker = new GrpcPeerPicker("127.0.0.1:1");
    picker.setMembers(["127.0.0.1:1", go.addr, nodes[0].addr]);
    // A peer of its own, sharing what the picker's peers learn.
    const peer = new GrpcPeer(go.addr, { protocols: picker.protocols });
    try {
      assert.equal(picker.peers().length, 2);
      const first = await peer.get({ group: "g", key: "k1" }, {});
      assert.equal(new TextDecoder().decode(first.value), "value of k1");
      assert.equal(first.ttl, undefined);
      assert.equal(picker.protocols.of(go.addr), "geecachepb");
      // Known now: straight to its Get, no refused call first.
      await peer.get({ group: "g", key: "k2" }, {});
      assert.deepEqual(go.gets, ["k1", "k2"]);
      // Its plain errors come back as failed loads naming it.
      await assert.rejects(
        peer.get({ group: "g", key: "missing" }, {}),
        (error: Error) =>
          error.name === "Error" && error.message === `${go.addr}: missing not exist`,
      );
      const write = { group: "g", key: "k1", value: new Uint8Array(1) };
      await assert.rejects(
        peer.set!(write, {}),
        (error: Error) =>
          error instanceof UnsupportedError &&
          error.message.startsWith(`${go.addr} runs the Go original`),
      );
      await assert.rejects(
        peer.remove!({ group: "g", key: "k1", local: true }, {}),
        UnsupportedError,
      );
      // Writes are told to every peer but it.
      assert.deepEqual(
        picker.peers().map((p) => (p as GrpcPeer).addr),
        [nodes[0].addr],
      );
    } finally {
      peer.close();
      picker.close();
    }
  },
});

Deno.test({
  name: "A peer that forwards an UnsupportedError is not taken for one of the Go original",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(1, 0, () => {
      throw new UnsupportedError("127.0.0.1:9 runs the Go original");
    });
    const peer = new GrpcPeer(nodes[0].addr);
    try {
      await assert.rejects(peer.get({ group: "g", key: "k" }, {}), UnsupportedError);
      await assert.rejects(peer.get({ group: "g", key: "k" }, {}), UnsupportedError);
      assert.equal(nodes[0].registry.get("g")!.stats().localLoads, 0);
      assert.equal(nodes[0].registry.get("g")!.stats().localLoadErrs, 2, "both reached our node");
    } finally {
      peer.close();
    }
  },
});
