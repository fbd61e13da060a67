// deno task bench:hitratio: replays traces through the real Group, once per
// policy, and prints their hit ratios beside LFU on exact counts of the
// whole trace so far (what a policy that learns popularity from requests can
// reach on the Zipf traces), the online optimum under the
// independent reference model (IRM, where the trace follows one) and
// Belady's offline optimum, all computed here on the same trace; then the
// same rows as JSON, and whether the targets hold.
//
//   deno task bench:hitratio [--quick] [--seed N]
//
// --seed N draws the Zipf, scan and shifting traces from seeds N, N+1 and
// N+2 (default 1, the table in docs/PERFORMANCE.md), to check that a
// policy holds on traces it was not tuned on.
// W-TinyLFU's figure is the mean over three seeds of its coin.
// Each trace has 2,000,000 requests (400,000 with --quick; a scan adds as
// many one-time keys), and the hit ratio counts the second half: the
// steady state, which the IRM optimum describes, not the cold start.
// Entries are all 100 bytes (8-byte keys, 92-byte values, entryOverhead 0),
// so a budget of N entries is N * 100 bytes.
import { ByteView, Group } from "../../mod.ts";
import type { CachePolicy } from "../../src/group.ts";
import { seededRandom } from "../../src/_testing.ts";
import {
  afterWarmup,
  beladyHitRatio,
  exactLfuHitRatio,
  irmOptimum,
  loopTrace,
  shiftingTrace,
  type Trace,
  zipfCdf,
  zipfTrace,
  zipfWithScan,
} from "./_traces.ts";

const KEYS = 100_000;
const ENTRY_BYTES = 100;
const VALUE = ByteView.from("v".repeat(ENTRY_BYTES - 8));
const COINS = [7, 8, 9];

/** One line of the table. */
export interface HitRatioRow {
  trace: string;
  /** Entries that fit the budget. */
  capacity: number;
  lru: number;
  tinylfu: number;
  /** LFU on exact counts since the start: the Zipf traces' ceiling for a policy that learns. */
  exactLfu: number;
  /** IRM's optimum, or null where the trace is not IRM. */
  irm: number | null;
  belady: number;
}

interface Case {
  trace: string;
  make: () => Trace;
  capacity: number;
  irm: number | null;
}

function keyName(id: number): string {
  return `k${String(id).padStart(7, "0")}`;
}

/** The hit ratio of a group with `policy` and room for `capacity` entries on `trace`. */
export async function replay(
  trace: Trace,
  capacity: number,
  policy: CachePolicy,
  seed = 7,
): Promise<number> {
  const group = new Group({
    name: "hitratio",
    maxBytes: capacity * ENTRY_BYTES,
    entryOverhead: 0,
    policy,
    getter: () => VALUE,
    random: seededRandom(seed), // the flood guard's coin: the same table every run
  });
  const { keys, counted } = trace;
  let hits = 0;
  let total = 0;
  for (let i = 0; i < keys.length; i++) {
    const before = group.stats().cacheHits;
    await group.get(keyName(keys[i]));
    if (counted === undefined || counted[i] === 1) {
      total++;
      hits += group.stats().cacheHits - before;
    }
  }
  return hits / total;
}

function cases(length: number, seed: number): Case[] {
  const out: Case[] = [];
  for (const s of [0.8, 1.0, 1.2]) {
    const cdf = zipfCdf(KEYS, s);
    let trace: Trace | undefined;
    for (const share of [0.01, 0.05, 0.2]) {
      const capacity = KEYS * share;
      out.push({
        trace: `zipf ${s.toFixed(1)}, ${share * 100}%`,
        make: () => trace ??= zipfTrace(cdf, length, seed),
        capacity,
        irm: irmOptimum(cdf, capacity),
      });
    }
  }
  const cdf = zipfCdf(KEYS, 1.0);
  const capacity = KEYS * 0.2;
  out.push(
    {
      trace: "zipf 1.0 + scan, 20%",
      make: () => zipfWithScan(cdf, length, seed + 1),
      capacity,
      irm: irmOptimum(cdf, capacity),
    },
    {
      trace: `loop of ${capacity * 1.25}, 20%`,
      make: () => loopTrace(capacity * 1.25, length),
      capacity,
      irm: null,
    },
    {
      trace: "zipf 1.0 shifting /100k, 20%",
      make: () => shiftingTrace(cdf, length, 100_000, seed + 2),
      capacity,
      irm: null,
    },
  );
  return out;
}

/**
 * Runs every case; `length` requests per trace (a scan adds as many one-time
 * keys), the traces drawn from `seed` on.
 */
export async function measure(length: number, seed = 1): Promise<HitRatioRow[]> {
  const rows: HitRatioRow[] = [];
  for (const c of cases(length, seed)) {
    const made = c.make();
    const trace = afterWarmup(made, made.keys.length / 2);
    const lru = await replay(trace, c.capacity, "lru");
    // W-TinyLFU flips a coin (its flood guard), which moves the shifting
    // trace by half a point: the mean over three coins.
    let tinylfu = 0;
    for (const seed of COINS) {
      tinylfu += await replay(trace, c.capacity, "tinylfu", seed) / COINS.length;
    }
    rows.push({
      trace: c.trace,
      capacity: c.capacity,
      lru,
      tinylfu,
      exactLfu: exactLfuHitRatio(trace, c.capacity),
      irm: c.irm,
      belady: beladyHitRatio(trace, c.capacity),
    });
  }
  return rows;
}

function percent(ratio: number | null): string {
  return ratio === null ? "—" : `${(ratio * 100).toFixed(1)}%`;
}

/** The rows as a Markdown table. */
export function table(rows: HitRatioRow[]): string {
  const lines = [
    "| trace | entries | LRU | W-TinyLFU | exact LFU | online optimum (IRM) | Belady |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const cells = [r.lru, r.tinylfu, r.exactLfu, r.irm, r.belady].map(percent).join(" | ");
    lines.push(`| ${r.trace} | ${r.capacity} | ${cells} |`);
  }
  return lines.join("\n");
}

/** The targets, each with whether it holds. */
export function targets(rows: HitRatioRow[]): [string, boolean][] {
  const zipf = rows.find((r) => r.trace === "zipf 1.0, 20%")!;
  const scan = rows.find((r) => r.trace.startsWith("zipf 1.0 + scan"))!;
  return [
    ["zipf 1.0, 20%: W-TinyLFU >= 86%", zipf.tinylfu >= 0.86],
    ["zipf 1.0, 20%: within one point of IRM", zipf.tinylfu >= zipf.irm! - 0.01],
    ["zipf 1.0 + scan: W-TinyLFU >= 84%", scan.tinylfu >= 0.84],
    ["every trace: W-TinyLFU >= LRU - 1 point", rows.every((r) => r.tinylfu >= r.lru - 0.01)],
  ];
}

if (import.meta.main) {
  const length = Deno.args.includes("--quick") ? 400_000 : 2_000_000;
  const at = Deno.args.indexOf("--seed");
  const seed = at < 0 ? 1 : Number(Deno.args[at + 1]);
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`--seed must be an integer: received ${Deno.args[at + 1]}`);
  }
  const rows = await measure(length, seed);
  console.log(table(rows));
  console.log();
  for (const [target, holds] of targets(rows)) console.log(`${holds ? "ok  " : "FAIL"} ${target}`);
  console.log();
  console.log(JSON.stringify({ requests: length, seed, rows }, null, 2));
}
