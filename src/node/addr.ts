/**
 * Parsing of `host:port` addresses, for flags and options.
 *
 * @module
 */

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
