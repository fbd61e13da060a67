// The request mixes of the cluster benchmark. Each exists twice and the two
// must agree: a wrk Lua script (tests/bench/wrk/) with its arguments, and a
// generator for the built-in Deno load generator.

/** One request a load generator sends. */
export interface BenchRequest {
  method: "GET" | "PUT" | "DELETE";
  path: string;
  body?: string;
}

/** What to send during one run, for either load generator. */
export interface Workload {
  /** Script under tests/bench/wrk/; `common.lua` alone makes wrk send its static request. */
  script: string;
  /** The static request's path, and the path wrk's URL carries. */
  path: string;
  /** Arguments after wrk's `--`, read by the script's `init(args)`. */
  args: string[];
  /** Makes the request generator of one Deno run (shared by all its loops). */
  requests(): () => BenchRequest;
  /** Paths to GET once before measuring, in this order. */
  warm: string[];
}

/** Bytes of every value in the benchmark group. */
export const VALUE_BYTES = 100;

/**
 * The value the origin returns for `key`: the key and a separator repeated to
 * `size` bytes, so every key has its own value and anyone can recompute it.
 */
export function benchValue(key: string, size: number): string {
  const unit = `${key}|`;
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/** Every request for one key: scenario (a), and the bare-server baseline. */
export function oneKey(path: string): Workload {
  return { script: "common.lua", path, args: [], requests: () => () => get(path), warm: [path] };
}

/** GETs spread evenly over `count` keys `<prefix><i>` under `base`. */
export function uniform(base: string, prefix: string, count: number): Workload {
  return {
    script: "uniform.lua",
    path: "/",
    args: [base, prefix, String(count)],
    requests: () => () => get(`${base}${prefix}${randomIndex(count)}`),
    warm: keyPaths(base, prefix, count),
  };
}

/**
 * GETs over `count` keys where key i has weight 1/(i+1)^s. Warms the hottest
 * `warmShare` of the keys coldest first, so that the hottest are the most
 * recently used when the LRU starts evicting.
 */
export function zipf(
  base: string,
  prefix: string,
  count: number,
  s: number,
  warmShare: number,
): Workload {
  const cdf = zipfCdf(count, s);
  return {
    script: "zipf.lua",
    path: "/",
    args: [base, prefix, String(count), String(s)],
    requests: () => () => get(`${base}${prefix}${searchCdf(cdf, Math.random())}`),
    warm: keyPaths(base, prefix, Math.round(count * warmShare)).reverse(),
  };
}

/** GETs over `count` keys with a `writeShare` of writes: half PUTs (same value), half DELETEs. */
export function mixed(base: string, prefix: string, count: number, writeShare: number): Workload {
  return {
    script: "mixed.lua",
    path: "/",
    args: [base, prefix, String(count), String(writeShare)],
    requests: () => () => {
      const key = `${prefix}${randomIndex(count)}`;
      const roll = Math.random();
      if (roll >= writeShare) return get(base + key);
      if (roll < writeShare / 2) {
        return { method: "PUT", path: base + key, body: benchValue(key, VALUE_BYTES) };
      }
      return { method: "DELETE", path: base + key };
    },
    warm: keyPaths(base, prefix, count),
  };
}

/** GETs of `total` distinct keys, each once; for wrk, split over `threads` threads. */
export function distinct(base: string, prefix: string, total: number, threads: number): Workload {
  return {
    script: "distinct.lua",
    path: "/",
    args: [base, prefix, String(total), String(threads)],
    requests: () => {
      let next = 0;
      return () => get(`${base}${prefix}${next++}`);
    },
    warm: [],
  };
}

/** The bytes a cache entry of each key `<prefix><i>`, i < count, costs on average (key + value). */
export function meanEntryBytes(prefix: string, count: number, valueBytes: number): number {
  let keyBytes = 0;
  for (let i = 0; i < count; i++) keyBytes += prefix.length + String(i).length;
  return keyBytes / count + valueBytes;
}

function get(path: string): BenchRequest {
  return { method: "GET", path };
}

function randomIndex(count: number): number {
  return Math.floor(Math.random() * count);
}

function keyPaths(base: string, prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${base}${prefix}${i}`);
}

function zipfCdf(count: number, s: number): Float64Array {
  const cdf = new Float64Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  for (let i = 0; i < count; i++) cdf[i] /= sum;
  return cdf;
}

// The first index whose cumulative weight reaches u: the same search as zipf.lua's.
function searchCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
