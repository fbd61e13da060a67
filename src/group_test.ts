import assert from "node:assert/strict";
import { ByteView } from "./byte_view.ts";
import { ENTRY_OVERHEAD, Group, type GroupOptions } from "./group.ts";
import { InvalidKeyError, NotFoundError, PeerError } from "./errors.ts";
import { MAX_KEY_BYTES } from "./key.ts";
import type { PeerGetter, PeerPicker, PeerRequest } from "./peers.ts";
import { seededRandom } from "./_testing.ts";

const encoder = new TextEncoder();

// A peer with counters, as groupcache's tests use.
class FakePeer implements PeerGetter {
  hits = 0;
  sets: string[] = [];
  removes: string[] = [];
  fail = false;
  notFound = false;
  get({ key }: PeerRequest) {
    this.hits++;
    if (this.notFound) return Promise.reject(new NotFoundError(key));
    if (this.fail) return Promise.reject(new PeerError("down"));
    return Promise.resolve({ value: encoder.encode(`peer:${key}`), ttl: 1000 });
  }
  set({ key }: PeerRequest) {
    this.sets.push(key);
    return this.fail ? Promise.reject(new PeerError("down")) : Promise.resolve();
  }
  remove({ key, local }: PeerRequest & { local: boolean }) {
    assert.ok(local, "broadcast removes must be local");
    this.removes.push(key);
    return this.fail ? Promise.reject(new PeerError("down")) : Promise.resolve();
  }
}

// Picks `owner` for keys starting with "p", this process for the rest.
function picker(owner: FakePeer, others: FakePeer[] = []): PeerPicker {
  return {
    pickPeer: (key) => key.startsWith("p") ? owner : undefined,
    peers: () => [owner, ...others],
  };
}

function counting(options: Partial<GroupOptions> = {}) {
  const calls: string[] = [];
  const group = new Group({
    name: "g",
    maxBytes: 1 << 20,
    getter: (key) => {
      calls.push(key);
      return `v:${key}`;
    },
    ...options,
  });
  return { group, calls };
}

Deno.test("Group calls the getter once for 1,000 concurrent gets of one key", async () => {
  let calls = 0;
  const group = new Group({
    name: "g",
    maxBytes: 1 << 20,
    getter: async (key) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return key;
    },
  });
  const views = await Promise.all(Array.from({ length: 1000 }, () => group.get("hot")));
  assert.equal(calls, 1);
  assert.ok(views.every((v) => v.text() === "hot"));
  const stats = group.stats();
  assert.equal(stats.gets, 1000);
  assert.equal(stats.loads, 1000);
  assert.equal(stats.loadsDeduped, 1);
  assert.equal(stats.localLoads, 1);
  await group.get("hot");
  assert.equal(group.stats().cacheHits, 1);
});

Deno.test("Group never caches errors and gives every waiter the error", async () => {
  let calls = 0;
  const group = new Group({
    name: "g",
    maxBytes: 1 << 20,
    getter: () => {
      calls++;
      if (calls === 1) throw new Error("origin down");
      return "ok";
    },
  });
  const results = await Promise.allSettled([group.get("k"), group.get("k")]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  assert.equal((await group.get("k")).text(), "ok");
  assert.equal(group.stats().localLoadErrs, 1);
});

Deno.test("Group passes NotFoundError through and does not cache it", async () => {
  const group = new Group({
    name: "g",
    maxBytes: 1 << 20,
    getter: (key) => {
      throw new NotFoundError(`${key} not exist`);
    },
  });
  await assert.rejects(group.get("x"), NotFoundError);
  await assert.rejects(group.get("x"), /x not exist/);
  assert.equal(group.cacheStats("main").items, 0);
});

Deno.test("Group rejects bad keys with InvalidKeyError", async (t) => {
  const { group, calls } = counting();
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["too long", "x".repeat(MAX_KEY_BYTES + 1)],
    ["too long in UTF-8", "é".repeat(MAX_KEY_BYTES / 2 + 1)],
    ["lone surrogate", "a\ud800"],
    ["not a string", 42],
  ];
  for (const [name, key] of cases) {
    await t.step(name, async () => {
      await assert.rejects(group.get(key as string), InvalidKeyError);
      await assert.rejects(group.set(key as string, "v"), InvalidKeyError);
      await assert.rejects(group.remove(key as string), InvalidKeyError);
    });
  }
  assert.equal((await group.get("é".repeat(MAX_KEY_BYTES / 2))).length, MAX_KEY_BYTES + 2);
  assert.equal(calls.length, 1);
});

