import assert from "node:assert/strict";
import { SingleFlight } from "./singleflight.ts";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

Deno.test("SingleFlight runs one call for concurrent callers of a key", async () => {
  const flight = new SingleFlight<string>();
  const gate = deferred<string>();
  let calls = 0;
  const results = Array.from({ length: 100 }, () =>
    flight.do("k", () => {
      calls++;
      return gate.promise;
    }));
  const other = flight.do("other", () => "x");
  assert.equal(flight.size, 2);
  gate.resolve("v");
  assert.deepEqual(new Set(await Promise.all(results)), new Set(["v"]));
  assert.equal(await other, "x");
  assert.equal(calls, 1);
  assert.equal(flight.size, 0);
});

Deno.test("SingleFlight gives every waiter the error and does not keep it", async () => {
  const flight = new SingleFlight<string>();
  let calls = 0;
  const fail = () => {
    calls++;
    return Promise.reject(new Error("boom"));
  };
  const results = await Promise.allSettled([flight.do("k", fail), flight.do("k", fail)]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  assert.equal(await flight.do("k", () => "ok"), "ok");
  assert.equal(calls, 1);
});

Deno.test("SingleFlight turns a synchronous throw into a rejection", async () => {
  const flight = new SingleFlight<string>();
  await assert.rejects(
    flight.do("k", () => {
      throw new TypeError("sync");
    }),
    TypeError,
  );
});

Deno.test("SingleFlight lets one caller give up without failing the others", async () => {
  const flight = new SingleFlight<string>();
  const gate = deferred<string>();
  let inner: AbortSignal | undefined;
  const impatient = new AbortController();
  const a = flight.do("k", (signal) => {
    inner = signal;
    return gate.promise;
  }, { signal: impatient.signal });
  const b = flight.do("k", () => gate.promise, { signal: new AbortController().signal });
  impatient.abort(new DOMException("gave up", "AbortError"));
  await assert.rejects(a, { name: "AbortError" });
  assert.equal(inner?.aborted, false);
  gate.resolve("v");
  assert.equal(await b, "v");
});

Deno.test("SingleFlight aborts the call once every caller has given up", async () => {
  const flight = new SingleFlight<string>();
  let inner: AbortSignal | undefined;
  const c1 = new AbortController();
  const c2 = new AbortController();
  const fn = (signal: AbortSignal) => {
    inner = signal;
    return new Promise<string>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
  const a = flight.do("k", fn, { signal: c1.signal });
  const b = flight.do("k", fn, { signal: c2.signal });
  c1.abort();
  c2.abort();
  await Promise.allSettled([a, b]);
  assert.equal(inner?.aborted, true);
  // The next caller starts a fresh call rather than joining the aborted one.
  assert.equal(await flight.do("k", () => "fresh"), "fresh");
  await assert.rejects(flight.do("k", () => "x", { signal: AbortSignal.abort() }));
});

Deno.test("SingleFlight.forget lets later callers start a new call", async () => {
  const flight = new SingleFlight<string>();
  const gate = deferred<string>();
  const old = flight.do("k", () => gate.promise);
  assert.ok(flight.has("k"));
  assert.equal(flight.forget("k"), old);
  assert.ok(!flight.has("k"));
  assert.equal(await flight.do("k", () => "new"), "new");
  gate.resolve("old");
  assert.equal(await old, "old");
  assert.equal(flight.forget("absent"), undefined);
});
