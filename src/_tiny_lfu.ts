// W-TinyLFU, a group's default policy for its main cache (Caffeine's design,
// with bytes for weights). Private to the core: _caches.ts drives it.
//
// New entries go to a small LRU window (1% of the budget), so that a key
// asked for twice in a burst is kept however rare it is overall. What falls
// out of the window is a candidate for the main space, a segmented LRU:
// probation (for keys hit once there) and protected (hit again, 80%). A
// candidate gets in only if the frequency sketch says it was asked for more
// often than every entry it would push out; a large candidate must beat as
// many victims as it needs the room of. A scan's one-time keys thus pass
// through the window and never displace the popular keys, which plain LRU
// lets them do.
import type { CacheStats } from "./stats.ts";
import { type Frequencies, FrequencySketch, hashKey } from "./_sketch.ts";

// Segments, and the sentinel slots of their circular lists: next[s] is the
// segment's most recently used slot, prev[s] its least.
const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;
const SENTINELS = 3;
const INITIAL_SLOTS = 16;
const SEGMENT_MASK = 3;
const PENDING_SHIFT = 2;
const PENDING_ONE = 1 << PENDING_SHIFT;
const PENDING_MAX = 15 << PENDING_SHIFT;
// The window starts at 1% of the budget; the hill climber moves it within
// [1%, 80%] by steps of 10% of the budget that shrink by 2% each, once every
// quarter of the sketch's sample. (Tried on the bench:hitratio traces:
// Caffeine's 6.25% steps and its restarts reached a large enough window too
// slowly on the shifting trace; longer periods followed its phases worse.)
const WINDOW_SHARE = 0.01;
const MIN_WINDOW = 0.01;
const MAX_WINDOW = 0.8;
const CLIMB_STEP = 0.1;
const CLIMB_DECAY = 0.98;
const MIN_STEP = 0.01;
const DEAD_BAND = 0.004;
const CLIMB_PERIOD = 0.25;
// How many of the main space's oldest entries a candidate is weighed
// against: the least frequent of them is its victim.
const VICTIM_POOL = 8;
const PROTECTED_SHARE = 0.8;
// A candidate this frequent that loses is still let in 1 time in 128, so
// that keys made to collide in the sketch with a victim cannot keep a
// popular key out for good (Caffeine's guard against hash flooding).
const FLOOD_FREQUENCY = 6;

export interface TinyLfuOptions<V, H> {
  /** Sizes the window and protected segments; eviction follows `evictTo`. */
  maxBytes: number;
  sizeOf: (key: string, value: V) => number;
  now: () => number;
  random: () => number;
  /** Whether `hit` may answer for the value, with `handOut(value)`. @default {never} */
  handsOut?: (value: V) => boolean;
  /** What `hit` answers with, made on the entry's first hit and kept. @default {none} */
  handOut?: (value: V) => H;
  /** The frequency filter; tests inject an exact one. @default {a FrequencySketch} */
  frequencies?: Frequencies;
}

export class TinyLfuCache<V extends { readonly length: number }, H = never> {
  #map = new Map<string, number>();
  #keys: string[] = ["", "", ""];
  #values: (V | undefined)[] = [undefined, undefined, undefined];
  // Per slot, what `hit` answers with: undefined if it may not answer for
  // the entry, null until its first hit.
  #out: (H | null | undefined)[] = [undefined, undefined, undefined];
  #handsOut: (value: V) => boolean;
  #handOut: ((value: V) => H) | undefined;
  #sizes = new Float64Array(INITIAL_SLOTS);
  #expires = new Float64Array(INITIAL_SLOTS);
  #hashes = new Uint32Array(INITIAL_SLOTS);
  // Per slot, its segment (low 2 bits) and its hits not yet passed to the
  // sketch (the rest, at most 15): one byte read on a hit, not two arrays.
  #meta = new Uint8Array(INITIAL_SLOTS);
  // #hits when every pending hit was last passed to the sketch.
  #flushedAt = 0;
  #flushEvery: number;
  #next = new Uint32Array(INITIAL_SLOTS);
  #prev = new Uint32Array(INITIAL_SLOTS);
  #free: number[] = [];
  #segmentBytes = [0, 0, 0];
  #maxBytes: number;
  #windowMax = 0;
  #protectedMax = 0;
  #windowShare = WINDOW_SHARE;
  #step = -CLIMB_STEP;
  #previousHitRate = 0;
  #sampleHits = 0;
  #sampleMisses = 0;
  #sketch: Frequencies;
  #sizeOf: (key: string, value: V) => number;
  #now: () => number;
  #random: () => number;
  #bytes = 0;
  #gets = 0;
  #hits = 0;
  #evictions = 0;
  #admitted = 0;
  #rejected = 0;

