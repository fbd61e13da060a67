import assert from "node:assert/strict";
import { TinyLfuCache } from "./_tiny_lfu.ts";
import { type Frequencies, hashKey } from "./_sketch.ts";
import { seededRandom } from "./_testing.ts";

interface Sized {
  readonly length: number;
}

// An exact frequency table that never ages (so the hill climber never runs).
class ExactFrequencies implements Frequencies {
  readonly sampleSize = Infinity;
  counts = new Map<number, number>();
  increment(hash: number, times = 1): void {
    this.counts.set(hash, (this.counts.get(hash) ?? 0) + times);
  }
  frequency(hash: number): number {
    return this.counts.get(hash) ?? 0;
  }
  ensureCapacity(): void {}
}

interface Entry {
  key: string;
  size: number;
}

// W-TinyLFU written the plain way: three arrays, oldest first, and the
// same exact frequencies. The real cache must agree with it entry by entry.
class Model {
  segments: Entry[][] = [[], [], []]; // window, probation, protected
  windowMax: number;
  protectedMax: number;
  constructor(maxBytes: number, readonly frequency: (key: string) => number) {
    this.windowMax = Math.max(1, Math.floor(maxBytes * 0.01));
    this.protectedMax = Math.floor((maxBytes - this.windowMax) * 0.8);
  }
  bytes(segment?: number): number {
    const of = (s: Entry[]) => s.reduce((n, e) => n + e.size, 0);
    return segment === undefined
      ? this.segments.reduce((n, s) => n + of(s), 0)
      : of(this.segments[segment]);
  }
  find(key: string): [number, number] {
    for (let s = 0; s < 3; s++) {
      const i = this.segments[s].findIndex((e) => e.key === key);
      if (i >= 0) return [s, i];
    }
    return [-1, -1];
  }
  take(key: string): Entry | undefined {
    const [s, i] = this.find(key);
    return s < 0 ? undefined : this.segments[s].splice(i, 1)[0];
  }
  get(key: string): boolean {
    const [s] = this.find(key);
    if (s < 0) return false;
    const entry = this.take(key)!;
    this.segments[s === 1 ? 2 : s].push(entry);
    if (s === 1) {
      const prot = this.segments[2];
      while (this.bytes(2) > this.protectedMax && prot[0] !== entry) {
        this.segments[1].push(prot.shift()!);
      }
    }
    return true;
  }
  add(key: string, size: number): void {
    const [s] = this.find(key);
    this.take(key);
    this.segments[s < 0 ? 0 : s].push({ key, size });
  }
  evictTo(limit: number): void {
    while (this.bytes(0) > this.windowMax) this.admit(this.segments[0][0], limit);
    while (this.bytes() > limit) {
      const from = this.segments[1].length ? 1 : this.segments[2].length ? 2 : 0;
      if (!this.segments[from].shift()) break;
    }
  }
  admit(candidate: Entry, limit: number): void {
    const over = this.bytes() - limit;
    let victims: Entry[] | undefined = [];
    if (over > 0) victims = candidate.size > limit ? undefined : this.victims(candidate, over);
    this.take(candidate.key);
    if (victims === undefined) return;
    for (const v of victims) this.take(v.key);
    this.segments[1].push(candidate);
  }
  victims(candidate: Entry, over: number): Entry[] | undefined {
    const pool: Entry[] = [];
    let total = 0;
    for (const e of [...this.segments[1], ...this.segments[2]]) {
      if (pool.length >= 8 && total >= over) break;
      pool.push(e);
      total += e.size;
    }
    const sorted = pool.map((e, i) => ({ e, i, f: this.frequency(e.key) }))
      .sort((a, b) => a.f - b.f || a.i - b.i);
    const mine = this.frequency(candidate.key);
    const victims: Entry[] = [];
    let freed = 0;
    for (const { e, f } of sorted) {
      if (freed >= over) break;
      if (mine <= f) return undefined;
      victims.push(e);
      freed += e.size;
    }
    return victims;
  }
}

Deno.test("W-TinyLFU agrees with a plain model on exact frequencies, and keeps its budget", () => {
  const random = seededRandom(21);
  const maxBytes = 2_000;
  const frequencies = new ExactFrequencies();
  const cache = new TinyLfuCache<Sized>({
    maxBytes,
    sizeOf: (_key, value) => value.length,
    now: () => 0,
    random: () => 0.5, // never the flood guard's 1 in 128
    frequencies,
  });
  const model = new Model(maxBytes, (key) => frequencies.frequency(hashKey(key)));
  for (let step = 0; step < 20_000; step++) {
    // Skewed keys, so that frequencies differ and admission has work to do.
    const key = `k${Math.floor(random() ** 2 * 300)}`;
    const op = random();
    const limit = random() < 0.1 ? Math.floor(random() * maxBytes) : maxBytes;
    if (op < 0.6) {
      const hit = cache.get(key) !== undefined;
      assert.equal(hit, model.get(key), `step ${step}: get ${key}`);
      if (!hit) {
        cache.record(key);
        // A large value now and then, which must beat several victims.
        const size = random() < 0.05
          ? 100 + Math.floor(random() * 400)
          : 1 + Math.floor(random() * 40);
        cache.add(key, { length: size });
        model.add(key, size);
      }
    } else if (op < 0.7) {
      assert.equal(cache.remove(key), model.take(key) !== undefined);
    }
    cache.evictTo(limit);
    model.evictTo(limit);
    assert.ok(cache.bytes <= limit, `step ${step}: ${cache.bytes} bytes over ${limit}`);
    assert.equal(cache.bytes, model.bytes());
    assert.equal(cache.size, model.segments.flat().length);
  }
  const stats = cache.stats();
  assert.ok(stats.admitted > 100 && stats.rejected > 100, JSON.stringify(stats));
});

