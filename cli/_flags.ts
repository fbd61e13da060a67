// The flags of the node and the gateway, and strict parsing that fails in one
// line. Loads no gRPC or etcd code: the launcher (cli/start.ts) reads them too.
import { parseArgs, type ParseArgsConfig } from "node:util";

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

/** Environment variables that carry secrets, so that no command line shows them. */
export const SECRET_ENV = { etcdPassword: "MCCACHE_ETCD_PASSWORD", token: "MCCACHE_TOKEN" };

/** Flags shared by the node and the gateway: how to reach etcd or the static members, and TLS. */
export const CLUSTER_FLAGS = {
  etcd: { type: "string" },
  "etcd-prefix": { type: "string", default: "mccache" },
  "etcd-user": { type: "string" },
  "etcd-username": { type: "string" }, // the old name of --etcd-user
  "etcd-password": { type: "string" }, // refused: a secret on the command line
  "etcd-password-file": { type: "string" },
  "etcd-ca": { type: "string" },
  "etcd-cert": { type: "string" },
  "etcd-key": { type: "string" },
  "etcd-timeout": { type: "string", default: "5s" },
  peers: { type: "string" },
  ring: { type: "string", default: "default" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" },
  "tls-server-name": { type: "string", default: "mccache" },
  keepalive: { type: "string", default: "2s" },
  "hedge-after": { type: "string", default: "50ms" },
  "log-level": { type: "string", default: "info" },
  "log-format": { type: "string", default: "text" },
  help: { type: "boolean", short: "h" },
} as const;

/** Help lines for {@linkcode CLUSTER_FLAGS}. */
export const CLUSTER_USAGE =
  `  --etcd endpoint[,...]      etcd endpoints, host:port or https://name:port
                                                                      [127.0.0.1:2379]
  --etcd-prefix prefix       etcd key prefix (<prefix>/<addr>)        [mccache]
  --etcd-user name           etcd user; the password comes from
                             $${SECRET_ENV.etcdPassword} or --etcd-password-file
  --etcd-password-file file  file holding the etcd user's password
  --etcd-ca file             CA of etcd's certificate (https:// endpoints)
  --etcd-cert file           client certificate for etcd, with --etcd-key
  --etcd-key file            its private key
  --etcd-timeout duration    how long to wait for etcd at start       [5s]
  --peers a,b,c              static membership instead of etcd
  --ring default|seed        key placement; seed = the Go original's  [default]
                             (a cluster with nodes of the Go original
                             needs seed on every mccache node and gateway)
  --tls-cert file            this process's certificate: mutual TLS on every
                             gRPC hop (with --tls-key and --tls-ca; a cluster is
                             all-TLS or all-plaintext)
  --tls-key file             its private key
  --tls-ca file              the CA that signs the cluster's certificates
  --tls-server-name name     the DNS name every node's certificate holds [mccache]
  --keepalive duration       ping connections to nodes this often; one that
                             does not answer as long is dropped       [2s]
  --hedge-after duration     ask the next node too when a node has answered
                             nothing this long (or 4 x its p99)      [50ms]
  --log-level level          debug, info, warn or error               [info]
  --log-format text|json     log lines as text (values quoted) or as one
                             JSON object per line; json also leaves out
                             the start-up summary                     [text]
  -h, --help                 show this help`;

/** The node's flags (cli/node.ts). */
export const NODE_FLAGS = {
  ...CLUSTER_FLAGS,
  addr: { type: "string", default: "127.0.0.1:8001" },
  listen: { type: "string" },
  "lease-ttl": { type: "string", default: "5" },
  groups: { type: "string" },
  origin: { type: "string", multiple: true },
  "cache-bytes": { type: "string", default: "64MiB" },
  "max-value-bytes": { type: "string", default: "1MiB" },
  "http-addr": { type: "string" },
  "idle-timeout": { type: "string", default: "5m" },
  "max-streams": { type: "string", default: "100" },
  "max-buffered-bytes": { type: "string", default: "128MiB" },
  "negative-ttl": { type: "string", default: "5s" },
} as const;

/** The gateway's flags (cli/gateway.ts). */
export const GATEWAY_FLAGS = {
  ...CLUSTER_FLAGS,
  addr: { type: "string", default: "127.0.0.1:9999" },
  listen: { type: "string" },
  prefix: { type: "string", default: "/mccache" },
  timeout: { type: "string", default: "2s" },
  "max-value-bytes": { type: "string", default: "1MiB" },
  "hot-ttl": { type: "string", default: "0" },
  "stale-while-revalidate": { type: "string", default: "0" },
  "hot-bytes": { type: "string", default: "32MiB" },
  "debug-headers": { type: "boolean", default: false },
  "token-file": { type: "string" },
  "token-reads": { type: "boolean", default: false },
  "body-timeout": { type: "string", default: "10s" },
} as const;

/** The values of the node's flags. */
export type NodeFlags = ReturnType<typeof parseFlags<typeof NODE_FLAGS>>;
/** The values of the gateway's flags. */
export type GatewayFlags = ReturnType<typeof parseFlags<typeof GATEWAY_FLAGS>>;