  constructor(options: TinyLfuOptions<V, H>) {
    this.#maxBytes = options.maxBytes;
    this.#resizeWindow(WINDOW_SHARE);
    this.#sizeOf = options.sizeOf;
    this.#now = options.now;
    this.#random = options.random;
    this.#handsOut = options.handsOut ?? (() => false);
    this.#handOut = options.handOut;
    this.#sketch = options.frequencies ?? new FrequencySketch();
    this.#flushEvery = this.#flushPeriod();
    for (let s = 0; s < SENTINELS; s++) this.#next[s] = this.#prev[s] = s;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    this.#gets++;
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    const expiresAt = this.#expires[slot];
    if (expiresAt !== 0 && expiresAt <= this.#now()) {
      this.#delete(slot);
      return undefined;
    }
    this.#hits++;
    this.#touch(slot);
    return this.#values[slot];
  }

  /**
   * A get that answers only for a live entry that `handsOut`, with its
   * `handOut`; otherwise undefined, counting nothing (`get` follows).
   * Group.get's hit: it reads only this cache's tables, never the value
   * object, whose scattered cache lines were a third of a hit's time.
   */
  hit(key: string): H | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    const out = this.#out[slot];
    if (out === undefined) return undefined;
    const expiresAt = this.#expires[slot];
    if (expiresAt !== 0 && expiresAt <= this.#now()) return undefined;
    this.#gets++;
    this.#hits++;
    this.#touch(slot);
    return out ?? (this.#out[slot] = this.#handOut!(this.#values[slot]!));
  }

  // A hit: count it, and move the entry up its segment (or to protected).
  #touch(slot: number): void {
    // Counted beside the entry, and passed to the sketch when it matters
    // (see #flush): the sketch's random cache lines on every hit would cost
    // more than the rest of the hit, the pending counts next to nothing.
    // Saturating: the sketch counts to 15 anyway, and a popular entry's
    // hits then write nothing.
    const meta = this.#meta[slot];
    if (meta < PENDING_MAX) this.#meta[slot] = meta + PENDING_ONE;
    const segment = meta & SEGMENT_MASK;
    if (segment === PROBATION) {
      this.#promote(slot);
    } else if (this.#next[segment] !== slot) {
      const next = this.#next;
      const prev = this.#prev;
      const before = prev[slot];
      const after = next[slot];
      next[before] = after;
      prev[after] = before;
      const first = next[segment];
      prev[slot] = segment;
      next[slot] = first;
      prev[first] = slot;
      next[segment] = slot;
    }
  }

  /** Counts a request for a key that missed, which admission weighs later. */
  record(key: string): void {
    this.#sketch.increment(hashKey(key));
    // Here, not on hits: only misses lead to admission, which needs them.
    if (this.#hits - this.#flushedAt >= this.#flushEvery) this.#flushAll();
    const requests = this.#hits - this.#sampleHits + ++this.#sampleMisses;
    if (requests >= this.#sketch.sampleSize * CLIMB_PERIOD) this.#climb();
  }

  // Caffeine's hill climber: moves the window's share of the budget a step
  // at a time in the direction that raised the hit ratio over the last
  // period, so that recency-heavy traces get a large window (LRU-like) and
  // frequency-heavy ones a small one. Steps shrink, but not below 1%, so
  // that it still follows a workload that changes later. Changes within the
  // dead band are noise on a steady workload and move nothing: without it,
  // the window wanders on noise and loses hits (docs/PERFORMANCE.md).
  #climb(): void {
    const requests = this.#hits - this.#sampleHits + this.#sampleMisses;
    const hitRate = (this.#hits - this.#sampleHits) / requests;
    const change = hitRate - this.#previousHitRate;
    this.#previousHitRate = hitRate;
    this.#sampleHits = this.#hits;
    this.#sampleMisses = 0;
    if (Math.abs(change) < DEAD_BAND) return;
    const amount = change >= 0 ? this.#step : -this.#step;
    this.#step = Math.sign(amount) * Math.max(MIN_STEP, Math.abs(amount) * CLIMB_DECAY);
    this.#resizeWindow(Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, this.#windowShare + amount)));
  }

  #resizeWindow(share: number): void {
    this.#windowShare = share;
    this.#windowMax = Math.max(1, Math.floor(this.#maxBytes * share));
    this.#protectedMax = Math.floor((this.#maxBytes - this.#windowMax) * PROTECTED_SHARE);
  }

