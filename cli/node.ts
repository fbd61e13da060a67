// A cache node: serves groups over gRPC, registers in etcd (or uses a static
// peer list), routes keys to their owners. Run with --help for the flags.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { GroupRegistry } from "../mod.ts";
import {
  addOriginGroups,
  addSeedScores,
  consoleLogger,
  loadGroupsModule,
  parseBytes,
  parseDuration,
  parseHostPort,
  startNode,
} from "../src/node/mod.ts";
import {
  CLUSTER_FLAGS,
  CLUSTER_USAGE,
  clusterOptions,
  onShutdownSignal,
  parseFlags,
  run,
  UsageError,
} from "./_cli.ts";

const USAGE = `Usage: deno run -A cli/node.ts [options]

A mccache node: serves its groups over gRPC and joins the cluster through etcd
(or a static --peers list).

Options:
  --addr host:port           gRPC address to serve and register     [127.0.0.1:8001]
  --lease-ttl seconds        etcd lease TTL                           [5]
  --groups ./module.ts       module whose default export adds groups
  --origin group=url         read-through group from an HTTP origin; url
                             contains {key}; repeatable
  --cache-bytes size         byte budget of each group                [64MiB]
  --http-addr host:port      serve /healthz and /metrics over HTTP
${CLUSTER_USAGE}

Without --groups or --origin, the node serves the seed's example group
"scores" (zhangshan, lisi, Rex, Rola).`;

const FLAGS = {
  ...CLUSTER_FLAGS,
  addr: { type: "string", default: "127.0.0.1:8001" },
  "lease-ttl": { type: "string", default: "5" },
  groups: { type: "string" },
  origin: { type: "string", multiple: true },
  "cache-bytes": { type: "string", default: "64MiB" },
  "http-addr": { type: "string" },
} as const;

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const addr = flags.addr;
  parseHostPort(addr, "--addr");
  const cluster = clusterOptions(flags);
  const leaseTtl = parseDuration(flags["lease-ttl"], "--lease-ttl", "s") / 1000;
  if (!Number.isInteger(leaseTtl) || leaseTtl < 1) {
    throw new UsageError(
      `Invalid --lease-ttl "${flags["lease-ttl"]}": expected whole seconds >= 1`,
    );
  }
  const cacheBytes = parseBytes(flags["cache-bytes"], "--cache-bytes");
  if (flags["http-addr"] !== undefined) parseHostPort(flags["http-addr"], "--http-addr");

  const registry = new GroupRegistry();
  const groupOptions = { cacheBytes, node: addr };
  if (flags.groups !== undefined) {
    await loadGroupsModule(pathToFileURL(resolve(flags.groups)), registry, groupOptions);
  }
  addOriginGroups(registry, flags.origin ?? [], groupOptions);
  if (flags.groups === undefined && flags.origin === undefined) addSeedScores(registry, cacheBytes);

  const node = await startNode({
    addr,
    registry,
    peers: cluster.peers,
    etcd: { ...cluster.etcd, leaseTtl },
    httpAddr: flags["http-addr"],
    ring: cluster.ring,
    logger: consoleLogger(cluster.level, `node ${addr}`),
  });
  onShutdownSignal(() => node.stop());
}

if (import.meta.main) await run("cli/node.ts", main);
