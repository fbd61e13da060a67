// notFoundTtl, staleWhileRevalidate and staleIfError, on an injected clock.
import assert from "node:assert/strict";
import { Group } from "./group.ts";
import { NotFoundError } from "./errors.ts";

// A getter with counters, whose next answers the test decides.
function fakeOrigin() {
  const origin = {
    calls: 0,
    value: "v1",
    fail: undefined as Error | undefined,
    // Resolves the load in flight, for tests that hold one open.
    release: undefined as (() => void) | undefined,
    hold: false,
    getter: async (key: string) => {
      origin.calls++;
      if (origin.hold) await new Promise<void>((resolve) => origin.release = resolve);
      if (origin.fail) throw origin.fail;
      return `${origin.value}:${key}`;
    },
  };
  return origin;
}

function clock() {
  const c = { ms: 1_000, now: () => c.ms };
  return c;
}

Deno.test("Group remembers a NotFoundError for notFoundTtl, then asks again", async () => {
  const time = clock();
  const origin = fakeOrigin();
  origin.fail = new NotFoundError("absent not found");
  const group = new Group({
    name: "nf",
    maxBytes: 1 << 20,
    getter: origin.getter,
    notFoundTtl: 5_000,
    now: time.now,
  });
  for (let i = 0; i < 100; i++) {
    await assert.rejects(
      group.get("absent"),
      (e) => e instanceof NotFoundError && /absent not found/.test(e.message),
    );
  }
  assert.equal(origin.calls, 1);
  assert.equal(group.cachedEntry("absent"), undefined, "a server takes getEntry's way for it");
  await assert.rejects(group.getEntry("absent"), NotFoundError);
  time.ms += 4_999;
  await assert.rejects(group.get("absent"), NotFoundError);
  assert.equal(origin.calls, 1);
  time.ms += 1;
  await assert.rejects(group.get("absent"), NotFoundError);
  assert.equal(origin.calls, 2);
  assert.ok(group.cacheStats("main").bytes > 0, "the negative entry counts against the budget");
});

Deno.test("Group.set replaces a remembered miss, and notFoundTtl 0 remembers nothing", async (t) => {
  await t.step("set", async () => {
    const origin = fakeOrigin();
    origin.fail = new NotFoundError("nope");
    const group = new Group({
      name: "nfs",
      maxBytes: 1 << 20,
      getter: origin.getter,
      notFoundTtl: 60_000,
    });
    await assert.rejects(group.get("k"), NotFoundError);
    await group.set("k", "stored");
    assert.equal((await group.get("k")).text(), "stored");
    assert.equal(origin.calls, 1);
  });
  await t.step("off", async () => {
    const origin = fakeOrigin();
    origin.fail = new NotFoundError("nope");
    const group = new Group({ name: "nf0", maxBytes: 1 << 20, getter: origin.getter });
    await assert.rejects(group.get("k"), NotFoundError);
    await assert.rejects(group.get("k"), NotFoundError);
    assert.equal(origin.calls, 2);
  });
  await t.step("other errors are never remembered", async () => {
    const origin = fakeOrigin();
    origin.fail = new Error("down");
    const group = new Group({
      name: "nfe",
      maxBytes: 1 << 20,
      getter: origin.getter,
      notFoundTtl: 60_000,
    });
    await assert.rejects(group.get("k"), /down/);
    await assert.rejects(group.get("k"), /down/);
    assert.equal(origin.calls, 2);
  });
});

Deno.test("Group serves a stale value at once within staleWhileRevalidate, refreshing it once", async () => {
  const time = clock();
  const origin = fakeOrigin();
  const group = new Group({
    name: "swr",
    maxBytes: 1 << 20,
    getter: origin.getter,
    ttl: 1_000,
    staleWhileRevalidate: 10_000,
    now: time.now,
  });
  assert.equal((await group.get("k")).text(), "v1:k");
  time.ms += 1_000; // just past the TTL
  origin.value = "v2";
  origin.hold = true;
  // Many gets while the refresh is held open: all answered stale, one load.
  for (let i = 0; i < 50; i++) assert.equal((await group.get("k")).text(), "v1:k");
  assert.equal((await group.getEntry("k")).ttl, 1, "a stale value's TTL reads as 1 ms");
  assert.equal(origin.calls, 2);
  assert.equal(group.stats().refreshes, 1);
  assert.equal(group.stats().staleServed, 51);
  const refreshed = new Promise<void>((resolve) => {
    const release = origin.release!;
    origin.release = undefined;
    release();
    queueMicrotask(resolve);
  });
  await refreshed;
  // The refresh lands within a few turns; poll without sleeping.
  for (let turn = 0; turn < 100 && group.stats().localLoads < 2; turn++) await Promise.resolve();
  assert.equal((await group.get("k")).text(), "v2:k");
  assert.equal(group.stats().localLoads, 2);
});

