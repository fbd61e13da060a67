// What the command-line tools share: flag parsing that fails in one line,
// and a main wrapper that turns any error into one line and an exit code.
import { parseArgs, type ParseArgsConfig } from "node:util";
import * as grpc from "@grpc/grpc-js";
import type { HashRingOptions } from "../mod.ts";
import { LOG_LEVELS, type LogLevel, parseDuration, parseHostPort } from "../src/node/mod.ts";

/** An error whose message is for the user, with the exit code to use. */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `args` strictly; a bad flag is a UsageError naming it. */
export function parseFlags<T extends Options>(
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>["values"] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
}

/** Runs `main`; prints a failure as `<tool>: <message>` on one line and exits non-zero. */
export async function run(tool: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const usage = error instanceof UsageError || error instanceof TypeError;
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${tool}: ${message}${usage ? ` (see ${tool} --help)` : ""}`);
    Deno.exit(error instanceof UsageError ? error.exitCode : usage ? 2 : 1);
  }
}

/**
 * Calls `stop` on the first SIGINT or SIGTERM, then exits 0. A signal more
 * than a second later forces the exit (130); one sooner is the same Ctrl-C
 * arriving twice (the terminal signals the whole process group, and
 * `deno task` forwards it as well) and is ignored.
 */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stoppingSince = 0;
  const handler = () => {
    if (stoppingSince > 0) {
      if (Date.now() - stoppingSince > 1000) Deno.exit(130);
      return;
    }
    stoppingSince = Date.now();
    stop().then(() => Deno.exit(0), (error) => {
      console.error(`Stopping failed: ${error instanceof Error ? error.message : error}`);
      Deno.exit(1);
    });
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
}

/** Flags shared by the node and the gateway: how to reach etcd or the static members. */
export const CLUSTER_FLAGS = {
  etcd: { type: "string" },
  "etcd-prefix": { type: "string", default: "mccache" },
  "etcd-username": { type: "string" },
  "etcd-password": { type: "string" },
  "etcd-timeout": { type: "string", default: "5s" },
  peers: { type: "string" },
  ring: { type: "string", default: "default" },
  "log-level": { type: "string", default: "info" },
  help: { type: "boolean", short: "h" },
} as const;

/** Help lines for {@linkcode CLUSTER_FLAGS}. */
export const CLUSTER_USAGE =
  `  --etcd host:port[,...]     etcd endpoints                           [127.0.0.1:2379]
  --etcd-prefix prefix       etcd key prefix (<prefix>/<addr>)        [mccache]
  --etcd-username name       etcd user
  --etcd-password password   etcd password
  --etcd-timeout duration    how long to wait for etcd at start       [5s]
  --peers a,b,c              static membership instead of etcd
  --ring default|seed        key placement; seed = the Go original's  [default]
                             (a cluster with nodes of the Go original
                             needs seed on every mccache node and gateway)
  --log-level level          debug, info, warn or error               [info]
  -h, --help                 show this help`;

interface ClusterFlagValues {
  etcd?: string;
  "etcd-prefix": string;
  "etcd-username"?: string;
  "etcd-password"?: string;
  "etcd-timeout": string;
  peers?: string;
  ring: string;
  "log-level": string;
}

/** Validates {@linkcode CLUSTER_FLAGS} and turns them into options for `src/`. */
/** The cluster flags, validated. */
export interface ClusterOptions {
  level: LogLevel;
  peers: string[] | undefined;
  etcd: {
    endpoints: string[];
    prefix: string;
    username: string | undefined;
    password: string | undefined;
    timeout: number;
  };
  ring: HashRingOptions;
}

export function clusterOptions(flags: ClusterFlagValues): ClusterOptions {
  if (flags.peers !== undefined && flags.etcd !== undefined) {
    throw new UsageError("--peers and --etcd exclude each other: use one");
  }
  const level = flags["log-level"] as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new UsageError(`Invalid --log-level "${level}": expected ${LOG_LEVELS.join(", ")}`);
  }
  if (flags.ring !== "default" && flags.ring !== "seed") {
    throw new UsageError(`Invalid --ring "${flags.ring}": expected default or seed`);
  }
  // grpc-js logs errors of its own (e.g. a failed bind) that our one-line
  // messages already report; show them only when debugging.
  grpc.setLogVerbosity(level === "debug" ? grpc.logVerbosity.ERROR : grpc.logVerbosity.NONE);
  return {
    level,
    peers: flags.peers === undefined ? undefined : splitList(flags.peers, "--peers member"),
    etcd: {
      endpoints: splitList(flags.etcd ?? "127.0.0.1:2379", "--etcd endpoint"),
      prefix: flags["etcd-prefix"],
      username: flags["etcd-username"],
      password: flags["etcd-password"],
      timeout: parseDuration(flags["etcd-timeout"], "--etcd-timeout"),
    },
    ring: flags.ring === "seed" ? { compat: "seed" } : {},
  };
}

/** Parses a comma-separated list of `host:port`; a bad entry is a UsageError naming `what`. */
export function splitList(value: string, what: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`Invalid ${what} list "${value}": it is empty`);
  for (const item of items) parseHostPort(item, what);
  return items;
}
