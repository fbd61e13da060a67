import assert from "node:assert/strict";
import { AbsenceGrace, type Clock, tcpReachable } from "./_absence.ts";

const GRACE_MS = 5000;
const RECHECK_MS = 1000;
const CHECK_TIMEOUT_MS = 800;
const A = "127.0.0.1:8001";
const B = "127.0.0.1:8002";
const C = "127.0.0.1:8003";

// A clock that moves only when told to, running the timers that fall due.
class FakeClock implements Clock {
  #now = 0;
  #next = 0;
  #timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): number {
    this.#timers.set(++this.#next, { at: this.#now + ms, callback });
    return this.#next;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  // Moves to `now + ms`, running each due timer at its time and letting the
  // checks it starts settle before the next one.
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) =>
        t.at <= until
      ).sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].callback();
      await settle();
    }
    this.#now = until;
    await settle();
  }
}

// The promises a check chains are all resolved already: one macrotask turn
// runs them to the end.
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// A fake reachability check with counters: `answers` says who answers
// (a member missing from it never answers at all).
function fakeMembers(answers: Record<string, boolean>) {
  const asked: string[] = [];
  const aborted: string[] = [];
  return {
    asked,
    aborted,
    answers,
    isReachable(member: string, signal: AbortSignal): Promise<boolean> {
      asked.push(member);
      if (member in answers) return Promise.resolve(answers[member]);
      signal.addEventListener("abort", () => aborted.push(member));
      return new Promise(() => {});
    },
  };
}

function setup(answers: Record<string, boolean>) {
  const clock = new FakeClock();
  const members = fakeMembers(answers);
  const dropped: string[][] = [];
  const holds: string[][] = [];
  const grace = new AbsenceGrace({
    graceMs: GRACE_MS,
    recheckMs: RECHECK_MS,
    checkTimeoutMs: CHECK_TIMEOUT_MS,
    isReachable: (member, signal) => members.isReachable(member, signal),
    onDrop: (gone) => dropped.push(gone),
    onHold: (held) => holds.push(held),
    clock,
  });
  return { clock, members, dropped, holds, grace };
}

const ids = (...members: string[]) => new Map(members.map((m) => [m, `${m}@1`]));

Deno.test("AbsenceGrace applies a leave at once outside a grace window", () => {
  const { grace, members, clock } = setup({ [A]: true });
  const kept = grace.keep(ids(A, B), ids(B));
  assert.deepEqual([...kept.keys()], [B]);
  assert.deepEqual([...grace.held], []);
  assert.deepEqual(members.asked, []);
  assert.equal(clock.pending, 0);
});

Deno.test("AbsenceGrace keeps every member through a reconnect that finds etcd empty", async () => {
  const { grace, members, clock, dropped } = setup({ [A]: true, [B]: true, [C]: true });
  grace.reconnected();
  const kept = grace.keep(ids(A, B, C), new Map());
  assert.deepEqual([...kept].sort(), [...ids(A, B, C)].sort());
  await clock.advance(GRACE_MS - 1);
  assert.deepEqual(members.asked, [], "nobody is asked before the window closes");
  // They all answer when asked: all kept.
  await clock.advance(1);
  assert.deepEqual(members.asked.sort(), [A, B, C]);
  assert.deepEqual(dropped, []);
  assert.deepEqual([...grace.keep(kept, new Map()).keys()].sort(), [A, B, C]);
  grace.stop();
});

Deno.test("AbsenceGrace drops a lost member once the window closes only if it is also unreachable", async (t) => {
  await t.step("an unreachable member goes at the end of the window", async () => {
    const { grace, clock, dropped } = setup({ [A]: false, [B]: true });
    grace.reconnected();
    const kept = grace.keep(ids(A, B, C), ids(C));
    assert.deepEqual([...kept.keys()].sort(), [A, B, C]);
    await clock.advance(GRACE_MS);
    assert.deepEqual(dropped, [[A]]);
    assert.deepEqual([...grace.held], [B]);
    assert.deepEqual([...grace.keep(kept, ids(C)).keys()].sort(), [B, C]);
    grace.stop();
  });
  await t.step("a reachable member is asked again until it stops answering", async () => {
    const { grace, clock, dropped, members } = setup({ [B]: true });
    grace.reconnected();
    grace.keep(ids(B), new Map());
    await clock.advance(GRACE_MS + 3 * RECHECK_MS);
    assert.deepEqual(members.asked, [B, B, B, B]);
    assert.deepEqual(dropped, []);
    members.answers[B] = false;
    await clock.advance(RECHECK_MS);
    assert.deepEqual(dropped, [[B]]);
    assert.equal(clock.pending, 0, "nothing left to check");
  });
  await t.step("a check that never answers counts as unreachable and is aborted", async () => {
    const { grace, clock, dropped, members } = setup({});
    grace.reconnected();
    grace.keep(ids(A), new Map());
    await clock.advance(GRACE_MS + CHECK_TIMEOUT_MS - 1);
    assert.deepEqual(dropped, []);
    await clock.advance(1);
    assert.deepEqual(dropped, [[A]]);
    assert.deepEqual(members.aborted, [A]);
  });
  await t.step("a check that throws counts as unreachable", async () => {
    const clock = new FakeClock();
    const dropped: string[][] = [];
    const grace = new AbsenceGrace({
      graceMs: GRACE_MS,
      recheckMs: RECHECK_MS,
      checkTimeoutMs: CHECK_TIMEOUT_MS,
      isReachable: () => Promise.reject(new Error("no route to host")),
      onDrop: (gone) => dropped.push(gone),
      clock,
    });
    grace.reconnected();
    grace.keep(ids(A), new Map());
    await clock.advance(GRACE_MS);
    assert.deepEqual(dropped, [[A]]);
  });
});

