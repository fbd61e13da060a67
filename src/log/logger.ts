/**
 * The logger adapters take. The core never logs; adapters log lifecycle
 * events (started, member joined, etcd lost), never once per request at the
 * default level.
 *
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

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

/** The names of the log levels, for flag validation. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

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
 * A logger that writes one line per event to stderr, as
 * `2026-11-25T10:00:00.000Z INFO message key=value`, dropping events below
 * `level`.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@mccache/core/node";
 *
 * const log = consoleLogger("warn", "node 127.0.0.1:8001");
 * log.info("not printed");
 * ```
 */
export function consoleLogger(level: LogLevel = "info", name?: string): Logger {
  const min = LEVELS[level];
  const prefix = name ? ` [${name}]` : "";
  const write = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[at] < min) return;
    let line = `${new Date().toISOString()} ${at.toUpperCase()}${prefix} ${message}`;
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value === undefined) continue;
      line += ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`;
    }
    console.error(line);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
