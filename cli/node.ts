// A cache node: serves groups over gRPC, registers in etcd (or uses a static
// peer list), routes keys to their owners. Run with --help for the flags.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { GroupRegistry } from "../mod.ts";
import {
  addOriginGroups,
  type CacheNode,
  consoleLogger,
  formatBytes,
  formatSummary,
  listMembers,
  loadGroupsModule,
  parseBytes,
  parseDuration,
  parseHostPort,
  startNode,
} from "../src/node/mod.ts";
import { addDemoScores } from "./_demo_scores.ts";
import { clusterOptions, onShutdownSignal, positiveDuration, run } from "./_cli.ts";
import { CLUSTER_USAGE, NODE_FLAGS, type NodeFlags, parseFlags, UsageError } from "./_flags.ts";
import { checkPermissions, nodeNeeds } from "./_permissions.ts";

const USAGE = `Usage: deno task node [options]
       deno run -A cli/node.ts [options]

A mccache node: serves its groups over gRPC and joins the cluster through etcd
(or a static --peers list).

Options:
  --addr host:port           the address others reach it at: served, and
                             registered in etcd                     [127.0.0.1:8001]
  --listen host:port         serve here instead, e.g. 0.0.0.0:8001
  --lease-ttl seconds        etcd lease TTL                           [5]
  --groups ./module.ts       module whose default export adds groups
  --origin group=url         read-through group from an HTTP origin; url
                             contains {key}; repeatable
  --cache-bytes size         byte budget of each group                [64MiB]
  --max-value-bytes size     largest value a write may store here, and
                             largest --origin body (cut off past it)  [1MiB]
  --negative-ttl duration    answer an --origin body that was too large
                             with the same 502 this long, unfetched   [5s]
  --max-streams count        calls one connection may carry at once   [100]
  --max-buffered-bytes size  bytes that arriving messages may hold, all
                             connections together; more is refused with
                             RESOURCE_EXHAUSTED                       [128MiB]
  --http-addr host:port      serve /healthz and /metrics over HTTP
  --idle-timeout duration    close a connection that carried no call this long [5m]
${CLUSTER_USAGE}

Without --groups or --origin, the node serves the Go original's example group
"scores" (zhangshan, lisi, Rex, Rola).`;

function leaseTtl(flags: NodeFlags): number {
  const ttl = parseDuration(flags["lease-ttl"], "--lease-ttl", "s") / 1000;
  if (!Number.isInteger(ttl) || ttl < 1) {
    throw new UsageError(
      `Invalid --lease-ttl "${flags["lease-ttl"]}": expected whole seconds >= 1`,
    );
  }
  return ttl;
}

function memoryBounds(flags: NodeFlags): { maxStreams: number; maxBufferedBytes: number } {
  const maxStreams = Number(flags["max-streams"]);
  if (!/^\d+$/.test(flags["max-streams"]) || maxStreams < 1 || maxStreams > 2 ** 31 - 1) {
    throw new UsageError(
      `Invalid --max-streams "${flags["max-streams"]}": expected a whole number from 1 to ${
        2 ** 31 - 1
      }`,
    );
  }
  const maxBufferedBytes = parseBytes(flags["max-buffered-bytes"], "--max-buffered-bytes");
  if (maxBufferedBytes < 1) {
    throw new UsageError(
      `Invalid --max-buffered-bytes "${flags["max-buffered-bytes"]}": it must be positive`,
    );
  }
  return { maxStreams, maxBufferedBytes };
}

async function groups(
  flags: NodeFlags,
  cacheBytes: number,
  maxValueBytes: number,
): Promise<GroupRegistry> {
  const registry = new GroupRegistry();
  const groupOptions = { cacheBytes, node: flags.addr };
  if (flags.groups !== undefined) {
    await loadGroupsModule(pathToFileURL(resolve(flags.groups)), registry, groupOptions);
  }
  addOriginGroups(registry, flags.origin ?? [], {
    ...groupOptions,
    maxBodyBytes: maxValueBytes,
    negativeTtl: parseDuration(flags["negative-ttl"], "--negative-ttl"),
  });
  if (flags.groups === undefined && flags.origin === undefined) addDemoScores(registry, cacheBytes);
  return registry;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, NODE_FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  parseHostPort(flags.addr, "--addr");
  if (flags.listen !== undefined) parseHostPort(flags.listen, "--listen");
  if (flags["http-addr"] !== undefined) parseHostPort(flags["http-addr"], "--http-addr");
  const cluster = clusterOptions(flags);
  const ttl = leaseTtl(flags);
  const cacheBytes = parseBytes(flags["cache-bytes"], "--cache-bytes");
  const maxValueBytes = parseBytes(flags["max-value-bytes"], "--max-value-bytes");
  const bounds = memoryBounds(flags);
  checkPermissions(nodeNeeds(flags));
  const registry = await groups(flags, cacheBytes, maxValueBytes);
  const node = await startNode({
    addr: flags.addr,
    listen: flags.listen,
    registry,
    peers: cluster.peers,
    etcd: { ...cluster.etcd, leaseTtl: ttl },
    httpAddr: flags["http-addr"],
    ring: cluster.ring,
    tls: cluster.tls,
    maxValueBytes,
    ...bounds,
    keepalive: cluster.keepalive,
    hedgeAfter: cluster.hedgeAfter,
    idleTimeout: positiveDuration(flags["idle-timeout"], "--idle-timeout"),
    logger: consoleLogger(cluster.level, `node ${flags.addr}`, cluster.format),
  });
  if (cluster.format === "text") console.log(summary(flags, node, registry, bounds));
  onShutdownSignal(() => node.stop());
}

// One screen on stdout: where it serves, whom it knows, what it holds.
function summary(
  flags: NodeFlags,
  node: CacheNode,
  registry: GroupRegistry,
  bounds: { maxStreams: number; maxBufferedBytes: number },
): string {
  const membership = flags.etcd !== undefined || flags.peers === undefined
    ? `etcd ${flags.etcd ?? "127.0.0.1:2379"}, prefix ${flags["etcd-prefix"]}/`
    : "static (--peers)";
  const groups = [...registry].map((g) => `${g.name} (${formatBytes(g.maxBytes)})`);
  return formatSummary(`mccache node ${node.addr}`, [
    ["gRPC", `${flags.listen ?? node.addr}${flags.listen ? ` (registered as ${node.addr})` : ""}`],
    ["HTTP", node.httpAddr ? `http://${node.httpAddr}/healthz, /metrics` : "off (--http-addr)"],
    ["membership", membership],
    ["members", listMembers(node.members)],
    ["groups", groups.join(", ") || "none"],
    [
      "budgets",
      `largest value ${flags["max-value-bytes"]}, ${bounds.maxStreams} calls per connection, ` +
      `${formatBytes(bounds.maxBufferedBytes)} arriving messages`,
    ],
    ["ring", flags.ring],
    ["TLS", flags["tls-cert"] ? "on (mutual)" : "off"],
  ]);
}

if (import.meta.main) await run("cli/node.ts", main);
