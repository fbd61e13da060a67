// The get-hit path of the core against npm:lru-cache, the baseline, in one
// `deno bench` group so that Deno prints the ratios of a single run.
//
// Each iteration does 100 gets: one async get is shorter than Deno.bench's
// own per-iteration cost for an async function, which would otherwise be
// most of what is measured.
import { LRUCache } from "lru-cache";
import { ByteView } from "./byte_view.ts";
import { Group } from "./group.ts";
import { LruCache } from "./lru.ts";

const COUNT = 10_000;
const BATCH = 100;
const keys = Array.from({ length: COUNT }, (_, i) => `key-${i}`);
const value = ByteView.from("x".repeat(100));

const baseline = new LRUCache<string, ByteView>({ max: COUNT * 2 });
const lru = new LruCache<ByteView>();
const group = new Group({ name: "bench", maxBytes: 1 << 30, getter: () => value.unsafeBytes() });
for (const key of keys) {
  baseline.set(key, value);
  lru.add(key, value);
  await group.get(key);
}
if (group.stats().localLoads !== COUNT) throw new Error("the group did not load every key");

// Walk the keys with a stride so that consecutive gets touch different entries.
let i = 0;
function nextKey(): string {
  i = (i + 7919) % COUNT;
  return keys[i];
}

Deno.bench(
  `npm:lru-cache get (hit) x${BATCH}`,
  { group: "get-hit", baseline: true },
  () => {
    for (let n = 0; n < BATCH; n++) baseline.get(nextKey());
  },
);

Deno.bench(`LruCache.get (hit) x${BATCH}`, { group: "get-hit" }, () => {
  for (let n = 0; n < BATCH; n++) lru.get(nextKey());
});

Deno.bench(`Group.get (hit) x${BATCH}`, { group: "get-hit" }, () => {
  for (let n = 0; n < BATCH; n++) group.get(nextKey());
});

Deno.bench(`Group.get (hit) x${BATCH}, each awaited`, { group: "get-hit" }, async () => {
  for (let n = 0; n < BATCH; n++) await group.get(nextKey());
});

Deno.bench(
  `npm:lru-cache get (hit) x${BATCH}, each awaited`,
  { group: "get-hit" },
  async () => {
    for (let n = 0; n < BATCH; n++) await baseline.get(nextKey());
  },
);
