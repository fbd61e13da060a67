// The traces of `deno task bench:hitratio`, and the two optima it prints
// beside the real policies: the best online policy under the independent
// reference model, and Belady's offline optimum on the trace itself.
import { seededRandom } from "../../src/_testing.ts";

/** A sequence of key ids, and which requests count towards the hit ratio. */
export interface Trace {
  /** Key ids, one per request. */
  keys: Uint32Array;
  /** Requests counted (all when undefined): a scan's one-time keys are not. */
  counted?: Uint8Array;
}

/** Cumulative weights of ranks 0..count-1 under Zipf(s), normalised to 1. */
export function zipfCdf(count: number, s: number): Float64Array {
  const cdf = new Float64Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  for (let i = 0; i < count; i++) cdf[i] /= sum;
  return cdf;
}

/** The share of requests the `capacity` most popular keys get: IRM's optimum. */
export function irmOptimum(cdf: Float64Array, capacity: number): number {
  return capacity >= cdf.length ? 1 : cdf[capacity - 1];
}

function sample(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `length` Zipf requests over `cdf`'s keys; rank r is key `order[r]` when an
 * order is given (a shuffled one keeps popular ids from being neighbours).
 */
export function zipfTrace(cdf: Float64Array, length: number, seed: number): Trace {
  const random = seededRandom(seed);
  const order = shuffled(cdf.length, random);
  const keys = new Uint32Array(length);
  for (let i = 0; i < length; i++) keys[i] = order[sample(cdf, random())];
  return { keys };
}

/** Each Zipf request followed by a key never asked for before or after (a scan). */
export function zipfWithScan(cdf: Float64Array, length: number, seed: number): Trace {
  const zipf = zipfTrace(cdf, length, seed).keys;
  const keys = new Uint32Array(length * 2);
  const counted = new Uint8Array(length * 2);
  for (let i = 0; i < length; i++) {
    keys[2 * i] = zipf[i];
    counted[2 * i] = 1;
    keys[2 * i + 1] = cdf.length + i;
  }
  return { keys, counted };
}

/** Keys 0..span-1 in order, again and again. */
export function loopTrace(span: number, length: number): Trace {
  const keys = new Uint32Array(length);
  for (let i = 0; i < length; i++) keys[i] = i % span;
  return { keys };
}

/** Zipf requests whose popular keys are reshuffled every `phase` requests. */
export function shiftingTrace(
  cdf: Float64Array,
  length: number,
  phase: number,
  seed: number,
): Trace {
  const random = seededRandom(seed);
  const keys = new Uint32Array(length);
  let order = shuffled(cdf.length, random);
  for (let i = 0; i < length; i++) {
    if (i > 0 && i % phase === 0) order = shuffled(cdf.length, random);
    keys[i] = order[sample(cdf, random())];
  }
  return { keys };
}

/** The trace with its first `warm` requests not counted (the caches fill meanwhile). */
export function afterWarmup(trace: Trace, warm: number): Trace {
  const counted = trace.counted?.slice() ?? new Uint8Array(trace.keys.length).fill(1);
  counted.fill(0, 0, warm);
  return { keys: trace.keys, counted };
}

function shuffled(count: number, random: () => number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Belady's hit ratio for `capacity` same-size entries: on a miss, keep the
 * key unless it is never asked for again, evicting the one asked for
 * furthest in the future.
 */
export function beladyHitRatio(trace: Trace, capacity: number): number {
  const { keys, counted } = trace;
  const next = nextUses(keys);
  const heap = new MaxHeap();
  const cachedUntil = new Map<number, number>(); // key -> its next use
  let hits = 0;
  let total = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const count = counted === undefined || counted[i] === 1;
    if (count) total++;
    if (cachedUntil.has(key)) {
      if (count) hits++;
    } else {
      if (next[i] === Infinity) continue;
      if (cachedUntil.size >= capacity) {
        dropStale(heap, cachedUntil);
        if (heap.topPriority() < next[i]) continue; // the newcomer is needed last
        cachedUntil.delete(heap.pop()[1]);
      }
    }
    if (next[i] === Infinity) {
      cachedUntil.delete(key);
      continue;
    }
    cachedUntil.set(key, next[i]);
    heap.push(next[i], key);
  }
  return hits / total;
}

// Pops stale entries (keys used again since, or gone) until a live one is on top.
function dropStale(heap: MaxHeap, cachedUntil: Map<number, number>): void {
  while (cachedUntil.get(heap.topKey()) !== heap.topPriority()) heap.pop();
}

function nextUses(keys: Uint32Array): Float64Array {
  const next = new Float64Array(keys.length);
  const seen = new Map<number, number>();
  for (let i = keys.length - 1; i >= 0; i--) {
    next[i] = seen.get(keys[i]) ?? Infinity;
    seen.set(keys[i], i);
  }
  return next;
}

// A binary max-heap of (priority, key) pairs, the furthest next use on top.
class MaxHeap {
  #priorities: number[] = [];
  #keys: number[] = [];

  topPriority(): number {
    return this.#priorities[0];
  }

  topKey(): number {
    return this.#keys[0];
  }

  push(priority: number, key: number): void {
    const p = this.#priorities;
    const k = this.#keys;
    let i = p.length;
    p.push(priority);
    k.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (p[parent] >= priority) break;
      p[i] = p[parent];
      k[i] = k[parent];
      i = parent;
    }
    p[i] = priority;
    k[i] = key;
  }

  pop(): [number, number] {
    const p = this.#priorities;
    const k = this.#keys;
    const top: [number, number] = [p[0], k[0]];
    const lastP = p.pop()!;
    const lastK = k.pop()!;
    if (p.length === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= p.length) break;
      if (child + 1 < p.length && p[child + 1] > p[child]) child++;
      if (p[child] <= lastP) break;
      p[i] = p[child];
      k[i] = k[child];
      i = child;
    }
    p[i] = lastP;
    k[i] = lastK;
    return top;
  }
}

/**
 * The hit ratio of LFU with exact counts of every request since the trace
 * began, for `capacity` same-size entries: a missed key is kept if it has
 * been asked for more often than the least asked-for cached key, which it
 * replaces. Under the independent reference model that ranks keys as well as
 * any policy that learns from the requests it has seen can, so it bounds
 * what a frequency-based policy reaches on the Zipf traces (with unbounded
 * memory and no aging, it is not a policy one would run).
 */
export function exactLfuHitRatio(trace: Trace, capacity: number): number {
  const { keys, counted } = trace;
  const counts = new Map<number, number>();
  const cached = new Set<number>();
  const byCount: Set<number>[] = []; // cached keys by their count
  let least = 0;
  let hits = 0;
  let total = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const before = counts.get(key) ?? 0;
    counts.set(key, before + 1);
    const count = counted === undefined || counted[i] === 1;
    if (count) total++;
    if (cached.has(key)) {
      if (count) hits++;
      byCount[before].delete(key);
      (byCount[before + 1] ??= new Set()).add(key);
      continue;
    }
    if (cached.size >= capacity) {
      while (!byCount[least]?.size) least++;
      if (before + 1 <= least) continue;
      const victim: number = byCount[least].values().next().value!;
      byCount[least].delete(victim);
      cached.delete(victim);
    }
    cached.add(key);
    (byCount[before + 1] ??= new Set()).add(key);
    least = Math.min(least, before + 1);
  }
  return hits / total;
}
