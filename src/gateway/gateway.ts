/**
 * {@linkcode startGateway}: the HTTP gateway as a library call: `Deno.serve`
 * in front of a {@linkcode GrpcUpstream} that discovers the nodes through
 * etcd (or a static list).
 *
 * @module
 */

import type { HashRingOptions } from "../hash_ring.ts";
import type { MemberSource } from "../grpc/resolver.ts";
import type { TlsOptions } from "../grpc/tls.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { NodeEtcdOptions } from "../node/node.ts";
import { parseHostPort } from "../parse.ts";
import { createGatewayHandler, type GatewayHandlerOptions } from "./handler.ts";
import { GatewayMetrics } from "./metrics.ts";
import { GrpcUpstream } from "../grpc/grpc_upstream.ts";
import { StatusCollector, type StatusReport, type StatusSource } from "./status/report.ts";
import { CleanupStack, once, serveHttp, watchEtcdMembers } from "../lifecycle/lifecycle.ts";

/** Options for {@linkcode startGateway}. */
export interface GatewayOptions
  extends Omit<GatewayHandlerOptions, "upstream" | "metrics" | "healthy" | "status"> {
  /** Where to serve HTTP, `host:port`. @default {"127.0.0.1:9999"} */
  addr?: string;
  /** Static members; etcd is not used. @default {undefined} */
  peers?: string[];
  /** Discovery through etcd when `peers` is not given. @default {{}} */
  etcd?: Omit<NodeEtcdOptions, "leaseTtl">;
  /** Key placement; must match the nodes'. @default {{}} */
  ring?: HashRingOptions;
  /** Mutual TLS with the nodes. @default {undefined (plaintext)} */
  tls?: TlsOptions;
  /** How often connections to nodes are pinged, in milliseconds. @default {2000} */
  keepalive?: number;
  /** The least wait before a get is hedged to the next node, in milliseconds (see `GrpcUpstreamOptions`). @default {50} */
  hedgeAfter?: number;
  /** Lifecycle log lines. @default {silentLogger} */
  logger?: Logger;
}

/** A running gateway. */
export interface Gateway extends AsyncDisposable {
  /** The HTTP address it listens on (the real port when 0 was asked for). */
  readonly addr: string;
  /** The nodes it routes over. */
  readonly members: readonly string[];
  /** What `GET /status.json` answers now. */
  status(): Promise<StatusReport>;
  /** Stops serving and disconnects. */
  stop(): Promise<void>;
}

/**
 * Starts a gateway. Rejects with a one-line error when the address is in use
 * or etcd cannot be reached within `etcd.timeout`.
 *
 * @example Start a gateway and get a key through it
 * ```ts ignore
 * import { startGateway } from "@mccache/core/gateway";
 *
 * const gateway = await startGateway({ addr: "127.0.0.1:9999", peers: ["127.0.0.1:8001"] });
 * const response = await fetch(`http://${gateway.addr}/mccache/scores/Rex`);
 * ```
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? silentLogger;
  const { hostname, port } = parseHostPort(options.addr ?? "127.0.0.1:9999", "gateway address", {
    allowZero: true,
  });
  const stack = new CleanupStack();
  const gateway = await stack.start(async () => {
    const etcd = options.peers ? undefined : await discover(stack, options, logger);
    const members = options.peers ?? etcd!.members;
    const { upstream, metrics } = openUpstream(stack, options, members, etcd?.connected);
    let addr = `${hostname}:${port}`;
    const status = statusCollector(upstream, metrics, options, () => addr);
    stack.defer(() => status.close());
    const handler = createGatewayHandler({ ...options, upstream, metrics, status });
    addr = listen(stack, hostname, port, handler);
    return runningGateway(addr, upstream, status, stack, logger);
  });
  const tls = options.tls !== undefined;
  logger.info("gateway started", { addr: gateway.addr, members: gateway.members.length, tls });
  return gateway;
}

function runningGateway(
  addr: string,
  upstream: GrpcUpstream,
  status: StatusCollector,
  stack: CleanupStack,
  logger: Logger,
): Gateway {
  const stop = once(async () => {
    logger.info("gateway stopping", { addr });
    await stack.close();
  });
  return {
    addr,
    status: () => status.report(),
    get members() {
      return upstream.members;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function discover(
  stack: CleanupStack,
  options: GatewayOptions,
  logger: Logger,
): Promise<{ members: MemberSource; connected: () => boolean }> {
  const listeners = new Set<() => void>();
  const { discovery } = await watchEtcdMembers(stack, {
    ...options.etcd,
    logger,
    seedRing: options.ring?.compat === "seed",
    onChange: () => listeners.forEach((listener) => listener()),
  });
  const members: MemberSource = {
    get members() {
      return discovery.members;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    registrationOf: (member) => discovery.registrationOf(member),
  };
  return { members, connected: () => discovery.connected };
}

// The metrics read the upstream's members and protocols; the upstream counts
// failed drops in the metrics.
function openUpstream(
  stack: CleanupStack,
  options: GatewayOptions,
  members: readonly string[] | MemberSource,
  etcdConnected: (() => boolean) | undefined,
): { upstream: GrpcUpstream; metrics: GatewayMetrics } {
  const metrics = new GatewayMetrics({
    members: () => upstream.members,
    protocolOf: (member: string) => upstream.protocols.of(member),
    etcdConnected,
  });
  const upstream = new GrpcUpstream({
    members,
    ring: options.ring,
    tls: options.tls,
    keepalive: options.keepalive,
    hedgeAfter: options.hedgeAfter,
    onDropFailed: () => metrics.dropFailed(),
  });
  stack.defer(() => upstream.close());
  return { upstream, metrics };
}

// What the status page reads: the upstream's ring, protocols and health,
// and the request totals of the metrics.
function statusCollector(
  upstream: GrpcUpstream,
  metrics: GatewayMetrics,
  options: GatewayOptions,
  addr: () => string,
): StatusCollector {
  const source: StatusSource = {
    get ring() {
      return upstream.ring;
    },
    protocolOf: (member) => upstream.protocols.of(member),
    healthy: (member) =>
      upstream.protocols.connected(member) && !upstream.health.suspect(member) &&
      upstream.protocols.of(member) !== "none",
    stats: (member, timeoutMs) => upstream.stats(member, timeoutMs),
    get: (group, key, options) => upstream.get(group, key, options),
    totals: () => metrics.totals(),
  };
  return new StatusCollector(source, {
    get addr() {
      return addr();
    },
    tls: options.tls !== undefined,
    ring: options.ring?.compat === "seed" ? "seed" : "default",
    timeout: options.timeout,
  });
}

// Returns the address served (the real port when 0 was asked for).
function listen(
  stack: CleanupStack,
  hostname: string,
  port: number,
  handler: (request: Request) => Response | Promise<Response>,
): string {
  const server = serveHttp({ hostname, port }, handler);
  stack.defer(() => server.shutdown());
  return `${server.addr.hostname}:${server.addr.port}`;
}