Deno.test("AbsenceGrace releases a member that registers again, under its new registration", async () => {
  const { grace, clock, members, dropped } = setup({ [A]: false, [B]: false });
  grace.reconnected();
  const held = grace.keep(ids(A, B), new Map());
  const again = new Map([[A, `${A}@2`]]);
  const kept = grace.keep(held, again);
  assert.equal(kept.get(A), `${A}@2`);
  assert.deepEqual([...grace.held], [B]);
  await clock.advance(GRACE_MS);
  assert.deepEqual(members.asked, [B], "a member back in etcd is not asked");
  assert.deepEqual(dropped, [[B]]);
});

Deno.test("AbsenceGrace holds leaves within the window, and a second reconnect extends it", async () => {
  const { grace, clock, dropped, members } = setup({ [A]: false, [B]: false });
  grace.reconnected();
  let kept = grace.keep(ids(A, B), ids(A, B));
  await clock.advance(GRACE_MS - 1000);
  // A delete event inside the window (etcd expiring what it lost track of).
  kept = grace.keep(kept, ids(B));
  assert.deepEqual([...kept.keys()].sort(), [A, B]);
  grace.reconnected();
  await clock.advance(1000);
  assert.deepEqual(members.asked, [], "the window was extended");
  await clock.advance(GRACE_MS - 1000);
  assert.deepEqual(dropped, [[A]]);
  grace.stop();
});

Deno.test("AbsenceGrace holds every leave while etcd is lost, until a grace period after it is back", async () => {
  const { grace, clock, dropped, members, holds } = setup({ [A]: false, [B]: false });
  grace.lost();
  // A hung etcd that runs again expires the leases it could not renew.
  let kept = grace.keep(ids(A, B, C), ids(C));
  kept = grace.keep(kept, new Map());
  assert.deepEqual([...kept.keys()].sort(), [A, B, C]);
  assert.deepEqual(holds, [[A, B], [C]], "each member is reported once, when it is first held");
  await clock.advance(10 * GRACE_MS);
  assert.deepEqual(members.asked, [], "nobody is asked while etcd is lost");
  assert.equal(clock.pending, 0);
  grace.reconnected();
  grace.keep(kept, ids(C));
  await clock.advance(GRACE_MS);
  assert.deepEqual(dropped, [[A, B]]);
});

Deno.test("AbsenceGrace.stop cancels the checks in flight and drops nothing afterwards", async () => {
  const { grace, clock, dropped, members } = setup({});
  grace.reconnected();
  grace.keep(ids(A), new Map());
  await clock.advance(GRACE_MS);
  assert.deepEqual(members.asked, [A]);
  grace.stop();
  assert.deepEqual(members.aborted, [A]);
  await clock.advance(10 * GRACE_MS);
  assert.deepEqual(dropped, []);
  assert.deepEqual([...grace.held], [A]);
});

Deno.test("AbsenceGrace refuses a negative grace period", () => {
  assert.throws(
    () =>
      new AbsenceGrace({
        graceMs: -1,
        recheckMs: 1,
        checkTimeoutMs: 1,
        isReachable: () => Promise.resolve(true),
        onDrop: () => {},
      }),
    RangeError,
  );
});

Deno.test("tcpReachable says whether a TCP listener answers at the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const accepting = listener.accept().then((conn) => conn.close());
  assert.equal(await tcpReachable(addr, new AbortController().signal), true);
  await accepting;
  listener.close();
  assert.equal(await tcpReachable(addr, new AbortController().signal), false);
  assert.equal(await tcpReachable("no-port", new AbortController().signal), false);
});
