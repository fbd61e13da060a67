// A logger for tests that keeps what it is given.

/** A log line as {@linkcode recordingLogger} keeps it. */
export interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

/**
 * A `Logger` that keeps every line in `records`, so that tests can assert
 * what was logged and how often; `print` also writes them to stderr.
 *
 * @example Count warnings
 * ```ts
 * import { recordingLogger } from "./log.ts";
 *
 * const log = recordingLogger();
 * log.warn("etcd lost");
 * console.assert(log.records.filter((r) => r.level === "warn").length === 1);
 * ```
 */
export function recordingLogger(print = false): {
  records: LogRecord[];
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
} {
  const records: LogRecord[] = [];
  const at = (level: LogRecord["level"]) => (message: string, fields?: Record<string, unknown>) => {
    records.push({ level, message, fields });
    if (print) console.error(level.toUpperCase(), message, JSON.stringify(fields ?? {}));
  };
  return { records, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