Deno.test("W-TinyLFU keeps frequent keys through a scan that would flush an LRU", () => {
  const cache = new TinyLfuCache<Sized>({
    maxBytes: 100 * 10,
    sizeOf: () => 10,
    now: () => 0,
    random: Math.random,
  });
  const touch = (key: string) => {
    if (cache.get(key) !== undefined) return;
    cache.record(key);
    cache.add(key, { length: 10 });
    cache.evictTo(1000);
  };
  // Each round asks for every hot key once, then for 500 keys never seen again.
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 90; i++) touch(`hot${i}`);
    for (let i = 0; i < 500; i++) touch(`scan${round}-${i}`);
  }
  let kept = 0;
  for (let i = 0; i < 90; i++) if (cache.expiresAt(`hot${i}`) !== undefined) kept++;
  assert.ok(kept >= 75, `${kept} of 90 hot keys kept`); // an LRU keeps none
  assert.ok(cache.stats().rejected > 9_000);
});

Deno.test("W-TinyLFU lets a large candidate in only if it beats every victim it needs", async (t) => {
  const make = () => {
    const frequencies = new ExactFrequencies();
    const cache = new TinyLfuCache<Sized>({
      maxBytes: 1000,
      sizeOf: (_key, value) => value.length,
      now: () => 0,
      random: () => 0.5,
      frequencies,
    });
    // 100 small entries, each asked for 3 times, filling the budget.
    for (let i = 0; i < 100; i++) {
      for (let n = 0; n < 3; n++) frequencies.increment(hashKey(`s${i}`));
      cache.add(`s${i}`, { length: 10 });
      cache.evictTo(1000);
    }
    return { cache, frequencies };
  };
  // The window (10 bytes) holds s99, which leaves it first and loses to
  // its equally frequent victim either way.
  await t.step("asked for as often as the victims: turned away, nothing evicted", () => {
    const { cache, frequencies } = make();
    for (let n = 0; n < 3; n++) frequencies.increment(hashKey("big"));
    cache.add("big", { length: 300 });
    cache.evictTo(1000);
    assert.equal(cache.expiresAt("big"), undefined);
    assert.equal(cache.size, 99);
    assert.deepEqual([cache.stats().rejected, cache.stats().evictions], [2, 2]);
  });
  await t.step("asked for more often: admitted in place of 29 small ones", () => {
    const { cache, frequencies } = make();
    for (let n = 0; n < 4; n++) frequencies.increment(hashKey("big"));
    cache.add("big", { length: 300 });
    cache.evictTo(1000);
    assert.equal(cache.expiresAt("big"), 0);
    assert.equal(cache.size, 71);
    assert.equal(cache.bytes, 1000);
  });
});

Deno.test("W-TinyLFU's hit answers only for live entries it may hand out, and counts as a get", () => {
  let now = 0;
  let made = 0;
  const cache = new TinyLfuCache<{ length: number; plain: boolean }, string>({
    maxBytes: 1000,
    sizeOf: (_key, value) => value.length,
    now: () => now,
    random: () => 0.5,
    handsOut: (value) => value.plain,
    handOut: () => `out${++made}`,
  });
  cache.add("plain", { length: 10, plain: true });
  cache.add("other", { length: 10, plain: false });
  cache.add("expiring", { length: 10, plain: true }, { expiresAt: 5 });
  cache.evictTo(1000);
  assert.equal(cache.hit("plain"), "out1");
  assert.equal(cache.hit("plain"), "out1", "made once, then kept");
  assert.equal(cache.hit("other"), undefined);
  assert.equal(cache.hit("absent"), undefined);
  assert.equal(cache.hit("expiring"), "out2");
  now = 5;
  assert.equal(cache.hit("expiring"), undefined);
  assert.deepEqual([cache.stats().gets, cache.stats().hits], [3, 3], "only answers count");
  assert.equal(cache.get("expiring"), undefined, "get still drops the expired entry");
  cache.add("plain", { length: 10, plain: false });
  assert.equal(cache.hit("plain"), undefined, "a replaced value is weighed again");
});