Deno.test("Group accepts the getter forms and rejects bad results", async () => {
  const object = new Group({ name: "o", maxBytes: 1 << 20, getter: { get: (key) => key } });
  assert.equal((await object.get("a")).text(), "a");
  const bytes = new Group({ name: "b", maxBytes: 1 << 20, getter: () => new Uint8Array([1, 2]) });
  assert.deepEqual((await bytes.get("a")).bytes(), new Uint8Array([1, 2]));
  const bad = new Group({ name: "bad", maxBytes: 1 << 20, getter: () => 42 as unknown as string });
  await assert.rejects(
    bad.get("a"),
    /must return a Uint8Array, a string, a ByteView or \{ value, ttl \}/,
  );
  const badTtl = new Group({
    name: "t",
    maxBytes: 1 << 20,
    getter: () => ({ value: "v", ttl: -5 }),
  });
  await assert.rejects(badTtl.get("a"), RangeError);
  assert.equal(bad.stats().localLoadErrs, 1);
});

Deno.test("Group keeps a ByteView from the getter without copying it", async () => {
  const view = ByteView.adopt(new TextEncoder().encode("adopted"));
  const group = new Group({
    name: "a",
    maxBytes: 1 << 20,
    getter: () => ({ value: view, ttl: 1000 }),
  });
  assert.equal(await group.get("k"), view);
});

Deno.test("Group copies getter bytes so later changes do not reach the cache", async () => {
  const buffer = new Uint8Array([1, 2, 3]);
  const group = new Group({ name: "c", maxBytes: 1 << 20, getter: () => buffer });
  await group.get("k");
  buffer[0] = 9;
  assert.equal((await group.get("k")).at(0), 1);
});

Deno.test("Group constructor rejects bad options with clear messages", () => {
  const getter = (key: string) => key;
  assert.throws(
    () => new Group({ name: "g", maxBytes: -1, getter }),
    {
      name: "RangeError",
      message: "Cannot create Group: maxBytes must be a non-negative integer: received -1",
    },
  );
  assert.throws(() => new Group({ name: "", maxBytes: 1, getter }), TypeError);
  assert.throws(() => new Group({ name: "a/b", maxBytes: 1, getter }), TypeError);
  assert.throws(() => new Group({ name: "g", maxBytes: 1, getter: {} as never }), TypeError);
  assert.throws(() => new Group({ name: "g", maxBytes: 1, getter, ttl: 0 }), RangeError);
});

Deno.test("Group expires entries after their TTL", async (t) => {
  let now = 0;
  let version = 0;
  const group = new Group({
    name: "ttl",
    maxBytes: 1 << 20,
    now: () => now,
    getter: (key) => key.startsWith("own") ? { value: `v${++version}`, ttl: 100 } : `v${++version}`,
    ttl: 1000,
  });
  await t.step("a getter's ttl", async () => {
    assert.equal((await group.get("own")).text(), "v1");
    now = 99;
    assert.equal((await group.get("own")).text(), "v1");
    assert.equal((await group.getEntry("own")).ttl, 1);
    now = 100;
    assert.equal((await group.get("own")).text(), "v2");
  });
  await t.step("the group's default ttl", async () => {
    now = 0;
    assert.equal((await group.get("default")).text(), "v3");
    now = 999;
    assert.equal((await group.get("default")).text(), "v3");
    now = 1000;
    assert.equal((await group.get("default")).text(), "v4");
  });
  await t.step("set's ttl", async () => {
    now = 0;
    await group.set("s", "stored", { ttl: 10 });
    assert.equal((await group.get("s")).text(), "stored");
    now = 10;
    assert.equal((await group.get("s")).text(), "v5");
  });
});

