// A whole local cluster in one process: 3 nodes serving the Go original's "scores"
// group and a gateway, with static membership (or etcd with --etcd). Prints
// curl lines that work, the status page's URL, and a live line every 5 s;
// Ctrl-C stops everything.
import { GroupRegistry } from "../mod.ts";
import { type CacheNode, consoleLogger, parseDuration, startNode } from "../src/node/mod.ts";
import { addDemoScores } from "./_demo_scores.ts";
import { type Gateway, LiveLine, startGateway } from "../src/gateway/mod.ts";
import { type ClusterOptions, clusterOptions, onShutdownSignal, run, splitList } from "./_cli.ts";
import { CLUSTER_FLAGS, parseFlags } from "./_flags.ts";
import { CleanupStack } from "../src/lifecycle/lifecycle.ts";

const USAGE = `Usage: deno task demo [options]

Starts 3 cache nodes and a gateway on loopback, prints curl lines to try and
the status page's URL, then a line every 5 s (req/s, hit ratio, members),
and stops everything on Ctrl-C.

Options:
  --nodes a,b,c              node addresses       [127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003]
  --addr host:port           gateway address      [127.0.0.1:9999]
  --etcd host:port[,...]     register and discover through etcd instead of a static list
  --log-level level          debug, info, warn or error               [warn]
  --log-format text|json     log lines as text or one JSON object per line [text]
  --live-every duration      how often the live line is printed; 0 = never [5s]
  -h, --help                 show this help`;

const FLAGS = {
  etcd: CLUSTER_FLAGS.etcd,
  help: CLUSTER_FLAGS.help,
  nodes: { type: "string", default: "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003" },
  addr: { type: "string", default: "127.0.0.1:9999" },
  "log-level": { type: "string", default: "warn" },
  "log-format": CLUSTER_FLAGS["log-format"],
  "live-every": { type: "string", default: "5s" },
} as const;

function tryLines(base: string): string[] {
  const url = `http://${base}/mccache`;
  return [
    `curl -s ${url}/scores/Rex                                   # 156`,
    `curl -s '${url}?group=scores&key=Rola'                      # 139`,
    `curl -s -X PUT --data-binary hello '${url}/scores/greeting?ttl=60s' -w '%{http_code}'   # 204`,
    `curl -s ${url}/scores/greeting                              # hello`,
    `curl -s -X DELETE ${url}/scores/greeting -w '%{http_code}'  # 204`,
    `curl -s -o /dev/null -w '%{http_code}' ${url}/scores/nobody # 404`,
  ];
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const cluster = demoCluster(flags);
  // Stopped in reverse: the gateway first, then the nodes, also when one of them fails to start.
  const stack = new CleanupStack();
  const gateway = await stack.start(async () => {
    for (const addr of cluster.addrs) {
      const node = await startDemoNode(addr, cluster);
      stack.defer(() => node.stop());
    }
    const gateway = await startGateway({
      addr: flags.addr,
      peers: cluster.peers,
      etcd: cluster.etcd,
      logger: consoleLogger(cluster.level, "gateway", cluster.format),
    });
    stack.defer(() => gateway.stop());
    return gateway;
  });
  console.log(banner(cluster.addrs, flags.etcd, gateway.addr));
  if (cluster.liveEvery > 0) {
    const live = printLive(gateway, cluster.liveEvery);
    stack.defer(() => clearInterval(live));
  }
  onShutdownSignal(() => stack.close());
}

// The demo's flags, validated.
interface DemoCluster extends Pick<ClusterOptions, "level" | "format" | "etcd" | "peers"> {
  addrs: string[];
  liveEvery: number;
}

function demoCluster(flags: ReturnType<typeof parseFlags<typeof FLAGS>>): DemoCluster {
  const { level, format, etcd } = clusterOptions({
    "etcd-prefix": "mccache",
    "etcd-timeout": "5s",
    ring: "default",
    etcd: flags.etcd,
    "log-level": flags["log-level"],
    "log-format": flags["log-format"],
  });
  const liveEvery = parseDuration(flags["live-every"], "--live-every");
  const addrs = splitList(flags.nodes, "--nodes member");
  const peers = flags.etcd !== undefined ? undefined : addrs;
  return { level, format, etcd, peers, addrs, liveEvery };
}

function startDemoNode(addr: string, cluster: DemoCluster): Promise<CacheNode> {
  const registry = new GroupRegistry();
  addDemoScores(registry, 64 << 20);
  return startNode({
    addr,
    registry,
    peers: cluster.peers,
    etcd: cluster.etcd,
    logger: consoleLogger(cluster.level, `node ${addr}`, cluster.format),
  });
}

function banner(addrs: string[], etcd: string | undefined, gateway: string): string {
  return [
    `mccache demo: ${addrs.length} nodes (${addrs.join(", ")}) ${
      etcd !== undefined ? `registered in etcd at ${etcd}` : "with static membership"
    }`,
    `gateway: http://${gateway}/mccache/<group>/<key>   metrics: http://${gateway}/metrics`,
    `status page: http://${gateway}/`,
    "",
    'Try (the Go original\'s group "scores" holds zhangshan, lisi, Rex, Rola):',
    ...tryLines(gateway).map((line) => `  ${line}`),
    "",
    "Press Ctrl-C to stop.",
  ].join("\n");
}

// The live line: what the cluster did since the line before.
function printLive(gateway: Gateway, everyMs: number): ReturnType<typeof setInterval> {
  const line = new LiveLine();
  return setInterval(() => {
    gateway.status().then((report) => console.log(line.next(report)), () => {});
  }, everyMs);
}

if (import.meta.main) await run("cli/demo.ts", main);
