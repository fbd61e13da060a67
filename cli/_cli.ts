// What the command-line tools share: flag parsing that fails in one line,
// and a main wrapper that turns any error into one line and an exit code.
import * as grpc from "@grpc/grpc-js";
import type { HashRingOptions } from "../mod.ts";
import type { EtcdTlsOptions } from "../src/etcd/mod.ts";
import type { TlsOptions } from "../src/grpc/mod.ts";
import {
  type LogFormat,
  type LogLevel,
  parseDuration,
  parseHostPort,
  parseLogFormat,
  parseLogLevel,
} from "../src/parse.ts";
import { type CLUSTER_FLAGS, type parseFlags, SECRET_ENV, UsageError } from "./_flags.ts";

export { UsageError } from "./_flags.ts";

/** Runs `main`; prints a failure as `<tool>: <message>` on one line and exits non-zero. */
export async function run(tool: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const code = error instanceof UsageError ? error.exitCode : error instanceof TypeError ? 2 : 1;
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    console.error(`${tool}: ${message}${code === 2 ? ` (see ${tool} --help)` : ""}`);
    Deno.exit(code);
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

/** The cluster flags, validated, as options for `src/`. */
export interface ClusterOptions {
  level: LogLevel;
  format: LogFormat;
  peers: string[] | undefined;
  etcd: {
    endpoints: string[];
    prefix: string;
    username: string | undefined;
    password: string | undefined;
    timeout: number;
    tls: EtcdTlsOptions | undefined;
  };
  ring: HashRingOptions;
  tls: TlsOptions | undefined;
  /** Milliseconds between keepalive pings. */
  keepalive: number;
  /** The least wait before a call is hedged to the next member, in milliseconds. */
  hedgeAfter: number;
}

type ClusterFlagValues =
  & Omit<
    ReturnType<typeof parseFlags<typeof CLUSTER_FLAGS>>,
    | "etcd-prefix"
    | "etcd-timeout"
    | "ring"
    | "log-level"
    | "log-format"
    | "tls-server-name"
    | "keepalive"
    | "hedge-after"
  >
  & {
    "etcd-prefix": string;
    "etcd-timeout": string;
    ring: string;
    "log-level": string;
    "log-format"?: string;
    "tls-server-name"?: string;
    keepalive?: string;
    "hedge-after"?: string;
  };

/** Validates {@linkcode CLUSTER_FLAGS}, reads the files they name, and turns them into options. */
export function clusterOptions(flags: ClusterFlagValues): ClusterOptions {
  if (flags.peers !== undefined && flags.etcd !== undefined) {
    throw new UsageError("--peers and --etcd exclude each other: use one");
  }
  const level = parseLogLevel(flags["log-level"], "--log-level");
  const format = parseLogFormat(flags["log-format"] ?? "text", "--log-format");
  if (flags.ring !== "default" && flags.ring !== "seed") {
    throw new UsageError(`Invalid --ring "${flags.ring}": expected default or seed`);
  }
  // grpc-js logs errors of its own (e.g. a failed bind) that our one-line
  // messages already report; show them only when debugging.
  grpc.setLogVerbosity(level === "debug" ? grpc.logVerbosity.ERROR : grpc.logVerbosity.NONE);
  return {
    level,
    format,
    peers: flags.peers === undefined ? undefined : splitList(flags.peers, "--peers member"),
    etcd: etcdOptions(flags),
    ring: flags.ring === "seed" ? { compat: "seed" } : {},
    tls: tlsOptions(flags),
    keepalive: positiveDuration(flags.keepalive ?? "2s", "--keepalive"),
    hedgeAfter: positiveDuration(flags["hedge-after"] ?? "50ms", "--hedge-after"),
  };
}

/** Parses a duration flag that must be positive; a bad one is a UsageError naming it. */
export function positiveDuration(value: string, flag: string): number {
  const ms = parseDuration(value, flag);
  if (!(ms > 0)) throw new UsageError(`Invalid ${flag} "${value}": it must be positive`);
  return ms;
}

function etcdOptions(flags: ClusterFlagValues): ClusterOptions["etcd"] {
  if (flags["etcd-password"] !== undefined) {
    throw new UsageError(
      `--etcd-password is refused: a command line shows in /proc to every user; set $${SECRET_ENV.etcdPassword} or --etcd-password-file`,
    );
  }
  const username = flags["etcd-user"] ?? flags["etcd-username"];
  const file = flags["etcd-password-file"];
  const password = file !== undefined
    ? readSecret(file, "--etcd-password-file")
    : envSecret(SECRET_ENV.etcdPassword);
  if (password !== undefined && username === undefined) {
    throw new UsageError("An etcd password needs --etcd-user");
  }
  if (username !== undefined && password === undefined) {
    throw new UsageError(
      `--etcd-user needs a password: set $${SECRET_ENV.etcdPassword} or --etcd-password-file`,
    );
  }
  const [ca, cert, key] = (["etcd-ca", "etcd-cert", "etcd-key"] as const).map((flag) =>
    flags[flag] === undefined ? undefined : readFile(flags[flag]!, `--${flag}`)
  );
  return {
    endpoints: splitEndpoints(flags.etcd ?? "127.0.0.1:2379"),
    prefix: flags["etcd-prefix"],
    username,
    password,
    timeout: parseDuration(flags["etcd-timeout"], "--etcd-timeout"),
    tls: ca || cert || key ? { ca, cert, key } : undefined,
  };
}

function tlsOptions(flags: ClusterFlagValues): TlsOptions | undefined {
  const given = (["tls-cert", "tls-key", "tls-ca"] as const).filter((f) => flags[f] !== undefined);
  if (given.length === 0) return undefined;
  if (given.length < 3) {
    throw new UsageError("Mutual TLS needs all of --tls-cert, --tls-key and --tls-ca");
  }
  return {
    cert: readFile(flags["tls-cert"]!, "--tls-cert"),
    key: readFile(flags["tls-key"]!, "--tls-key"),
    ca: readFile(flags["tls-ca"]!, "--tls-ca"),
    serverName: flags["tls-server-name"],
  };
}

/** Reads a file a flag names; a failure is one line naming the flag. */
export function readFile(path: string, flag: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "no permission to read it (deno task node and deno task gateway grant it)"
      : String(error);
    throw new UsageError(`Cannot read ${flag} ${path}: ${why}`, 1);
  }
}

/** An environment variable holding a secret; one this process may not read counts as unset. */
export function envSecret(name: string): string | undefined {
  const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** Reads a secret from a file, without its trailing newline. */
export function readSecret(path: string, flag: string): string {
  const secret = new TextDecoder().decode(readFile(path, flag)).replace(/\r?\n$/, "");
  if (secret === "") throw new UsageError(`${flag} ${path} is empty`);
  return secret;
}

function splitEndpoints(value: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`Invalid --etcd list "${value}": it is empty`);
  for (const item of items) parseHostPort(item.replace(/^https?:\/\//, ""), "--etcd endpoint");
  return items;
}

/** Parses a comma-separated list of `host:port`; a bad entry is a UsageError naming `what`. */
export function splitList(value: string, what: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`Invalid ${what} list "${value}": it is empty`);
  for (const item of items) parseHostPort(item, what);
  return items;
}