Deno.test("Group keeps main + hot within maxBytes over any sequence of operations", async () => {
  const random = seededRandom(7);
  const owner = new FakePeer();
  const maxBytes = 500;
  const group = new Group({
    name: "budget",
    maxBytes,
    getter: (key) => "x".repeat(key.length * 3),
    peers: picker(owner),
    random,
    entryOverhead: 4,
  });
  for (let i = 0; i < 5000; i++) {
    const key = `${random() < 0.5 ? "p" : "l"}${Math.floor(random() * 50)}`;
    const op = random();
    if (op < 0.7) await group.get(key);
    else if (op < 0.85) await group.set(key, "y".repeat(Math.floor(random() * 80)));
    else await group.remove(key);
    const used = group.cacheStats("main").bytes + group.cacheStats("hot").bytes;
    assert.ok(used <= maxBytes, `step ${i}: ${used} bytes`);
  }
  assert.ok(group.cacheStats("hot").items > 0, "the hot cache was exercised");
  assert.ok(group.cacheStats("main").evictions > 0, "eviction was exercised");
});

Deno.test("Group promotes about 1 in 10 peer values into the hot cache", async () => {
  const owner = new FakePeer();
  const group = new Group({
    name: "hot",
    maxBytes: 1 << 24,
    getter: () => "local",
    peers: picker(owner),
    random: seededRandom(1),
    now: () => 0, // the peer's 1 s TTL never runs out
  });
  for (let i = 0; i < 10_000; i++) await group.get(`p${i}`);
  const promoted = group.cacheStats("hot").items;
  assert.ok(promoted > 900 && promoted < 1100, `promoted ${promoted} of 10000`);
  assert.equal(group.stats().peerLoads, 10_000);
  assert.equal(owner.hits, 10_000);
  // Promoted keys are served from the hot cache without asking the owner.
  for (let i = 0; i < 10_000; i++) await group.get(`p${i}`);
  assert.equal(owner.hits, 20_000 - promoted);
});

Deno.test("Group loads locally when the owning peer fails, unless it said not found", async () => {
  const owner = new FakePeer();
  const { group, calls } = counting({ peers: picker(owner) });
  assert.equal((await group.get("p1")).text(), "peer:p1");
  owner.fail = true;
  assert.equal((await group.get("p2")).text(), "v:p2");
  owner.fail = false;
  owner.notFound = true;
  await assert.rejects(group.get("p3"), NotFoundError);
  const stats = group.stats();
  assert.deepEqual(
    [stats.peerLoads, stats.peerErrors, stats.localLoads, owner.hits],
    [1, 1, 1, 3],
  );
  assert.deepEqual(calls, ["p2"]);
});

Deno.test("Group never asks a peer for a local request", async () => {
  const owner = new FakePeer();
  const { group, calls } = counting({ peers: picker(owner) });
  assert.equal((await group.get("p1", { local: true })).text(), "v:p1");
  assert.equal(owner.hits, 0);
  assert.deepEqual(calls, ["p1"]);
});

Deno.test("Group.set writes at the owner and drops copies elsewhere", async () => {
  const owner = new FakePeer();
  const other = new FakePeer();
  const { group } = counting({ peers: picker(owner, [other]) });
  await group.set("p1", "new");
  assert.deepEqual(owner.sets, ["p1"]);
  assert.deepEqual(owner.removes, []);
  assert.deepEqual(other.removes, ["p1"]);
  // This process owns "mine": stored here, every peer told to drop copies.
  await group.set("mine", "stored");
  assert.equal((await group.get("mine")).text(), "stored");
  assert.deepEqual(owner.removes, ["mine"]);
  assert.deepEqual(other.removes, ["p1", "mine"]);
  // A local set (from a peer) is stored here and passed on to nobody.
  await group.set("p2", "from-peer", { local: true });
  assert.equal((await group.get("p2", { local: true })).text(), "from-peer");
  assert.deepEqual(other.removes, ["p1", "mine"]);
  owner.fail = true;
  await assert.rejects(group.set("p3", "x"), PeerError);
});

Deno.test("Group.remove tells the owner, then every other node", async () => {
  const owner = new FakePeer();
  const other = new FakePeer();
  const { group, calls } = counting({ peers: picker(owner, [other]) });
  await group.get("mine");
  await group.remove("mine");
  await group.get("mine");
  assert.deepEqual(calls, ["mine", "mine"]);
  assert.deepEqual(owner.removes, ["mine"]);
  assert.deepEqual(other.removes, ["mine"]);
  await group.remove("p1");
  assert.deepEqual(owner.removes, ["mine", "p1"]);
  other.fail = true;
  await group.remove("p1"); // other nodes are best effort
  assert.equal(group.stats().peerErrors, 1);
  owner.fail = true;
  await assert.rejects(group.remove("p1"), PeerError);
});

