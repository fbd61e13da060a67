// Helpers shared by tests and benchmarks; not part of the published package.

/** A seeded random source in [0, 1) (mulberry32), so randomized tests repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Measures how evenly `owner` spreads `keys` over `members`: max share / mean share. */
export function balance(
  members: readonly string[],
  keys: readonly string[],
  owner: (key: string) => string | undefined,
): number {
  const counts = new Map<string, number>(members.map((m) => [m, 0]));
  for (const key of keys) {
    const m = owner(key)!;
    counts.set(m, counts.get(m)! + 1);
  }
  return Math.max(...counts.values()) / (keys.length / members.length);
}

/** Returns `count` node-like addresses `127.0.0.1:<port>` from port 50061 up. */
export function addresses(count: number, firstPort = 50061): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.1:${firstPort + i}`);
}
