/**
 * The logger adapters take. The core never logs; adapters log lifecycle
 * events (started, member joined, etcd lost), never once per request at the
 * default level.
 *
 * @module
 */

import type { LogFormat, LogLevel } from "../parse.ts";

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../parse.ts";

/** Where adapters send their log lines. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Lifecycle events. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something failed and is being retried or worked around. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed for good. */
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger that drops everything: the default of every adapter.
 *
 * @example
 * ```ts
 * import { silentLogger } from "@mccache/core/node";
 *
 * silentLogger.info("nobody hears this");
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});

/**
 * A logger that writes one line per event to stderr, dropping events below
 * `level`. As text: `2026-11-25T10:00:00.000Z INFO [name] message key="value"
 * n=3`, every string value quoted and escaped as JSON, so that a value
 * with spaces or a newline cannot pass for another field or line. As JSON:
 * one object per line, `{"time", "level", "logger", "msg", ...fields}`.
 *
 * @example Text for a terminal, JSON for a log pipeline
 * ```ts
 * import { consoleLogger } from "@mccache/core/node";
 *
 * const log = consoleLogger("warn", "node 127.0.0.1:8001");
 * log.info("not printed");
 * const json = consoleLogger("info", "gateway", "json");
 * json.debug("not printed either");
 * ```
 */
export function consoleLogger(
  level: LogLevel = "info",
  name?: string,
  format: LogFormat = "text",
): Logger {
  const min = LEVELS[level];
  const line = format === "json" ? jsonLine : textLine;
  const write = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[at] < min) return;
    console.error(line(new Date().toISOString(), at, name, message, fields ?? {}));
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

function textLine(
  time: string,
  level: LogLevel,
  name: string | undefined,
  message: string,
  fields: Record<string, unknown>,
): string {
  let line = `${time} ${level.toUpperCase()}${name ? ` [${name}]` : ""} ${message}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    line += ` ${key}=${JSON.stringify(value instanceof Error ? value.message : value)}`;
  }
  return line;
}

function jsonLine(
  time: string,
  level: LogLevel,
  name: string | undefined,
  message: string,
  fields: Record<string, unknown>,
): string {
  const entry: Record<string, unknown> = { time, level, logger: name, msg: message };
  for (const [key, value] of Object.entries(fields)) {
    // Fields never overwrite the four above: a field named "msg" is kept apart.
    const field = key in entry ? `field.${key}` : key;
    entry[field] = value instanceof Error ? value.message : value;
  }
  return JSON.stringify(entry);
}
