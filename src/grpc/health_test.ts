import assert from "node:assert/strict";
import { MemberHealth } from "./health.ts";

const A = "127.0.0.1:8001";

Deno.test("MemberHealth waits 4 x a member's recent p99, and at least minHedgeMs", () => {
  const health = new MemberHealth({ minHedgeMs: 50 });
  assert.equal(health.budget(A), 50);
  for (let i = 0; i < 128; i++) health.answered(A, i < 120 ? 1 : 40);
  assert.equal(health.budget(A), 160);
  health.close();
});

Deno.test("MemberHealth makes a member suspect after failuresToSuspect failures; an answer resets the count", () => {
  const health = new MemberHealth({ failuresToSuspect: 3, recheckMs: 60_000 });
  health.failed(A);
  health.failed(A);
  health.answered(A, 1);
  health.failed(A);
  health.failed(A);
  assert.equal(health.suspect(A), false);
  health.failed(A);
  assert.equal(health.suspect(A), true);
  health.close();
});

Deno.test("MemberHealth with a check clears a suspect member only when the check passes", async () => {
  let answers = false;
  const checked = Promise.withResolvers<void>();
  const health = new MemberHealth({
    recheckMs: 1,
    check: () => {
      if (answers) checked.resolve();
      return Promise.resolve(answers);
    },
  });
  const changes: boolean[] = [];
  health.subscribe(() => changes.push(health.suspect(A)));
  health.suspectNow(A);
  health.answered(A, 1); // a late answer from before the freeze: not enough
  assert.equal(health.suspect(A), true);
  answers = true;
  await checked.promise;
  await new Promise((resolve) => setTimeout(resolve, 0)); // the listener runs on a later tick
  assert.equal(health.suspect(A), false);
  assert.deepEqual(changes.at(-1), false);
  health.close();
});

Deno.test("MemberHealth.ping counts an answer as an answer and no answer as suspect, one ping at a time", async () => {
  let pings = 0;
  let alive = true;
  const health = new MemberHealth({
    recheckMs: 60_000,
    ping: () => (pings++, Promise.resolve(alive)),
  });
  assert.equal(health.silentFor(A), Infinity);
  const [first, second] = await Promise.all([health.ping(A), health.ping(A)]);
  assert.deepEqual([first, second, pings], [true, true, 1]);
  assert.ok(health.silentFor(A) < Infinity);
  alive = false;
  assert.equal(await health.ping(A), false);
  assert.equal(health.suspect(A), true);
  health.forget(A);
  assert.equal(health.suspect(A), false);
  health.close();
});
