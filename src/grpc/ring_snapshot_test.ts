import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { HashRing } from "../hash_ring.ts";
import { registerResolvers, RING_OPTION } from "./resolver.ts";
import { CURRENT_RING_OPTION, CurrentRing, RingSnapshot } from "./ring_snapshot.ts";
import { fakeMemberSource } from "./_testing.ts";

const MEMBERS = ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"];
const KEYS = Array.from({ length: 200 }, (_, i) => `key-${i}`);

Deno.test("RingSnapshot.pick walks the ring as HashRing does: owner, then the next member on a retry", () => {
  const snapshot = new RingSnapshot(MEMBERS);
  const ring = new HashRing();
  ring.add(...MEMBERS);
  const all = { accept: () => true };
  for (const key of KEYS) {
    const hash = snapshot.hashKey(key);
    const [owner, next, third] = ring.getN(key, 3);
    assert.equal(snapshot.owner(key), owner);
    assert.equal(snapshot.pick(hash, 0, all), owner);
    assert.equal(snapshot.pick(hash, 1, all), next);
    assert.equal(snapshot.pick(hash, 0, { accept: (m) => m !== owner }), next);
    // An avoided owner is passed over while another member can take the call...
    assert.equal(snapshot.pick(hash, 0, { ...all, avoid: (m) => m === owner }), next);
    assert.equal(snapshot.pick(hash, 1, { ...all, avoid: (m) => m === owner }), third);
    // ...and taken when none can.
    const onlyOwner = { accept: (m: string) => m === owner, avoid: (m: string) => m === owner };
    assert.equal(snapshot.pick(hash, 0, onlyOwner), owner);
    // A retry past the last accepted member stays on it.
    assert.equal(snapshot.pick(hash, 5, { accept: (m) => m === next }), next);
    assert.equal(snapshot.pick(hash, 0, { accept: () => false }), undefined);
  }
  assert.equal(new RingSnapshot([]).pick(0, 0, all), undefined);
});

Deno.test("RingSnapshot keeps each member once, in the order given, and never changes", () => {
  const snapshot = new RingSnapshot(["b", "a", "b"]);
  assert.deepEqual(snapshot.members, ["b", "a"]);
  assert.ok(Object.isFrozen(snapshot.members));
  assert.ok(snapshot.has("a") && !snapshot.has("c"));
  const seed = new RingSnapshot(["127.0.0.1:8001"], { compat: "seed" });
  assert.equal(seed.hashKey("a"), 0xe8b7be43); // CRC-32, as the Go original places keys
});

Deno.test("CurrentRing swaps in one new snapshot per membership update before telling its listeners", () => {
  const source = fakeMemberSource(MEMBERS.slice(0, 2));
  const current = new CurrentRing(source);
  const first = current.snapshot;
  assert.equal(current.snapshot, first, "the same object until the members change");
  const seen: RingSnapshot[] = [];
  const unsubscribe = current.subscribe(() => seen.push(current.snapshot));
  source.set(MEMBERS);
  assert.equal(seen.length, 1);
  assert.equal(seen[0], current.snapshot, "listeners see the new snapshot");
  assert.notEqual(current.snapshot, first);
  assert.deepEqual(current.members, MEMBERS);
  assert.deepEqual(first.members, MEMBERS.slice(0, 2), "the old snapshot is unchanged");
  unsubscribe();
  source.set(MEMBERS.slice(1));
  assert.equal(seen.length, 1);
  current.close();
  assert.equal(source.subscribers, 0);
  const last = current.snapshot;
  source.set(MEMBERS);
  assert.equal(current.snapshot, last, "a closed ring keeps its last snapshot");
});

interface Resolution {
  members: string[];
  ring: CurrentRing;
}

// Resolves `target` with mccache's resolvers, through grpc-js as a channel
// would, and hands over each resolution.
function resolve(target: string, options: grpc.ChannelOptions) {
  registerResolvers();
  const [scheme, path] = target.split(":///");
  const resolutions: Resolution[] = [];
  let arrived = Promise.withResolvers<void>();
  const listener = ((
    endpoints: grpc.experimental.StatusOr<grpc.experimental.Endpoint[]>,
    attributes: { [key: string]: unknown },
  ) => {
    assert.ok(endpoints.ok);
    resolutions.push({
      members: endpoints.value.map((e) =>
        grpc.experimental.subchannelAddressToString(e.addresses[0])
      ),
      ring: attributes[CURRENT_RING_OPTION] as CurrentRing,
    });
    arrived.resolve();
    return true;
  }) as unknown as grpc.experimental.ResolverListener;
  const resolver = grpc.experimental.createResolver(
    { scheme, authority: "", path },
    listener,
    options,
  );
  resolver.updateResolution();
  return {
    resolver,
    async next(): Promise<Resolution> {
      await arrived.promise;
      arrived = Promise.withResolvers();
      return resolutions.at(-1)!;
    },
  };
}

Deno.test("The resolver hands the balancer the CurrentRing of the channel, and lists its snapshot's members", async () => {
  const source = fakeMemberSource(MEMBERS.slice(0, 2));
  const current = new CurrentRing(source);
  const { resolver, next } = resolve("etcd:///mccache", { [CURRENT_RING_OPTION]: current });
  try {
    let resolution = await next();
    assert.equal(resolution.ring, current, "the same object, not a copy");
    assert.deepEqual(resolution.members, current.snapshot.members);
    source.set(MEMBERS);
    resolution = await next();
    assert.equal(resolution.ring, current);
    assert.deepEqual(resolution.members, MEMBERS);
  } finally {
    resolver.destroy();
    current.close();
  }
});

Deno.test("Without a CurrentRing, the resolver makes one of its own from the target and the ring options", async () => {
  const target = `static:///${MEMBERS.join(",")}`;
  const { resolver, next } = resolve(target, { [RING_OPTION]: { compat: "seed" } });
  try {
    const { members, ring } = await next();
    assert.deepEqual(members, MEMBERS);
    assert.deepEqual(ring.snapshot.members, MEMBERS);
    assert.deepEqual(ring.options, { compat: "seed" });
    assert.equal(ring.snapshot.hashKey("a"), 0xe8b7be43);
  } finally {
    resolver.destroy();
  }
});