  expiresAt(key: string): number | undefined {
    const slot = this.#map.get(key);
    return slot === undefined ? undefined : this.#expires[slot];
  }

  /** Adds or replaces `key` without evicting: call `evictTo` next. */
  add(key: string, value: V, options?: { expiresAt?: number }): void {
    const expiresAt = options?.expiresAt ?? 0;
    const size = this.#sizeOf(key, value);
    let slot = this.#map.get(key);
    let segment = WINDOW;
    if (slot !== undefined) {
      segment = this.#meta[slot] & SEGMENT_MASK;
      this.#take(slot);
    } else {
      slot = this.#free.pop() ?? this.#newSlot();
      this.#map.set(key, slot);
      this.#keys[slot] = key;
      this.#hashes[slot] = hashKey(key);
      this.#sketch.ensureCapacity(this.#map.size);
      this.#flushEvery = this.#flushPeriod();
    }
    this.#values[slot] = value;
    this.#out[slot] = this.#handsOut(value) ? null : undefined;
    this.#sizes[slot] = size;
    this.#expires[slot] = expiresAt;
    this.#put(slot, segment);
  }

  remove(key: string): boolean {
    const slot = this.#map.get(key);
    if (slot === undefined) return false;
    this.#delete(slot);
    return true;
  }

  /**
   * Moves what overflows the window to the main space, admitting each
   * candidate only if it beats its victims, then evicts until at most
   * `limit` bytes are left.
   */
  evictTo(limit: number): void {
    const prev = this.#prev;
    while (this.#segmentBytes[WINDOW] > this.#windowMax) this.#admit(prev[WINDOW], limit);
    while (this.#bytes > limit) {
      const victim = prev[PROBATION] !== PROBATION
        ? prev[PROBATION]
        : prev[PROTECTED] !== PROTECTED
        ? prev[PROTECTED]
        : prev[WINDOW];
      if (victim < SENTINELS) break;
      this.#evict(victim);
    }
  }

  stats(): CacheStats {
    return {
      bytes: this.#bytes,
      items: this.#map.size,
      gets: this.#gets,
      hits: this.#hits,
      evictions: this.#evictions,
      admitted: this.#admitted,
      rejected: this.#rejected,
    };
  }

  // Lets `candidate` (the window's oldest) into probation if there is room
  // for it, or if it was asked for more often than each entry it displaces.
  #admit(candidate: number, limit: number): void {
    const over = this.#bytes - limit;
    const victims = over <= 0
      ? []
      : this.#sizes[candidate] > limit
      ? undefined
      : this.#victimsFor(candidate, over);
    if (victims === undefined) {
      this.#rejected++;
      this.#evict(candidate);
      return;
    }
    for (const victim of victims) this.#evict(victim);
    this.#admitted++;
    this.#take(candidate);
    this.#put(candidate, PROBATION);
  }

  // The least frequent of the main space's oldest entries that free `bytes`
  // bytes (or all of them), or undefined when the candidate loses to one.
  #victimsFor(candidate: number, bytes: number): number[] | undefined {
    const frequency = this.#frequency(candidate);
    const pool = this.#oldest(bytes);
    const frequencies = pool.map((v) => this.#frequency(v));
    const order = pool.map((_, i) => i).sort((a, b) => frequencies[a] - frequencies[b] || a - b);
    const victims: number[] = [];
    let freed = 0;
    for (const i of order) {
      if (freed >= bytes) break;
      if (frequency <= frequencies[i] && !this.#floodGuard(frequency)) return undefined;
      victims.push(pool[i]);
      freed += this.#sizes[pool[i]];
    }
    return victims;
  }

  // At least SAMPLE of the main space's oldest entries, and enough to free `bytes`.
  #oldest(bytes: number): number[] {
    const pool: number[] = [];
    let total = 0;
    for (const segment of [PROBATION, PROTECTED]) {
      for (let v = this.#prev[segment]; v >= SENTINELS; v = this.#prev[v]) {
        if (pool.length >= VICTIM_POOL && total >= bytes) return pool;
        pool.push(v);
        total += this.#sizes[v];
      }
    }
    return pool;
  }