Deno.test("Group does not cache a load that raced with set", async () => {
  let release!: () => void;
  const group = new Group({
    name: "race",
    maxBytes: 1 << 20,
    getter: async () => {
      await new Promise<void>((resolve) => release = resolve);
      return "stale";
    },
  });
  const loading = group.get("k");
  await group.set("k", "fresh");
  release();
  assert.equal((await loading).text(), "stale");
  assert.equal((await group.get("k")).text(), "fresh");
});

Deno.test("Group charges each entry its key, its value and the entry overhead", async () => {
  const { group } = counting({ entryOverhead: 100 });
  await group.get("日本"); // 6 key bytes, value "v:日本" 8 bytes
  assert.equal(group.cacheStats("main").bytes, 6 + 8 + 100);
  const { group: fresh } = counting();
  await fresh.get("k");
  assert.equal(fresh.cacheStats("main").bytes, 1 + 3 + ENTRY_OVERHEAD);
  assert.throws(() => counting({ entryOverhead: -1 }), /entryOverhead/);
});

Deno.test("Group with maxBytes 0 caches nothing", async () => {
  const { group, calls } = counting({ maxBytes: 0 });
  await group.get("a");
  await group.get("a");
  assert.equal(calls.length, 2);
  assert.equal(group.cacheStats("main").bytes, 0);
});

Deno.test("Group.get gives up on abort while the load goes on for others", async () => {
  let release!: () => void;
  const { group } = counting({
    getter: async (key) => {
      await new Promise<void>((resolve) => release = resolve);
      return key;
    },
  });
  const controller = new AbortController();
  const impatient = group.get("k", { signal: controller.signal });
  const patient = group.get("k");
  controller.abort(new DOMException("deadline", "TimeoutError"));
  await assert.rejects(impatient, { name: "TimeoutError" });
  release();
  assert.equal((await patient).text(), "k");
});

Deno.test("Group keeps caching loads while other keys are written", async () => {
  let release!: () => void;
  let calls = 0;
  const group = new Group({
    name: "per-key",
    maxBytes: 1 << 20,
    getter: async (key) => {
      calls++;
      if (key === "a") await new Promise<void>((resolve) => release = resolve);
      return key;
    },
  });
  const loading = group.get("a");
  await group.set("unrelated", "x");
  await group.remove("other");
  release();
  await loading;
  await group.get("a");
  assert.equal(calls, 1, "a set of another key kept the load of a out of the cache");
});

Deno.test("Group.getEntry reports a loaded value's TTL even when it was not cached", async () => {
  const group = new Group({ name: "t0", maxBytes: 0, getter: () => ({ value: "v", ttl: 5000 }) });
  const { ttl } = await group.getEntry("k");
  assert.ok(ttl !== undefined && ttl > 4000 && ttl <= 5000);
});

Deno.test("Group.remove on a non-owner drops a copy fetched while the owner was being told", async () => {
  let releaseRemove!: () => void;
  const owner = new FakePeer();
  owner.remove = ({ key }) => {
    owner.removes.push(key);
    return new Promise<void>((resolve) => releaseRemove = resolve);
  };
  const group = new Group({
    name: "race-peer",
    maxBytes: 1 << 20,
    getter: () => "local",
    peers: picker(owner),
    random: () => 0, // keep every peer value in the hot cache
  });
  const removing = group.remove("p1");
  assert.equal((await group.get("p1")).text(), "peer:p1"); // fetched while the owner is told
  assert.equal(group.cacheStats("hot").items, 1);
  releaseRemove();
  await removing;
  assert.equal(group.cacheStats("hot").items, 0);
});

Deno.test("Group.cachedEntry answers from cache only, counting a get and a hit as getEntry would", async () => {
  let now = 0;
  const { group, calls } = counting({ now: () => now });
  assert.equal(group.cachedEntry("k"), undefined);
  assert.deepEqual(calls, [], "a miss loads nothing");
  assert.equal(group.stats().gets, 0, "a miss counts nothing");
  await group.set("k", "stored", { ttl: 100 });
  now = 40;
  const entry = group.cachedEntry("k");
  assert.equal(entry?.value.text(), "stored");
  assert.equal(entry?.ttl, 60);
  assert.equal(group.stats().gets, 1);
  assert.equal(group.stats().cacheHits, 1);
  now = 100;
  assert.equal(group.cachedEntry("k"), undefined, "expired");
  assert.deepEqual(calls, []);
});
