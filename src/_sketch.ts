// How often keys were asked for lately, in little memory: TinyLFU's
// frequency filter, private to the W-TinyLFU cache (_tiny_lfu.ts).
//
// A count-min sketch of 4-bit counters (four rows, eight counters to a
// 32-bit word) behind a doorkeeper, a Bloom filter: a key's first sighting
// only sets its doorkeeper bits, so the one-time keys that make up most of a
// long-tailed trace never reach the counters and do not inflate the counts
// of the keys they collide with. Every 10 x capacity sightings the counters
// are halved, so that keys popular long ago make way for keys popular now
// (Caffeine's and Ristretto's aging).
//
// The doorkeeper has two generations, swapped at each halving, and a key
// counts as seen if either has it. With one that is cleared, a cached key
// seen twice in a sample read as never seen after the halving, and any
// one-time key then beat it, which a scan exploits.

const ROWS = 4;
// Odd multipliers. A key's four counters share one 64-byte block (16
// words, chosen by the top bits of hash * BLOCK_SEED), one in each quarter,
// and its doorkeeper bits share one word: a hit then touches two cache lines,
// not six (Caffeine's layout since 3.0). Top bits
// choose, not low ones: keys that share low bits would collide everywhere.
const BLOCK_SEED = 0x9e3779b1;
const PICK_SEED = 0x85ebca77;
const DOOR_SEEDS = [0x165667b1, 0xd3a2646d];
// Halving every 4-bit counter of a word at once: shift, then clear the bit
// that each counter's neighbour shifted into its top.
const HALF = 0x77777777;
const MIN_CAPACITY = 16;
const SAMPLE_FACTOR = 10;

/** What W-TinyLFU asks of a frequency filter (tests give it an exact one). */
export interface Frequencies {
  /** Sightings between two agings. */
  readonly sampleSize: number;
  increment(hash: number, times?: number): void;
  frequency(hash: number): number;
  ensureCapacity(items: number): void;
}

export class FrequencySketch implements Frequencies {
  #counters!: Uint32Array;
  #shift = 0;
  #door!: Uint32Array;
  #oldDoor!: Uint32Array;
  #doorShift = 0;
  #sightings = 0;
  #sampleSize = 0;
  #capacity = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.#resize(capacity);
  }

  /** Sightings between two halvings. */
  get sampleSize(): number {
    return this.#sampleSize;
  }

  /** Grows the sketch (forgetting its counts) once more keys are cached than it was sized for. */
  ensureCapacity(items: number): void {
    if (items > this.#capacity) this.#resize(items);
  }

  /** Records `times` sightings of the key whose hash is `hash`. */
  increment(hash: number, times = 1): void {
    this.#sightings += times;
    if (this.#sightings >= this.#sampleSize) this.#age();
    const bits = Math.imul(hash, DOOR_SEEDS[1]);
    const mask = (1 << (bits & 31)) | (1 << ((bits >>> 5) & 31));
    const word = Math.imul(hash, DOOR_SEEDS[0]) >>> this.#doorShift;
    if ((this.#door[word] & mask) !== mask) {
      this.#door[word] |= mask;
      if ((this.#oldDoor[word] & mask) !== mask && --times === 0) return;
    }
    const counters = this.#counters;
    const block = (Math.imul(hash, BLOCK_SEED) >>> this.#shift) << 4;
    const pick = spread(hash);
    for (let row = 0; row < ROWS; row++) {
      const at = pick >>> (row << 3);
      const i = block + (row << 2) + (at & 3);
      const shift = at & 0x1c;
      const count = counters[i] >>> shift & 15;
      counters[i] += Math.min(times, 15 - count) << shift;
    }
  }

  /** The estimated sightings of the key, 0 to 16 (halved at each aging). */
  frequency(hash: number): number {
    const bits = Math.imul(hash, DOOR_SEEDS[1]);
    const mask = (1 << (bits & 31)) | (1 << ((bits >>> 5) & 31));
    const word = Math.imul(hash, DOOR_SEEDS[0]) >>> this.#doorShift;
    if ((this.#door[word] & mask) !== mask && (this.#oldDoor[word] & mask) !== mask) return 0;
    const counters = this.#counters;
    const block = (Math.imul(hash, BLOCK_SEED) >>> this.#shift) << 4;
    const pick = spread(hash);
    let min = 15;
    for (let row = 0; row < ROWS; row++) {
      const at = pick >>> (row << 3);
      const count = counters[block + (row << 2) + (at & 3)] >>> (at & 0x1c) & 15;
      if (count < min) min = count;
    }
    return min + 1;
  }

  #age(): void {
    const counters = this.#counters;
    for (let i = 0; i < counters.length; i++) counters[i] = (counters[i] >>> 1) & HALF;
    const old = this.#oldDoor;
    this.#oldDoor = this.#door;
    this.#door = old;
    old.fill(0);
    this.#sightings = 0;
  }

  #resize(capacity: number): void {
    let size = MIN_CAPACITY;
    while (size < capacity) size *= 2;
    this.#capacity = size;
    // Four counters per row per cached key, 16 in all, as in Caffeine.
    // 16 counters per cached key (8 bytes), as in Caffeine: 128 to a block.
    const blocks = size / 8;
    this.#shift = 32 - Math.log2(blocks);
    this.#counters = new Uint32Array(blocks * 16);
    // A sample holds up to ten distinct keys per cached key; 32 bits per
    // cached key keep the doorkeeper's false positives near one in eight.
    this.#doorShift = 32 - Math.log2(size);
    this.#door = new Uint32Array(size);
    this.#oldDoor = new Uint32Array(size);
    this.#sampleSize = SAMPLE_FACTOR * size;
    this.#sightings = 0;
  }
}

// Which counter of each quarter: bits of a product with its top half
// folded in, since a product's low bits depend only on the key's low bits.
function spread(hash: number): number {
  const p = Math.imul(hash, PICK_SEED);
  return p ^ (p >>> 15);
}

/** A well-mixed 32-bit hash of a string's UTF-16 units (FNV-1a, then murmur3's fmix32). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
