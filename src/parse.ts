/**
 * Parsing of what flags and options spell as text: sizes, durations,
 * `host:port` addresses, log levels and formats. One module for the node,
 * the gateway and the command lines, so that each accepts the same
 * spellings and fails with the same one-line `TypeError` naming the flag.
 * Internal: `@mccache/core/node` exports its public parts.
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

/** A parsed `host:port`. */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** Port, 0 to 65535 (0 only where `allowZero`). */
  port: number;
}

/**
 * Parses `host:port` (IPv6 as `[::1]:8001`), throwing a `TypeError` with a
 * one-line message naming `what` when it is not one.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "@mccache/core/node";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseHostPort("127.0.0.1:8001"), { hostname: "127.0.0.1", port: 8001 });
 * assert.throws(() => parseHostPort("8001", "--addr"), /--addr/);
 * ```
 */
export function parseHostPort(
  value: string,
  what = "address",
  options: { allowZero?: boolean } = {},
): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/\[\]]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  const min = options.allowZero ? 0 : 1;
  if (!match || port < min || port > 65535) {
    throw new TypeError(`Invalid ${what} "${value}": expected host:port, e.g. 127.0.0.1:8001`);
  }
  return { hostname: match[1] ?? match[2], port };
}

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The names of the log levels, for flag validation. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** How a console logger writes a line: text for people, JSON for log pipelines. */
export type LogFormat = "text" | "json";

/** The names of the log formats, for flag validation. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Parses a log level; throws a one-line `TypeError` naming `what` otherwise. */
export function parseLogLevel(value: string, what = "log level"): LogLevel {
  const level = value as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new TypeError(`Invalid ${what} "${value}": expected ${LOG_LEVELS.join(", ")}`);
  }
  return level;
}

/** Parses a log format; throws a one-line `TypeError` naming `what` otherwise. */
export function parseLogFormat(value: string, what = "log format"): LogFormat {
  const format = value as LogFormat;
  if (!LOG_FORMATS.includes(format)) {
    throw new TypeError(`Invalid ${what} "${value}": expected ${LOG_FORMATS.join(" or ")}`);
  }
  return format;
}
