// What tests/browser_core_test.ts has the core do in a browser page. The
// page gets `checkCore`'s source (`checkCore.toString()`) and calls it with
// the bundle's exports, so it must use nothing but its argument and
// built-ins; typing the argument as mod.ts keeps it in step with the API.
// The test runs it under Deno too, as the reference.
import type * as Core from "../mod.ts";

/** What the page found, as JSON; `userAgent` says which runtime ran it. */
export interface CoreResults {
  userAgent: string;
  missThenHit: {
    values: string[];
    getterCalls: number;
    gets: number;
    cacheHits: number;
    localLoads: number;
  };
  singleFlight: {
    groupValues: string[];
    groupLoads: number;
    /** Gets that missed, and of those the loads past singleflight. */
    loads: number;
    loadsDeduped: number;
    flightCalls: number;
    inFlight: number;
    afterwards: number;
  };
  setRemove: { stored: string; afterRemove: string; getterCalls: number };
  ring: { members: string[]; owners: (string | undefined)[]; movedOnlyFromRemoved: boolean };
  errors: {
    notFound: { isClass: boolean; isError: boolean; name: string; message: string; http: number };
    invalidKey: { isClass: boolean; name: string; http: number };
  };
  policy: { default: PolicyRun; lru: PolicyRun };
}

/** A scan of one-time keys after popular ones, under one policy. */
export interface PolicyRun {
  popularReloads: number;
  rejected: number;
}

/** The checks; `core` is what `mod.ts` exports (the bundle in the page). */
export async function checkCore(core: typeof Core): Promise<CoreResults> {
  const { Group, HashRing, InvalidKeyError, NotFoundError, SingleFlight, errorStatus } = core;

  // A miss loads through the getter; the second get is a hit.
  let calls = 0;
  const scores = new Group({
    name: "scores",
    maxBytes: 1 << 20,
    getter: (key) => {
      calls++;
      if (key === "missing") throw new NotFoundError(`${key} not exist`);
      return `score of ${key}`;
    },
  });
  const values = [(await scores.get("Tom")).text(), (await scores.get("Tom")).text()];
  const { gets, cacheHits, localLoads } = scores.stats();
  const missThenHit = { values, getterCalls: calls, gets, cacheHits, localLoads };

  // Concurrent gets of one key share one load, held open until all asked.
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  let slowLoads = 0;
  const slow = new Group({
    name: "slow",
    maxBytes: 1 << 20,
    getter: async (key) => {
      slowLoads++;
      await gate;
      return `${key}!`;
    },
  });
  const pending = [1, 2, 3, 4].map(() => slow.get("k"));
  const flight = new SingleFlight<string>();
  let flightCalls = 0;
  const flown = [1, 2, 3].map(() =>
    flight.do("k", async () => {
      flightCalls++;
      await gate;
      return "v";
    })
  );
  const inFlight = flight.size;
  release();
  const groupValues = (await Promise.all(pending)).map((view) => view.text());
  await Promise.all(flown);
  const singleFlight = {
    groupValues,
    groupLoads: slowLoads,
    loads: slow.stats().loads,
    loadsDeduped: slow.stats().loadsDeduped,
    flightCalls,
    inFlight,
    afterwards: flight.size,
  };

  // set stores without the getter; remove makes the next get load again.
  const before = calls;
  await scores.set("Ann", "stored");
  const stored = (await scores.get("Ann")).text();
  await scores.remove("Ann");
  const afterRemove = (await scores.get("Ann")).text();
  const setRemove = { stored, afterRemove, getterCalls: calls - before };

  // Owners on the ring; removing a member moves only the keys it owned.
  const ring = new HashRing();
  ring.add("10.0.0.1:8001", "10.0.0.2:8001", "10.0.0.3:8001");
  const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
  const owners = keys.map((key) => ring.get(key));
  ring.remove("10.0.0.2:8001");
  const movedOnlyFromRemoved = keys.every((key, i) =>
    owners[i] === "10.0.0.2:8001" ? ring.get(key) !== owners[i] : ring.get(key) === owners[i]
  );
  const ringResult = { members: [...ring.members], owners, movedOnlyFromRemoved };

  // The errors callers catch: their own classes, names and statuses.
  const notFoundError = await scores.get("missing").then(() => undefined, (error) => error);
  const invalidKeyError = await scores.get("").then(() => undefined, (error) => error);
  const errors = {
    notFound: {
      isClass: notFoundError instanceof NotFoundError,
      isError: notFoundError instanceof Error,
      name: notFoundError?.name,
      message: notFoundError?.message,
      http: errorStatus(notFoundError).http,
    },
    invalidKey: {
      isClass: invalidKeyError instanceof InvalidKeyError,
      name: invalidKeyError?.name,
      http: errorStatus(invalidKeyError).http,
    },
  };

  // The default policy (W-TinyLFU) keeps popular keys through a scan that
  // plain LRU lets flush them.
  async function scan(policy: "lru" | undefined): Promise<PolicyRun> {
    const loaded = new Map<string, number>();
    const group = new Group({
      name: `scan-${policy ?? "default"}`,
      maxBytes: 100 * 110,
      entryOverhead: 0,
      random: () => 0.5,
      ...(policy === undefined ? {} : { policy }),
      getter: (key) => {
        loaded.set(key, (loaded.get(key) ?? 0) + 1);
        return "x".repeat(100);
      },
    });
    const popular = Array.from({ length: 50 }, (_, i) => `popular-${i}`);
    for (let round = 0; round < 5; round++) {
      for (const key of popular) await group.get(key);
    }
    for (let i = 0; i < 1000; i++) await group.get(`scan-${i}`);
    for (const key of popular) await group.get(key);
    const popularReloads = popular.reduce((sum, key) => sum + (loaded.get(key) ?? 0) - 1, 0);
    return { popularReloads, rejected: group.cacheStats("main").rejected };
  }
  const policy = { default: await scan(undefined), lru: await scan("lru") };

  return {
    userAgent: navigator.userAgent,
    missThenHit,
    singleFlight,
    setRemove,
    ring: ringResult,
    errors,
    policy,
  };
}
