// The gateway's upstream with members of the Go original among mccache's
// (in-process servers that speak only geecachepb, or refuse everything).
// grpc-js leaves timers and sockets behind after close, so the sanitizers
// are off.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { cluster, listenOnLoopback, startInProcessGoOriginal } from "./_testing.ts";
import { HashRing } from "../hash_ring.ts";
import { waitFor } from "../_testing/wait.ts";
import { UnsupportedError } from "../errors.ts";
import { GrpcUpstream } from "./grpc_upstream.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "Gets of keys that a member of the Go original owns go to it as its Get; " +
    "writes of them fail naming it, and drops skip it",
  ...sanitizers,
  async fn() {
    await using go = await startInProcessGoOriginal();
    await using nodes = await cluster(1);
    const members = [go.addr, nodes[0].addr];
    const dropsFailed: string[] = [];
    const upstream = new GrpcUpstream({ members, onDropFailed: (m) => dropsFailed.push(m) });
    const ring = new HashRing();
    ring.add(...members);
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const deadline = Date.now() + 5000;
    try {
      await waitFor(() => upstream.protocols.of(go.addr) === "geecachepb", "the probe found it");
      assert.equal(upstream.serving, true);
      const values = await Promise.all(keys.map((key) => upstream.get("g", key, { deadline })));
      values.forEach(({ value, node }, i) => {
        assert.equal(new TextDecoder().decode(value), `value of k${i}`);
        assert.equal(node, ring.get(`k${i}`));
      });
      // Each key it owns, once; and the probe's empty key.
      assert.deepEqual(go.gets.sort(), ["", ...keys.filter((k) => ring.get(k) === go.addr)].sort());
      const theirs = keys.find((k) => ring.get(k) === go.addr)!;
      const mine = keys.find((k) => ring.get(k) === nodes[0].addr)!;
      const value = new TextEncoder().encode("new");
      await assert.rejects(
        upstream.set("g", theirs, value, undefined, { deadline }),
        (error: Error) =>
          error instanceof UnsupportedError && error.message.startsWith(`${go.addr} runs`),
      );
      await assert.rejects(upstream.remove("g", theirs, { deadline }), UnsupportedError);
      await upstream.set("g", mine, value, undefined, { deadline });
      await upstream.remove("g", mine, { deadline });
      assert.deepEqual(dropsFailed, []);
      // Its plain errors name it: the member that answered.
      const missing = keys.map((k) => `missing-${k}`).find((k) => ring.get(k) === go.addr)!;
      await assert.rejects(
        upstream.get("g", missing, { deadline }),
        (error: Error) => error.message === `${go.addr}: ${missing} not exist`,
      );
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name:
    "A member that refuses GetStream is learned from the refusal, and its gets are sent again " +
    "as the Go original's Get",
  ...sanitizers,
  async fn() {
    // It answers Stats, so the probe takes it for an mccache node.
    await using go = await startInProcessGoOriginal({ stats: true });
    const upstream = new GrpcUpstream({ members: [go.addr] });
    const deadline = Date.now() + 5000;
    try {
      await waitFor(() => upstream.protocols.of(go.addr) === "mccache.v1", "the probe answered");
      const values = await Promise.all(
        ["a", "b", "c"].map((key) => upstream.get("g", key, { deadline })),
      );
      assert.deepEqual(values.map((v) => new TextDecoder().decode(v.value)), [
        "value of a",
        "value of b",
        "value of c",
      ]);
      assert.equal(upstream.protocols.of(go.addr), "geecachepb");
      assert.deepEqual(go.gets.sort(), ["a", "b", "c"]);
    } finally {
      upstream.close();
    }
  },
});

Deno.test({
  name: "Keys whose owner refuses every call are served by the next member, in its protocol",
  ...sanitizers,
  async fn() {
    const refusing = new grpc.Server(); // no services: UNIMPLEMENTED for everything
    const refusingAddr = await listenOnLoopback(refusing);
    await using go = await startInProcessGoOriginal();
    await using nodes = await cluster(1);
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    const deadline = Date.now() + 5000;
    for (const members of [[refusingAddr, nodes[0].addr], [refusingAddr, go.addr]]) {
      const upstream = new GrpcUpstream({ members });
      const ring = new HashRing();
      ring.add(...members);
      const theirs = keys.filter((k) => ring.get(k) === refusingAddr);
      try {
        await waitFor(() => upstream.protocols.of(refusingAddr) === "none", "the probe found it");
        const values = await Promise.all(theirs.map((key) => upstream.get("g", key, { deadline })));
        assert.ok(theirs.length > 0);
        values.forEach(({ value, node }, i) => {
          assert.equal(new TextDecoder().decode(value), `value of ${theirs[i]}`);
          assert.equal(node, members[1]);
        });
      } finally {
        upstream.close();
      }
    }
    refusing.forceShutdown();
  },
});
