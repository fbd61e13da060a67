// The HTTP gateway: discovers the nodes (etcd, or --peers) and sends each
// request over gRPC to its key's owner. Run with --help for the flags.
import { consoleLogger, parseBytes, parseDuration } from "../src/node/mod.ts";
import { startGateway } from "../src/gateway/mod.ts";
import {
  CLUSTER_FLAGS,
  CLUSTER_USAGE,
  clusterOptions,
  onShutdownSignal,
  parseFlags,
  run,
} from "./_cli.ts";

const USAGE = `Usage: deno task gateway [options]
       deno run -A cli/gateway.ts [options]

The mccache HTTP gateway:
  GET|PUT|DELETE <prefix>/<group>/<key>     (PUT body = value, ?ttl=60s)
  GET <prefix>?group=<group>&key=<key>      (the Go original's form)
  GET /healthz, GET /metrics

Options:
  --addr host:port           HTTP address to listen on                [127.0.0.1:9999]
  --prefix path              URL prefix of the cache API              [/mccache]
  --timeout duration         deadline of each request                 [2s]
  --max-value-bytes size     largest value a PUT may store            [1MiB]
  --hot-ttl duration         keep hot keys in the gateway this long;
                             0 turns the gateway hot cache off        [0]
  --hot-bytes size           budget of the gateway hot cache; an entry
                             counts its key, its value and ~1 KiB     [32MiB]
  --debug-headers            name the node that answered in each value
                             (X-Mccache-Node; costs ~10% of the gateway's CPU)
${CLUSTER_USAGE}`;

const FLAGS = {
  ...CLUSTER_FLAGS,
  addr: { type: "string", default: "127.0.0.1:9999" },
  prefix: { type: "string", default: "/mccache" },
  timeout: { type: "string", default: "2s" },
  "max-value-bytes": { type: "string", default: "1MiB" },
  "hot-ttl": { type: "string", default: "0" },
  "hot-bytes": { type: "string", default: "32MiB" },
  "debug-headers": { type: "boolean", default: false },
} as const;

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const cluster = clusterOptions(flags);
  if (!flags.prefix.startsWith("/")) {
    throw new TypeError(`Invalid --prefix "${flags.prefix}": it must start with /`);
  }
  const timeout = parseDuration(flags.timeout, "--timeout");
  if (timeout <= 0) {
    throw new TypeError(`Invalid --timeout "${flags.timeout}": it must be positive`);
  }
  const logger = consoleLogger(cluster.level, "gateway");
  const gateway = await startGateway({
    addr: flags.addr,
    peers: cluster.peers,
    etcd: cluster.etcd,
    ring: cluster.ring,
    prefix: flags.prefix,
    timeout,
    maxValueBytes: parseBytes(flags["max-value-bytes"], "--max-value-bytes"),
    hotTtl: parseDuration(flags["hot-ttl"], "--hot-ttl"),
    hotBytes: parseBytes(flags["hot-bytes"], "--hot-bytes"),
    debugHeaders: flags["debug-headers"],
    logger,
  });
  onShutdownSignal(() => gateway.stop());
}

if (import.meta.main) await run("cli/gateway.ts", main);
