// The HTTP gateway: discovers the nodes (etcd, or --peers) and sends each
// request over gRPC to its key's owner. Run with --help for the flags.
import {
  consoleLogger,
  formatSummary,
  listMembers,
  parseBytes,
  parseDuration,
  parseHostPort,
} from "../src/node/mod.ts";
import { type Gateway, type GatewayOptions, startGateway } from "../src/gateway/mod.ts";
import {
  clusterOptions,
  envSecret,
  onShutdownSignal,
  positiveDuration,
  readSecret,
  run,
} from "./_cli.ts";
import {
  CLUSTER_USAGE,
  GATEWAY_FLAGS,
  type GatewayFlags,
  parseFlags,
  SECRET_ENV,
  UsageError,
} from "./_flags.ts";
import { checkPermissions, gatewayNeeds } from "./_permissions.ts";

const USAGE = `Usage: deno task gateway [options]
       deno run -A cli/gateway.ts [options]

The mccache HTTP gateway:
  GET|PUT|DELETE <prefix>/<group>/<key>     (PUT body = value, ?ttl=60s)
  GET <prefix>?group=<group>&key=<key>      (the Go original's form)
  GET /healthz, GET /metrics
  GET /                                     the status page (GET /status.json: its data)

Options:
  --addr host:port           HTTP address to listen on                [127.0.0.1:9999]
  --listen host:port         listen here instead, e.g. 0.0.0.0:9999
  --prefix path              URL prefix of the cache API              [/mccache]
  --timeout duration         deadline of each request                 [2s]
  --max-value-bytes size     largest value a PUT may store            [1MiB]
  --body-timeout duration    a PUT's whole body must arrive within this;
                             else 408 and the connection is closed    [10s]
  --hot-ttl duration         keep hot keys in the gateway this long;
                             0 turns the gateway hot cache off        [0]
  --hot-bytes size           budget of the gateway hot cache; an entry
                             counts its key, its value and ~1 KiB     [32MiB]
  --stale-while-revalidate duration
                             the nodes' staleWhileRevalidate: values with a
                             TTL say so in Cache-Control (0: off)     [0]
  --token-file file          PUT and DELETE need "Authorization: Bearer <token>"
                             with the token in this file (or $${SECRET_ENV.token})
  --token-reads              GETs need the token too
  --debug-headers            name the node that answered in each value
                             (X-Mccache-Node; costs ~10% of the gateway's CPU)
                             and in error bodies
${CLUSTER_USAGE}`;

function token(flags: { "token-file"?: string; "token-reads": boolean }): string | undefined {
  const file = flags["token-file"];
  const token = file !== undefined ? readSecret(file, "--token-file") : envSecret(SECRET_ENV.token);
  if (token === "") throw new UsageError(`$${SECRET_ENV.token} is empty`);
  if (flags["token-reads"] && token === undefined) {
    throw new UsageError(`--token-reads needs a token: --token-file or $${SECRET_ENV.token}`);
  }
  return token;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, GATEWAY_FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const listen = flags.listen ?? flags.addr;
  parseHostPort(listen, flags.listen === undefined ? "--addr" : "--listen", { allowZero: true });
  checkPermissions(gatewayNeeds(flags));
  const cluster = clusterOptions(flags);
  const gateway = await startGateway({
    addr: listen,
    peers: cluster.peers,
    etcd: cluster.etcd,
    ring: cluster.ring,
    tls: cluster.tls,
    keepalive: cluster.keepalive,
    hedgeAfter: cluster.hedgeAfter,
    ...apiOptions(flags),
    logger: consoleLogger(cluster.level, "gateway", cluster.format),
  });
  if (cluster.format === "text") console.log(summary(flags, gateway));
  onShutdownSignal(() => gateway.stop());
}

// The flags of the HTTP API itself, validated.
function apiOptions(flags: GatewayFlags): Omit<GatewayOptions, "addr" | "logger"> {
  if (!flags.prefix.startsWith("/")) {
    throw new TypeError(`Invalid --prefix "${flags.prefix}": it must start with /`);
  }
  const timeout = parseDuration(flags.timeout, "--timeout");
  if (timeout <= 0) {
    throw new TypeError(`Invalid --timeout "${flags.timeout}": it must be positive`);
  }
  return {
    prefix: flags.prefix,
    timeout,
    maxValueBytes: parseBytes(flags["max-value-bytes"], "--max-value-bytes"),
    bodyTimeout: positiveDuration(flags["body-timeout"], "--body-timeout"),
    hotTtl: parseDuration(flags["hot-ttl"], "--hot-ttl"),
    hotBytes: parseBytes(flags["hot-bytes"], "--hot-bytes"),
    staleWhileRevalidate: parseDuration(
      flags["stale-while-revalidate"],
      "--stale-while-revalidate",
    ),
    debugHeaders: flags["debug-headers"],
    token: token(flags),
    tokenReads: flags["token-reads"],
  };
}

// One screen on stdout: where it serves, whom it routes to, what it keeps.
function summary(flags: GatewayFlags, gateway: Gateway): string {
  const base = `http://${gateway.addr}`;
  const membership = flags.peers !== undefined
    ? "static (--peers)"
    : `etcd ${flags.etcd ?? "127.0.0.1:2379"}, prefix ${flags["etcd-prefix"]}/`;
  const hot = flags["hot-ttl"] === "0"
    ? "off"
    : `${flags["hot-ttl"]} per key, budget ${flags["hot-bytes"]}`;
  const writes = flags["token-file"] !== undefined || envSecret(SECRET_ENV.token) !== undefined
    ? `need a bearer token${flags["token-reads"] ? " (reads too)" : ""}`
    : "open (no token)";
  return formatSummary(`mccache gateway ${gateway.addr}`, [
    ["cache API", `${base}${flags.prefix}/<group>/<key>`],
    ["status page", `${base}/   (data: ${base}/status.json)`],
    ["metrics", `${base}/metrics, ${base}/healthz`],
    ["membership", membership],
    ["members", listMembers(gateway.members)],
    ["budgets", `timeout ${flags.timeout}, largest value ${flags["max-value-bytes"]}`],
    ["hot cache", hot],
    ["writes", writes],
    ["ring", flags.ring],
    ["TLS", flags["tls-cert"] ? "on (mutual, to the nodes)" : "off"],
  ]);
}

if (import.meta.main) await run("cli/gateway.ts", main);
