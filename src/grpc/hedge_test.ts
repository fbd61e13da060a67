import assert from "node:assert/strict";
import { NotFoundError, PeerError } from "../errors.ts";
import { MemberProtocols } from "./protocols.ts";
import { RingSnapshot } from "./ring_snapshot.ts";
import { FailOver } from "./_failover.ts";
import { hedgedCopy } from "./_hedge.ts";
import { Hints } from "./_hints.ts";
import type { PendingRequest } from "./_member_stream.ts";
import type { UpstreamValue } from "../gateway/upstream.ts";

function request(): { request: PendingRequest; settled: Promise<UpstreamValue> } {
  const { promise, resolve, reject } = Promise.withResolvers<UpstreamValue>();
  const w = { id: 7, group: "g", key: "k", deadline: 0, retried: false, redirects: 0 };
  return { request: { ...w, resolve, reject }, settled: promise };
}

const VALUE = { value: new Uint8Array([1]), ttl: undefined, node: "b" };

Deno.test("hedgedCopy settles with the first value, whichever of the two brings it", async (t) => {
  await t.step("the copy answers first", async () => {
    const { request: original, settled } = request();
    const copy = hedgedCopy(original, "b");
    assert.deepEqual([copy.local, copy.member, original.hedged, original.retried], [
      true,
      "b",
      true,
      true,
    ]);
    copy.resolve(VALUE);
    original.reject(new PeerError("a: the stream ended"));
    assert.equal(await settled, VALUE);
  });
  await t.step("the original fails first, then the copy answers", async () => {
    const { request: original, settled } = request();
    const copy = hedgedCopy(original, "b");
    original.reject(new PeerError("a: the stream ended"));
    copy.resolve(VALUE);
    assert.equal(await settled, VALUE);
  });
});

Deno.test("hedgedCopy fails with the last error, or at once with a not-found (an answer)", async (t) => {
  await t.step("both fail", async () => {
    const { request: original, settled } = request();
    const copy = hedgedCopy(original, "b");
    original.reject(new PeerError("first"));
    copy.reject(new PeerError("last"));
    await assert.rejects(settled, /last/);
  });
  await t.step("not found", async () => {
    const { request: original, settled } = request();
    hedgedCopy(original, "b").reject(new NotFoundError("no k"));
    await assert.rejects(settled, NotFoundError);
  });
});

Deno.test("Hints keep the newest write per key, replace older ones, and are taken once", () => {
  const hints = new Hints();
  hints.add("a", { group: "g", key: "k", op: 1, value: new Uint8Array([1]) });
  hints.add("a", { group: "g", key: "k", op: 1, value: new Uint8Array([2]) });
  hints.add("b", { group: "g", key: "k", op: 1, value: new Uint8Array([2]) });
  hints.supersede({ group: "g", key: "k", op: 2 });
  hints.supersede({ group: "g", key: "other", op: 2 }); // nobody missed it
  assert.equal(hints.has("a"), true);
  const taken = hints.take("a");
  assert.deepEqual(taken.map((h) => [h.key, h.op]), [["k", 2]]);
  assert.equal(hints.has("a"), false);
  hints.add("a", { group: "g", key: "k", op: 1, value: new Uint8Array([3]) });
  hints.restore("a", taken); // a newer write of k is kept: the failed replay does not come back
  assert.deepEqual(hints.take("a").map((h) => h.op), [1]);
  assert.deepEqual(hints.take("b").map((h) => h.op), [2]);
});

Deno.test("The fail-over and hedge target is where the balancer places the call: one walk of one snapshot", () => {
  const members = ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"];
  const snapshot = new RingSnapshot(members);
  const protocols = new MemberProtocols();
  protocols.setConnected(new Set(members));
  const failOver = new FailOver({
    ring: () => snapshot,
    protocols,
    sendTo: () => {},
    answers: () => Promise.resolve(false),
  });
  try {
    // The balancer's rule over the same members: READY ones, suspect ones avoided.
    const rule = {
      accept: (m: string) => protocols.connected(m),
      avoid: (m: string) => failOver.health.suspect(m),
    };
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    const check = () => {
      for (const key of keys) {
        const hash = snapshot.hashKey(key);
        const owner = snapshot.owner(key)!;
        const next = failOver.nextMember(key, owner);
        // A suspect owner's gets go where the balancer places a first attempt;
        // a write failed over from a live owner, where it places the retry.
        const attempt = failOver.health.suspect(owner) ? 0 : 1;
        assert.equal(next, snapshot.pick(hash, attempt, rule), key);
      }
    };
    check();
    failOver.health.suspectNow(members[1]);
    assert.ok(failOver.health.suspect(members[1]));
    check();
  } finally {
    failOver.close();
  }
});
