/**
 * {@linkcode HashRing}: consistent hashing of keys onto members.
 *
 * @module
 */

import { crc32, fnv1aMix32 } from "./_hash.ts";
import { utf8Scratch } from "./utf8.ts";

/** Options for {@linkcode HashRing}. */
export interface HashRingOptions {
  /**
   * `"seed"` places keys exactly as the Go original does (CRC-32
   * IEEE, 50 virtual nodes per member); `replicas` and `hash` still override.
   * @default {"default"}
   */
  compat?: "default" | "seed";
  /**
   * Virtual nodes per member. More spreads keys more evenly and costs memory
   * and build time; 160 keeps every member close to its share
   * (figures in docs/PERFORMANCE.md).
   * @default {160}
   */
  replicas?: number;
  /**
   * Hashes UTF-8 bytes to an unsigned 32-bit integer, for keys and for the
   * virtual node labels `String(i) + member`.
   * @default {FNV-1a with a murmur3 fmix32 finish}
   */
  hash?: (data: Uint8Array) => number;
}

// The number of hashes: points are 32-bit.
const RING_SIZE = 2 ** 32;

/**
 * Places keys on members by consistent hashing with virtual nodes. The
 * placement depends only on the set of members (not the order they were
 * added) and on the UTF-8 bytes of keys, so every process agrees.
 *
 * @example Find a key's owner, and the next one for fail-over
 * ```ts
 * import assert from "node:assert/strict";
 * import { HashRing } from "@mccache/core";
 *
 * const ring = new HashRing();
 * ring.add("127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003");
 * const [owner, next] = ring.getN("Rex", 2);
 * assert(owner === ring.get("Rex") && next !== owner);
 * ```
 *
 * @example Place keys as the Go original does
 * ```ts
 * import assert from "node:assert/strict";
 * import { HashRing } from "@mccache/core";
 *
 * const ring = new HashRing({ compat: "seed" });
 * ring.add("127.0.0.1:8001");
 * assert(ring.get("Tom") === "127.0.0.1:8001");
 * ```
 */
export class HashRing {
  #replicas: number;
  #hash: (data: Uint8Array) => number;
  #members = new Set<string>();
  #points = new Uint32Array(0);
  #owners: string[] = [];

  /** Creates an empty ring. */
  constructor(options: HashRingOptions = {}) {
    const seed = options.compat === "seed";
    const replicas = options.replicas ?? (seed ? 50 : 160);
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new RangeError(
        `Cannot create HashRing: replicas must be a positive integer: received ${replicas}`,
      );
    }
    this.#replicas = replicas;
    this.#hash = options.hash ?? (seed ? crc32 : fnv1aMix32);
  }

  /** The members, in the order they were added. */
  get members(): readonly string[] {
    return [...this.#members];
  }

  /** The number of members. */
  get size(): number {
    return this.#members.size;
  }

  /**
   * Adds members (already present ones are ignored).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing();
   * ring.add("a", "b", "a");
   * assert(ring.size === 2);
   * ```
   */
  add(...members: string[]): void {
    for (const member of members) this.#members.add(member);
    this.#rebuild();
  }

  /**
   * Removes members (absent ones are ignored).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing();
   * ring.add("a", "b");
   * ring.remove("a");
   * assert(ring.get("any key") === "b");
   * ```
   */
  remove(...members: string[]): void {
    for (const member of members) this.#members.delete(member);
    this.#rebuild();
  }

  /**
   * Reports whether `member` is on the ring.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing();
   * ring.add("a");
   * assert(ring.has("a") && !ring.has("b"));
   * ```
   */
  has(member: string): boolean {
    return this.#members.has(member);
  }

  /**
   * Returns each member's share of the key space: the fraction of hashes it
   * owns, from 0 to 1, summing to 1 over the members (empty on an empty ring).
   *
   * @example Two members split the ring
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing();
   * ring.add("a", "b");
   * const shares = ring.shares();
   * assert(Math.abs(shares.get("a")! + shares.get("b")! - 1) < 1e-9);
   * ```
   */
  shares(): Map<string, number> {
    const shares = new Map<string, number>();
    const points = this.#points;
    const n = points.length;
    for (let i = 0; i < n; i++) {
      // A point owns the hashes after the previous point up to itself; the
      // first one also owns those past the last point, where search wraps.
      const arc = i === 0 ? points[0] + RING_SIZE - points[n - 1] : points[i] - points[i - 1];
      const member = this.#owners[i];
      shares.set(member, (shares.get(member) ?? 0) + arc / RING_SIZE);
    }
    return shares;
  }

  /**
   * Returns the member that owns `key`, or `undefined` on an empty ring.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * assert(new HashRing().get("k") === undefined);
   * ```
   */
  get(key: string): string | undefined {
    if (this.#owners.length === 0) return undefined;
    return this.#owners[this.#search(this.hashKey(key))];
  }

  /**
   * Returns up to `n` distinct members for `key`: its owner first, then the
   * members that would own it if the ones before them were gone.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing();
   * ring.add("a", "b", "c");
   * assert(ring.getN("k", 5).length === 3);
   * ```
   */
  getN(key: string, n: number): string[] {
    return this.walk(this.hashKey(key), Math.min(n, this.#members.size));
  }

  /**
   * Returns up to `n` distinct members clockwise from the point `hash`,
   * skipping those `accept` rejects (e.g. nodes that are not connected).
   * Callers that carry a key's hash instead of the key (gRPC metadata) use
   * this with {@linkcode HashRing.hashKey}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing();
   * ring.add("a", "b");
   * assert(ring.walk(ring.hashKey("k"), 1)[0] === ring.get("k"));
   * ```
   */
  walk(hash: number, n: number, accept?: (member: string) => boolean): string[] {
    const found: string[] = [];
    const owners = this.#owners;
    if (owners.length === 0) return found;
    const start = this.#search(hash);
    const seen = accept ? new Set<string>() : undefined;
    for (let i = 0; i < owners.length && found.length < n; i++) {
      const member = owners[(start + i) % owners.length];
      if (seen) {
        if (seen.has(member)) continue;
        seen.add(member);
        if (accept!(member)) found.push(member);
      } else if (!found.includes(member)) {
        found.push(member);
      }
      if (seen && seen.size === this.#members.size) break;
    }
    return found;
  }

  /**
   * Returns the ring position of `key`: the hash of its UTF-8 bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HashRing } from "@mccache/core";
   *
   * const ring = new HashRing({ compat: "seed" });
   * assert(ring.hashKey("a") === 0xe8b7be43); // CRC-32 of "a"
   * ```
   */
  hashKey(key: string): number {
    return this.#hash(utf8Scratch(key)) >>> 0;
  }

  // Index of the first point at or after `hash`, wrapping to 0.
  #search(hash: number): number {
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  #rebuild(): void {
    const pairs: { point: number; member: string }[] = [];
    for (const member of this.#members) {
      for (let i = 0; i < this.#replicas; i++) {
        pairs.push({ point: this.hashKey(String(i) + member), member });
      }
    }
    // Ties are broken by member so that the order of `add` calls never matters.
    pairs.sort((a, b) =>
      a.point - b.point || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0)
    );
    this.#points = Uint32Array.from(pairs, (p) => p.point);
    this.#owners = pairs.map((p) => p.member);
  }
}
