import assert from "node:assert/strict";
import { ByteView } from "./byte_view.ts";
import { LruCache } from "./lru.ts";
import { seededRandom } from "./_testing.ts";

function view(length: number): ByteView {
  return ByteView.from(new Uint8Array(length));
}

Deno.test("LruCache evicts the oldest entry once maxBytes is exceeded", () => {
  const evicted: string[] = [];
  const cache = new LruCache<ByteView>({ maxBytes: 10, onEvicted: (key) => evicted.push(key) });
  cache.add("a", view(4)); // 5 bytes
  cache.add("b", view(4)); // 10
  cache.get("a"); // a is now the most recent
  cache.add("c", view(4)); // 15: evicts b
  assert.deepEqual(evicted, ["b"]);
  assert.equal(cache.bytes, 10);
  assert.ok(cache.peek("a") && cache.peek("c") && !cache.peek("b"));
  assert.deepEqual(cache.stats(), {
    bytes: 10,
    items: 2,
    gets: 1,
    hits: 1,
    evictions: 1,
    admitted: 3,
    rejected: 0,
  });
});

Deno.test("LruCache counts key bytes as UTF-8 and accounts for replaced values", () => {
  const cache = new LruCache<ByteView>();
  cache.add("日本", view(3)); // 6 + 3
  assert.equal(cache.bytes, 9);
  cache.add("日本", view(10));
  assert.equal(cache.bytes, 16);
  cache.add("日本", view(1));
  assert.equal(cache.bytes, 7);
  assert.equal(cache.size, 1);
  assert.ok(cache.remove("日本"));
  assert.equal(cache.bytes, 0);
  assert.ok(!cache.remove("日本"));
});

Deno.test("LruCache does not keep an entry larger than its budget", () => {
  const cache = new LruCache<ByteView>({ maxBytes: 5 });
  cache.add("a", view(2));
  cache.add("big", view(10));
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

Deno.test("LruCache expires entries lazily on read", () => {
  let now = 1000;
  const cache = new LruCache<ByteView>({ now: () => now });
  cache.add("a", view(1), { expiresAt: 1500 });
  cache.add("b", view(1));
  assert.ok(cache.get("a"));
  now = 1500;
  assert.equal(cache.peek("a"), undefined);
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 1); // dropped on read
  assert.ok(cache.get("b"));
});

Deno.test("LruCache rejects a negative budget", () => {
  assert.throws(() => new LruCache({ maxBytes: -1 }), /non-negative number: received -1/);
});

Deno.test("LruCache hands onEvicted the evicted value and starts afresh after clear", () => {
  const evicted: [string, number][] = [];
  const cache = new LruCache<ByteView>({
    onEvicted: (key, value) => evicted.push([key, value.length]),
  });
  // More entries than the tables start with, so that they grow on the way.
  for (let i = 0; i < 100; i++) cache.add(`k${i}`, view(i));
  for (let i = 0; i < 3; i++) cache.removeOldest();
  assert.deepEqual(evicted, [["k0", 0], ["k1", 1], ["k2", 2]]);
  assert.equal(cache.get("k50")?.length, 50);

  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
  assert.equal(cache.peek("k50"), undefined);
  assert.equal(cache.removeOldest(), false);
  cache.add("a", view(1));
  cache.add("b", view(2));
  cache.removeOldest();
  assert.deepEqual(evicted.at(-1), ["a", 1]);
  assert.equal(cache.get("b")?.length, 2);
});

Deno.test("LruCache never exceeds its budget and matches a simple model", () => {
  const random = seededRandom(42);
  const maxBytes = 200;
  const cache = new LruCache<ByteView>({ maxBytes });
  // The model: keys in recency order (oldest first) with their sizes.
  let model: { key: string; size: number }[] = [];
  const modelBytes = () => model.reduce((n, e) => n + e.size, 0);
  for (let step = 0; step < 20_000; step++) {
    const key = `k${Math.floor(random() * 40)}`;
    const op = random();
    if (op < 0.5) {
      const length = Math.floor(random() * 60);
      cache.add(key, view(length));
      model = model.filter((e) => e.key !== key);
      model.push({ key, size: key.length + length });
      while (modelBytes() > maxBytes) model.shift();
    } else if (op < 0.8) {
      const hit = cache.get(key) !== undefined;
      const i = model.findIndex((e) => e.key === key);
      assert.equal(hit, i >= 0);
      if (i >= 0) model.push(...model.splice(i, 1));
    } else if (op < 0.95) {
      assert.equal(cache.remove(key), model.some((e) => e.key === key));
      model = model.filter((e) => e.key !== key);
    } else {
      assert.equal(cache.removeOldest(), model.length > 0);
      model.shift();
    }
    assert.ok(cache.bytes <= maxBytes);
    assert.equal(cache.bytes, modelBytes());
    assert.equal(cache.size, model.length);
  }
  // Recency order agrees too: evicting everything follows the model's order.
  const order: string[] = [];
  const drain = new LruCache<ByteView>({ onEvicted: (key) => order.push(key) });
  for (const e of model) drain.add(e.key, view(0));
  while (drain.removeOldest());
  assert.deepEqual(order, model.map((e) => e.key));
});