  #frequency(slot: number): number {
    this.#flush(slot);
    return this.#sketch.frequency(this.#hashes[slot]);
  }

  #flush(slot: number): void {
    const times = this.#meta[slot] >>> PENDING_SHIFT;
    if (times === 0) return;
    this.#sketch.increment(this.#hashes[slot], times);
    this.#meta[slot] &= SEGMENT_MASK;
  }

  // Every entry's pending hits, often enough that the sketch ages on time
  // (an eighth of its sample late at most), seldom enough that a popular
  // entry's many hits cost one update.
  #flushAll(): void {
    for (let slot = SENTINELS; slot < this.#keys.length; slot++) {
      if (this.#meta[slot] >= PENDING_ONE) this.#flush(slot);
    }
    this.#flushedAt = this.#hits;
  }

  #flushPeriod(): number {
    return Math.min(1 << 30, Math.max(64, this.#sketch.sampleSize / 8));
  }

  #floodGuard(frequency: number): boolean {
    return frequency >= FLOOD_FREQUENCY && this.#random() * 128 < 1;
  }

  // A hit in probation: the entry earns its place in protected, which
  // hands its own oldest back to probation once over its share.
  #promote(slot: number): void {
    this.#take(slot);
    this.#put(slot, PROTECTED);
    const prev = this.#prev;
    while (this.#segmentBytes[PROTECTED] > this.#protectedMax && prev[PROTECTED] !== slot) {
      const oldest = prev[PROTECTED];
      this.#take(oldest);
      this.#put(oldest, PROBATION);
    }
  }

  #evict(slot: number): void {
    this.#delete(slot);
    this.#evictions++;
  }

  // Links `slot` as the most recent of `segment` and counts its bytes there.
  #put(slot: number, segment: number): void {
    this.#meta[slot] = (this.#meta[slot] & ~SEGMENT_MASK) | segment;
    this.#segmentBytes[segment] += this.#sizes[slot];
    this.#bytes += this.#sizes[slot];
    this.#link(slot, segment);
  }

  // Unlinks `slot` and stops counting its bytes.
  #take(slot: number): void {
    this.#unlink(slot);
    this.#segmentBytes[this.#meta[slot] & SEGMENT_MASK] -= this.#sizes[slot];
    this.#bytes -= this.#sizes[slot];
  }

  #link(slot: number, segment: number): void {
    const first = this.#next[segment];
    this.#prev[slot] = segment;
    this.#next[slot] = first;
    this.#prev[first] = slot;
    this.#next[segment] = slot;
  }

  #unlink(slot: number): void {
    const before = this.#prev[slot];
    const after = this.#next[slot];
    this.#next[before] = after;
    this.#prev[after] = before;
  }

  #delete(slot: number): void {
    this.#flush(slot); // the sketch remembers the key after it is gone
    this.#take(slot);
    this.#map.delete(this.#keys[slot]);
    this.#keys[slot] = "";
    this.#values[slot] = undefined;
    this.#out[slot] = undefined;
    this.#free.push(slot);
  }

  #newSlot(): number {
    const slot = this.#keys.length;
    if (slot === this.#next.length) {
      const grown = slot * 2;
      this.#sizes = grow(this.#sizes, new Float64Array(grown));
      this.#expires = grow(this.#expires, new Float64Array(grown));
      this.#hashes = grow(this.#hashes, new Uint32Array(grown));
      this.#meta = grow(this.#meta, new Uint8Array(grown));
      this.#next = grow(this.#next, new Uint32Array(grown));
      this.#prev = grow(this.#prev, new Uint32Array(grown));
    }
    this.#keys.push("");
    this.#values.push(undefined);
    this.#out.push(undefined);
    return slot;
  }
}

function grow<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