Deno.test("Group loads afresh once a value is past its stale window", async () => {
  const time = clock();
  const origin = fakeOrigin();
  const group = new Group({
    name: "swr-end",
    maxBytes: 1 << 20,
    getter: origin.getter,
    ttl: 1_000,
    staleWhileRevalidate: 500,
    now: time.now,
  });
  await group.get("k");
  origin.value = "v2";
  time.ms += 1_500; // TTL + the whole window
  assert.equal((await group.get("k")).text(), "v2:k", "waited for the load");
  assert.equal(group.stats().staleServed, 0);
});

Deno.test("Group answers a failed load with the stale value within staleIfError, the error after", async () => {
  const time = clock();
  const origin = fakeOrigin();
  const group = new Group({
    name: "sie",
    maxBytes: 1 << 20,
    getter: origin.getter,
    ttl: 1_000,
    staleIfError: 60_000,
    now: time.now,
  });
  await group.get("k");
  origin.fail = new Error("origin down");
  time.ms += 30_000;
  assert.equal((await group.get("k")).text(), "v1:k");
  assert.equal((await group.getEntry("k")).value.text(), "v1:k");
  assert.equal(group.stats().staleServed, 2);
  assert.equal(origin.calls, 3, "each get past the TTL tries the origin first");
  time.ms += 31_000; // past TTL + staleIfError
  await assert.rejects(group.get("k"), /origin down/);
  origin.fail = undefined;
  origin.value = "v2";
  assert.equal((await group.get("k")).text(), "v2:k");
});

Deno.test("Group does not serve stale over a NotFoundError: the key is gone", async () => {
  const time = clock();
  const origin = fakeOrigin();
  const group = new Group({
    name: "sie-nf",
    maxBytes: 1 << 20,
    getter: origin.getter,
    ttl: 1_000,
    staleIfError: 60_000,
    now: time.now,
  });
  await group.get("k");
  origin.fail = new NotFoundError("deleted");
  time.ms += 2_000;
  await assert.rejects(group.get("k"), NotFoundError);
});

Deno.test("A getter's own stale windows override the group's", async () => {
  const time = clock();
  let calls = 0;
  const group = new Group({
    name: "own",
    maxBytes: 1 << 20,
    now: time.now,
    getter: () => {
      if (++calls > 1) throw new Error("down");
      return { value: "v", ttl: 1_000, staleIfError: 5_000 };
    },
  });
  await group.get("k");
  time.ms += 3_000;
  assert.equal((await group.get("k")).text(), "v");
  time.ms += 3_000;
  await assert.rejects(group.get("k"), /down/);
  assert.throws(
    () => new Group({ name: "bad", maxBytes: 0, getter: () => "", staleIfError: -1 }),
    /staleIfError must be a non-negative number of milliseconds: received -1/,
  );
});

Deno.test("Group counts W-TinyLFU admissions, and policy lru keeps the old cache", async (t) => {
  for (const policy of ["tinylfu", "lru"] as const) {
    await t.step(policy, async () => {
      const group = new Group({
        name: `p-${policy}`,
        maxBytes: 100 * 10,
        entryOverhead: 0,
        policy,
        getter: (key) => "x".repeat(100 - key.length),
      });
      for (let i = 0; i < 200; i++) await group.get(`k${i}`.padEnd(5, "-"));
      const main = group.cacheStats("main");
      assert.ok(main.bytes <= 1000);
      assert.equal(main.admitted + main.rejected >= 190, true);
      if (policy === "lru") assert.equal(main.rejected, 0);
      else assert.ok(main.rejected > 0);
    });
  }
  assert.throws(
    () => new Group({ name: "x", maxBytes: 0, getter: () => "", policy: "lfu" as "lru" }),
    /policy must be "tinylfu" or "lru": received "lfu"/,
  );
});
