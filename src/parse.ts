/**
 * Parsing of sizes and durations given on command lines.
 *
 * @module
 */

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1 << 10,
  kb: 1000,
  kib: 1 << 10,
  m: 1 << 20,
  mb: 1e6,
  mib: 1 << 20,
  g: 1 << 30,
  gb: 1e9,
  gib: 1 << 30,
};

/**
 * Parses a byte size: `1048576`, `64MiB`, `64M` (binary), `64MB` (decimal).
 * Throws a one-line `TypeError` naming `what` otherwise.
 *
 * @example
 * ```ts
 * import { parseBytes } from "@mccache/core/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseBytes("64MiB"), 64 << 20);
 * assert.equal(parseBytes("2048"), 2048);
 * ```
 */
export function parseBytes(value: string, what = "size"): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = match ? BYTE_UNITS[match[2].toLowerCase()] : undefined;
  const bytes = match && unit ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new TypeError(`Invalid ${what} "${value}": expected bytes, e.g. 1048576 or 64MiB`);
  }
  return bytes;
}

const TIME_UNITS: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration into milliseconds: `500ms`, `2s`, `1m`, or a bare
 * number in `bareUnit` (milliseconds unless told otherwise). Throws a
 * one-line `TypeError` naming `what` otherwise.
 *
 * @example
 * ```ts
 * import { parseDuration } from "@mccache/core/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseDuration("2s"), 2000);
 * assert.equal(parseDuration("5", "--lease-ttl", "s"), 5000);
 * ```
 */
export function parseDuration(
  value: string,
  what = "duration",
  bareUnit: "ms" | "s" = "ms",
): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(value.trim());
  const unit = match ? TIME_UNITS[(match[2] ?? bareUnit).toLowerCase()] : undefined;
  const ms = match && unit ? Number(match[1]) * unit : NaN;
  if (!Number.isFinite(ms)) {
    throw new TypeError(`Invalid ${what} "${value}": expected a duration, e.g. 500ms or 2s`);
  }
  return ms;
}
