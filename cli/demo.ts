// A whole local cluster in one process: 3 nodes serving the Go original's "scores"
// group and a gateway, with static membership (or etcd with --etcd). Prints
// curl lines that work, the status page's URL, and a live line every 5 s;
// Ctrl-C stops everything.
import { GroupRegistry } from "../mod.ts";
import { type CacheNode, consoleLogger, parseDuration, startNode } from "../src/node/mod.ts";
import { addDemoScores } from "./_demo_scores.ts";
import { type Gateway, LiveLine, startGateway } from "../src/gateway/mod.ts";
import { clusterOptions, onShutdownSignal, run, splitList } from "./_cli.ts";
import { CLUSTER_FLAGS, parseFlags } from "./_flags.ts";

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
  const useEtcd = flags.etcd !== undefined;
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
  const cluster = { level, etcd, peers: useEtcd ? undefined : addrs };
  const nodes: CacheNode[] = [];
  const stopAll = async () => {
    for (const node of nodes) await node.stop();
  };
  try {
    for (const addr of addrs) {
      const registry = new GroupRegistry();
      addDemoScores(registry, 64 << 20);
      nodes.push(
        await startNode({
          addr,
          registry,
          peers: cluster.peers,
          etcd: cluster.etcd,
          logger: consoleLogger(cluster.level, `node ${addr}`, format),
        }),
      );
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const gateway = await startGateway({
    addr: flags.addr,
    peers: cluster.peers,
    etcd: cluster.etcd,
    logger: consoleLogger(cluster.level, "gateway", format),
  }).catch(async (error) => {
    await stopAll();
    throw error;
  });
  console.log(
    [
      `mccache demo: ${addrs.length} nodes (${addrs.join(", ")}) ${
        useEtcd ? `registered in etcd at ${flags.etcd}` : "with static membership"
      }`,
      `gateway: http://${gateway.addr}/mccache/<group>/<key>   metrics: http://${gateway.addr}/metrics`,
      `status page: http://${gateway.addr}/`,
      "",
      'Try (the Go original\'s group "scores" holds zhangshan, lisi, Rex, Rola):',
      ...tryLines(gateway.addr).map((line) => `  ${line}`),
      "",
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );
  const live = liveEvery > 0 ? printLive(gateway, liveEvery) : undefined;
  onShutdownSignal(async () => {
    clearInterval(live);
    await gateway.stop();
    await stopAll();
  });
}

// The live line: what the cluster did since the line before.
function printLive(gateway: Gateway, everyMs: number): ReturnType<typeof setInterval> {
  const line = new LiveLine();
  return setInterval(() => {
    gateway.status().then((report) => console.log(line.next(report)), () => {});
  }, everyMs);
}

if (import.meta.main) await run("cli/demo.ts", main);
